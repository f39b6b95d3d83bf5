"""The live progress view of ``fleet demo`` (rich): parcels by state and each vehicle's state."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from ground_control.demo.runner import STATES, Snapshot

STATE_STYLE = {"created": "white", "planned": "cyan", "dispatched": "blue", "in_transit": "yellow",
               "delivery_failed": "red", "delivered": "green", "returned": "magenta", "lost": "bright_red"}


def render(s: Snapshot) -> Panel:
    parcels = Table(title="Parcels", expand=True)
    for state in STATES:
        parcels.add_column(state, justify="right", style=STATE_STYLE[state])
    parcels.add_row(*(str(s.by_state.get(state, 0)) for state in STATES))

    vehicles = Table(title="Vehicles", expand=True)
    for col in ("vehicle", "type", "online", "mode", "armed", "battery %", "alt m", "agent state", "mission"):
        vehicles.add_column(col)
    for v in s.vehicles:
        t = v.get("telemetry") or {}
        vehicles.add_row(
            v["id"], v["type"], "yes" if v.get("online") else "no", str(t.get("mode", "-")),
            "yes" if t.get("armed") else "no", f"{t['battery_pct']:.0f}" if "battery_pct" in t else "-",
            f"{t['alt_m']:.0f}" if t.get("alt_m") is not None else "-", str(t.get("agent_state", "-")),
            str(v.get("active_mission_id") or "-"),
        )
    title = f"lastmile-fleet demo  {s.elapsed_s:5.1f} s   API {s.api_url}/docs   broker: {s.broker}"
    return Panel(Group(parcels, vehicles), title=title)
