"""Why a parcel in ``created`` is not on a mission yet, in words an operator can act on. Pure.

A reason is ``code: detail``; the code (first word) is what the API filters on. The fleet's
reasons come first (nothing the planner could do about them), then the planner's own
(``UnplannedReason``: too_heavy, outside_area, out_of_range, time_window, no_vehicle,
not_selected).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ground_control.domain.exclusions import Exclusion, describe


@dataclass(frozen=True, slots=True)
class FleetVehicle:
    vehicle_id: str
    hub_id: str
    enabled: bool
    online: bool
    busy: bool          # on an active mission


def code_of(reason: str) -> str:
    return reason.split(":", 1)[0]


def fleet_reason(hub_id: str, hub_known: bool, fleet: Iterable[FleetVehicle],
                 exclusions: Iterable[Exclusion]) -> str | None:
    """Why no vehicle of the parcel's hub can be offered this parcel now; None when one can
    (then only the planner can tell)."""
    if not hub_known:
        return f"no_hub: hub {hub_id} does not exist"
    mine = [v for v in fleet if v.hub_id == hub_id]
    if not mine:
        return f"no_vehicle: hub {hub_id} has no vehicle"
    enabled = [v for v in mine if v.enabled]
    if not enabled:
        return f"no_vehicle: every vehicle of hub {hub_id} is disabled ({len(mine)})"
    online = [v for v in enabled if v.online]
    if not online:
        return f"no_vehicle: no enabled vehicle of hub {hub_id} is online ({len(enabled)} offline)"
    refused = {e["vehicle_id"]: e for e in exclusions}
    willing = [v for v in online if v.vehicle_id not in refused]
    if not willing:
        return "excluded: every online vehicle of hub {} refused it: {}".format(
            hub_id, "; ".join(describe(refused[v.vehicle_id]) for v in online))
    if all(v.busy for v in willing):
        return f"busy: every vehicle of hub {hub_id} that may take it is on a mission ({len(willing)})"
    return None


def planner_reason(code: str) -> str:
    """The planner's ``UnplannedReason`` value, worded."""
    words = {
        "too_heavy": "heavier than the payload of every vehicle that may take it",
        "outside_area": "outside the hub's geofence or inside a no-fly zone",
        "out_of_range": "no vehicle that may take it can reach it and come back on its battery",
        "time_window": "no vehicle can arrive inside its time window",
        "no_vehicle": "no vehicle of its hub is available",
        "not_selected": "feasible, left for a later mission (vehicles full)",
    }
    return f"{code}: {words.get(code, code)}"
