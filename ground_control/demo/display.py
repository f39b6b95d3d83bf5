"""The live progress view of ``fleet demo`` (rich): parcels by state, what each vehicle is doing
in words for its kind, and the parcels waiting to be planned with the planner's reason."""

from __future__ import annotations

from collections import Counter

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from ground_control.demo.runner import STATES, Snapshot

STATE_STYLE = {"created": "white", "planned": "cyan", "dispatched": "blue", "in_transit": "yellow",
               "delivery_failed": "red", "delivered": "green", "returned": "magenta", "lost": "bright_red"}
#: waiting parcels listed one by one up to this many, then only counted by reason
MAX_WAITING_ROWS = 8


def render(s: Snapshot) -> Panel:
    parcels = Table(title="Parcels", expand=True)
    for state in STATES:
        parcels.add_column(state, justify="right", style=STATE_STYLE[state])
    parcels.add_row(*(str(s.by_state.get(state, 0)) for state in STATES))

    vehicles = Table(title="Vehicles", expand=True)
    for col in ("vehicle", "type", "online", "doing", "battery %", "alt m", "autopilot", "mission"):
        vehicles.add_column(col)
    for v in s.vehicles:
        t = v.get("telemetry") or {}
        on_mission = bool(v.get("active_mission_id"))
        # the autopilot's mode means something only during a mission (a landed drone stays AUTO)
        autopilot = f"{t.get('mode', '-')} {'armed' if t.get('armed') else 'disarmed'}" if on_mission and t else "-"
        vehicles.add_row(
            v["id"], v["type"], "yes" if v.get("online") else "no", str(v.get("activity", "-")),
            f"{t['battery_pct']:.0f}" if "battery_pct" in t else "-",
            f"{t['alt_m']:.0f}" if t.get("alt_m") is not None and v["type"] == "drone" else "-",
            autopilot, str(v.get("active_mission_id") or "-"),
        )
    parts: list[Table] = [parcels, vehicles]
    if s.waiting:
        waiting = Table(title=f"Waiting to be planned: {len(s.waiting)}", expand=True)
        waiting.add_column("parcel")
        waiting.add_column("reason")
        if len(s.waiting) <= MAX_WAITING_ROWS:
            for pid, reason in sorted(s.waiting.items()):
                waiting.add_row(pid, reason)
        else:
            for reason, n in Counter(s.waiting.values()).most_common():
                waiting.add_row(f"{n} parcels", reason)
        parts.append(waiting)
    end = "  (finished)" if s.final else ""
    login = f"   log in: {s.login}" if s.login else ""
    title = f"lastmile-fleet demo  {s.elapsed_s:5.1f} s{end}   console {s.api_url}/{login}   API {s.api_url}/docs   broker: {s.broker}"
    return Panel(Group(*parts), title=title)
