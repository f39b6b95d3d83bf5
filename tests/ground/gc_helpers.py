"""Shared test data for ground-control tests."""

from __future__ import annotations

HUB = {"id": "hub-1", "name": "Central", "lat": 52.52, "lon": 13.405}
VEHICLE = {"id": "drone-1", "type": "drone", "hub_id": "hub-1", "payload_kg": 2.5, "battery_wh": 500,
           "wh_per_km": 20, "cruise_speed_mps": 12}


def parcel(pid: str = "p-1", **kw: object) -> dict:
    body = {"id": pid, "weight_kg": 1.2, "size": "small", "hub_id": "hub-1", "lat": 52.53, "lon": 13.41,
            "address": "Torstr. 1", "recipient": {"name": "Ada", "phone": "+49 30 123456"}, "priority": 3}
    body.update(kw)
    return body
