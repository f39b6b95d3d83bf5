"""The seeded demo city (pure: API payloads only, no I/O).

Two hubs on either side of a no-fly zone, so drones from the west hub must fly around it to reach
the customers east of it; parcels spread over the operating area, a few too heavy for a drone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import Point, Polygon

CENTER = (52.3700, 4.8900)
AREA = {"lat": (52.3580, 52.3820), "lon": (4.8700, 4.9100)}     # about 2.7 km x 2.7 km
HUBS = {
    "hub-west": (52.3712, 4.8760),
    "hub-east": (52.3668, 4.9040),
}
# A no-fly zone (think hospital helipad) right between the west hub and the city centre.
NO_FLY = [(52.3675, 4.8815), (52.3675, 4.8865), (52.3745, 4.8865), (52.3745, 4.8815)]
CEILING_M = 120.0

DRONE = {"payload_kg": 2.5, "battery_wh": 500.0, "wh_per_km": 12.0, "cruise_speed_mps": 12.0}
ROBOT = {"payload_kg": 25.0, "battery_wh": 900.0, "wh_per_km": 25.0, "cruise_speed_mps": 6.0}


@dataclass
class Scenario:
    hubs: list[dict[str, Any]]
    vehicles: list[dict[str, Any]]
    geofence: dict[str, Any]
    parcels: list[dict[str, Any]]
    homes: dict[str, tuple[float, float]] = field(default_factory=dict)  # vehicle id -> hub position


def _ring(points: list[tuple[float, float]]) -> list[list[float]]:
    """(lat, lon) vertices -> a closed GeoJSON ring of [lon, lat] positions."""
    ring = [[lon, lat] for lat, lon in points]
    return ring + [ring[0]]


def geofence_geojson() -> dict[str, Any]:
    (la0, la1), (lo0, lo1) = AREA["lat"], AREA["lon"]
    inclusion = [(la0, lo0), (la0, lo1), (la1, lo1), (la1, lo0)]
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"role": "inclusion", "ceiling_m": CEILING_M, "name": "operating area"},
             "geometry": {"type": "Polygon", "coordinates": [_ring(inclusion)]}},
            {"type": "Feature", "properties": {"role": "exclusion", "name": "hospital helipad"},
             "geometry": {"type": "Polygon", "coordinates": [_ring(NO_FLY)]}},
        ],
    }


def build(drones: int, robots: int, parcels: int, seed: int = 1) -> Scenario:
    rng = random.Random(seed)
    hub_ids = list(HUBS)
    hubs = [{"id": h, "name": h.replace("-", " ").title(), "lat": lat, "lon": lon} for h, (lat, lon) in HUBS.items()]
    vehicles: list[dict[str, Any]] = []
    homes: dict[str, tuple[float, float]] = {}
    for i in range(drones):
        hub = hub_ids[i % len(hub_ids)]
        vid = f"drone-{i + 1}"
        vehicles.append({"id": vid, "type": "drone", "hub_id": hub, **DRONE})
        homes[vid] = HUBS[hub]
    for i in range(robots):
        hub = hub_ids[i % len(hub_ids)]
        vid = f"robot-{i + 1}"
        vehicles.append({"id": vid, "type": "robot", "hub_id": hub, **ROBOT})
        homes[vid] = HUBS[hub]

    keep_out = Polygon([(lon, lat) for lat, lon in NO_FLY]).buffer(0.0008)  # ~60 m margin
    drone_hubs = sorted({v["hub_id"] for v in vehicles if v["type"] == "drone"})
    robot_hubs = sorted({v["hub_id"] for v in vehicles if v["type"] == "robot"})
    items: list[dict[str, Any]] = []
    (la0, la1), (lo0, lo1) = AREA["lat"], AREA["lon"]
    while len(items) < parcels:
        lat = rng.uniform(la0 + 0.0015, la1 - 0.0015)
        lon = rng.uniform(lo0 + 0.0015, lo1 - 0.0015)
        if keep_out.contains(Point(lon, lat)):
            continue
        n = len(items) + 1
        heavy = bool(robot_hubs) and (n % 7 == 0 or not drone_hubs)
        # origin: the hubs that have a vehicle able to carry it take turns, so both hubs work
        # and drones from the west hub must fly around the zone to reach the centre
        candidates = robot_hubs if heavy else (drone_hubs or robot_hubs or hub_ids)
        hub = candidates[n % len(candidates)]
        items.append({
            "id": f"parcel-{n:03d}",
            "weight_kg": round(rng.uniform(4.0, 9.0) if heavy else rng.uniform(0.2, 2.2), 2),
            "size": "large" if heavy else rng.choice(["small", "medium"]),
            "hub_id": hub,
            "lat": round(lat, 6),
            "lon": round(lon, 6),
            "address": f"{rng.randint(1, 300)} Demo Street",
            "recipient": {"name": f"Customer {n}", "phone": f"+3120{rng.randint(1000000, 9999999)}"},
            "priority": rng.randint(1, 5),
        })
    return Scenario(hubs=hubs, vehicles=vehicles, geofence={"id": "city", "name": "City operating area",
                                                            "geojson": geofence_geojson()},
                    parcels=items, homes=homes)
