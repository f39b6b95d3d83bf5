"""Mission builders for the edge-agent tests (imported by the test modules beside it)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from fleet_protocol import Command, Mission, make_envelope
from fleet_protocol.signing import generate_key, public_pem, sign_envelope

HOME = (52.37, 4.89)
#: the tests' ground-control key: every agent in these tests pins it (edge_harness.RunningAgent)
GC_KEY = generate_key()
GC_PUBLIC = public_pem(GC_KEY)
TTL_S = 600.0


def offset(lat: float, lon: float, north_m: float, east_m: float) -> dict:
    dlat = north_m / 111_195.0
    dlon = east_m / (111_195.0 * math.cos(math.radians(lat)))
    return {"lat": round(lat + dlat, 7), "lon": round(lon + dlon, 7)}


def square(lat: float, lon: float, half_m: float, cn: float = 0.0, ce: float = 0.0) -> dict:
    return {"vertices": [
        offset(lat, lon, cn - half_m, ce - half_m), offset(lat, lon, cn - half_m, ce + half_m),
        offset(lat, lon, cn + half_m, ce + half_m), offset(lat, lon, cn + half_m, ce - half_m),
    ]}


def mission_dict(vehicle_id: str, kind: str = "drone", *, mission_id: str = "m1", home=HOME,
                 stops_m=((120, 0), (120, 100)), exclusions=(), **extra) -> dict:
    lat, lon = home
    action = "release" if kind == "drone" else "handover"
    d = {
        "mission_id": mission_id,
        "vehicle_id": vehicle_id,
        "vehicle_type": kind,
        "hub": {"hub_id": "hub1", "position": {"lat": lat, "lon": lon}},
        "stops": [
            {"parcel_id": f"p{i + 1}", "drop_off": offset(lat, lon, n, e), "action": action, "weight_kg": 0.5}
            for i, (n, e) in enumerate(stops_m)
        ],
        "geofence": {"inclusion": square(lat, lon, 1000), "exclusions": list(exclusions), "ceiling_m": 120},
        "cruise_alt_m": 30.0,
        "drop_alt_m": 5.0,
        "cruise_speed_mps": 10.0,
    }
    d.update(extra)
    return d


def make_mission(vehicle_id: str = "v1", kind: str = "drone", **kw) -> Mission:
    return Mission.model_validate(mission_dict(vehicle_id, kind, **kw))


def mission_payload(vehicle_id: str, kind: str = "drone", **kw) -> bytes:
    """A mission signed by :data:`GC_KEY`, valid for :data:`TTL_S`."""
    return sign_envelope(make_envelope("mission", vehicle_id, make_mission(vehicle_id, kind, **kw)), GC_KEY, ttl_s=TTL_S)


def command_payload(vehicle_id: str, action: str, command_id: str = "c1", **kw) -> bytes:
    """A command signed by :data:`GC_KEY`, valid for :data:`TTL_S`."""
    return sign_envelope(make_envelope("command", vehicle_id, Command(command_id=command_id, action=action, **kw)),
                         GC_KEY, ttl_s=TTL_S)


def future(seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()
