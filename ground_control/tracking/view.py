"""What the public tracking page may show, and nothing more. Pure: the service hands in rows'
values, this decides and shapes.

Privacy rules (a tracking link is a bearer secret that may be forwarded; it must reveal no more
than the recipient already knows or needs):

* this parcel only: its state timeline (states and times, never the internal reasons, which name
  vehicles, missions and other parcels), its address and target, its drop spot, its proof;
* no recipient name, phone or email (the page is reachable by whoever holds the link);
* the vehicle's position and path only while it carries this parcel toward this recipient: the
  mission has started, the parcel is aboard (in transit) and its stop is the vehicle's next one.
  While the vehicle serves earlier stops its position would reveal other recipients' addresses:
  the page then says only how many stops come first;
* the handover code only while a robot may still hand the parcel over (not once delivered or
  returned), and the page says it is for a robot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from ground_control.planning.model import Point
from ground_control.tracking.eta import EtaEstimate

LABELS = {
    "created": "Order received", "planned": "Scheduled", "dispatched": "Leaving the hub",
    "in_transit": "On its way", "delivered": "Delivered", "delivery_failed": "Delivery attempt failed",
    "returned": "Returned to sender", "lost": "Delayed: we are locating your parcel",
}
#: a robot can still hand the parcel over in these states: the code is worth showing
CODE_STATES = frozenset({"created", "planned", "dispatched", "in_transit", "delivery_failed"})


@dataclass(frozen=True, slots=True)
class VehicleFix:
    position: Point
    heading_deg: float
    at: datetime


@dataclass(frozen=True, slots=True)
class TrackingFacts:
    """Everything the page might show, before the rules decide what it does."""

    parcel_id: str
    state: str
    address: str
    target: Point
    drop_spot: Point | None
    drop_confirmed_at: datetime | None
    timeline: Sequence[tuple[str, datetime]]
    vehicle_kind: str | None = None            # drone | robot, once planned onto a mission
    mission_started: bool = False
    next_stop_is_this: bool = False
    stops_before: int = 0
    vehicle: VehicleFix | None = None
    leg: Sequence[Point] = ()                  # the leg into this stop (previous stop/hub excluded)
    eta: EtaEstimate | None = None
    proof: dict[str, Any] | None = None
    handover_code: str | None = None
    drop_spot_open: bool = False               # the recipient may still choose a drop spot
    drop_spot_radius_m: float = 0.0


def carrying_toward_recipient(f: TrackingFacts) -> bool:
    """The one rule for showing the vehicle: started, parcel aboard, this stop next."""
    return f.mission_started and f.state == "in_transit" and f.next_stop_is_this


def _pt(p: Point | None) -> dict[str, float] | None:
    return None if p is None else {"lat": round(p.lat, 6), "lon": round(p.lon, 6)}


def _proof(proof: dict[str, Any] | None) -> dict[str, Any] | None:
    if not proof:
        return None
    keep = ("delivered_at", "method", "position", "target", "distance_m", "confirmed", "observed",
            "handover_code_verified")
    return {k: proof[k] for k in keep if k in proof}


def public_view(f: TrackingFacts) -> dict[str, Any]:
    show_vehicle = carrying_toward_recipient(f) and f.vehicle is not None
    out: dict[str, Any] = {
        "state": f.state,
        "label": LABELS.get(f.state, f.state),
        "timeline": [{"state": s, "label": LABELS.get(s, s), "at": at.isoformat()} for s, at in f.timeline],
        "address": f.address,
        "target": _pt(f.target),
        "drop_spot": _pt(f.drop_spot),
        "drop_spot_confirmed_at": f.drop_confirmed_at.isoformat() if f.drop_confirmed_at else None,
        "drop_spot_open": f.drop_spot_open and (f.vehicle_kind in (None, "drone")),
        "drop_spot_radius_m": f.drop_spot_radius_m,
        "vehicle_kind": f.vehicle_kind,
        "stops_before": f.stops_before if f.state in ("dispatched", "in_transit") else None,
        "vehicle": None,
        "path": [],
        "eta": f.eta.as_dict() if f.eta is not None and f.state in ("planned", "dispatched", "in_transit") else None,
        "proof": _proof(f.proof) if f.state == "delivered" else None,
        "handover_code": f.handover_code if f.state in CODE_STATES and f.vehicle_kind != "drone" else None,
    }
    if show_vehicle:
        assert f.vehicle is not None
        out["vehicle"] = {**_pt(f.vehicle.position), "heading_deg": round(f.vehicle.heading_deg),  # type: ignore[dict-item]
                          "at": f.vehicle.at.isoformat()}
        out["path"] = [_pt(p) for p in f.leg]
    return out
