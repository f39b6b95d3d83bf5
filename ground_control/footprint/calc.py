"""The footprint arithmetic (pure; the formulas are in docs/footprint.md).

    mission energy (telemetry) = (battery % at start - % at end) / 100 x pack Wh
    mission energy (model)     = planned distance km x vehicle Wh/km
    parcel share               = its hub->drop-off distance / sum over the delivered parcels
    grid energy                = parcel battery energy / charge efficiency
    CO2e                       = grid kWh x grid g CO2e/kWh
    van baseline               = parcel km (its share of the mission distance) x van g CO2e/km
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Source = Literal["telemetry", "model"]
EARTH_M = 6_371_000.0


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (lat1, lon1, lat2, lon2))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * EARTH_M * math.asin(math.sqrt(min(1.0, h)))


def telemetry_energy_wh(start_pct: float, end_pct: float, battery_wh: float) -> float | None:
    """Energy the battery gave over the mission; None when the readings show none (no drop,
    or a battery swapped or charged mid-way), so the caller falls back to the model."""
    used = start_pct - end_pct
    if start_pct <= 0 or used <= 0 or battery_wh <= 0:
        return None
    return used / 100.0 * battery_wh


def model_energy_wh(distance_m: float, wh_per_km: float) -> float:
    return max(0.0, distance_m) / 1000.0 * max(0.0, wh_per_km)


def mission_energy(start_pct: float | None, end_pct: float | None, battery_wh: float,
                   distance_m: float, wh_per_km: float) -> tuple[float, Source]:
    """Telemetry when both readings exist and show a drop, else the model."""
    if start_pct is not None and end_pct is not None:
        wh = telemetry_energy_wh(start_pct, end_pct, battery_wh)
        if wh is not None:
            return wh, "telemetry"
    return model_energy_wh(distance_m, wh_per_km), "model"


def shares(direct_m: dict[str, float]) -> dict[str, float]:
    """Each parcel's share by its hub->drop-off distance; equal shares when all are zero."""
    total = sum(max(0.0, d) for d in direct_m.values())
    if total <= 0:
        return {k: 1.0 / len(direct_m) for k in direct_m} if direct_m else {}
    return {k: max(0.0, d) / total for k, d in direct_m.items()}


@dataclass(frozen=True, slots=True)
class Factors:
    grid_gco2_per_kwh: float
    van_gco2_per_km: float
    charge_efficiency: float


def parcel_footprint(mission_wh: float, source: Source, share: float, mission_distance_m: float,
                     f: Factors) -> dict[str, float | str]:
    """The record stored on the parcel (``footprint``)."""
    energy_wh = mission_wh * share
    grid_kwh = energy_wh / f.charge_efficiency / 1000.0
    co2e_g = grid_kwh * f.grid_gco2_per_kwh
    km = mission_distance_m * share / 1000.0
    van_g = km * f.van_gco2_per_km
    return {
        "energy_wh": round(energy_wh, 3), "energy_source": source, "share": round(share, 6),
        "grid_kwh": round(grid_kwh, 6), "co2e_g": round(co2e_g, 3), "distance_km": round(km, 4),
        "van_co2e_g": round(van_g, 3), "saved_co2e_g": round(van_g - co2e_g, 3),
        "grid_gco2_per_kwh": f.grid_gco2_per_kwh, "van_gco2_per_km": f.van_gco2_per_km,
        "charge_efficiency": f.charge_efficiency,
    }
