"""Is a proof of delivery where the parcel was to go? Pure. Ground control does not take the
vehicle's word for the distance (a proof 10 km away claiming ``distance_m: 0`` was accepted):
it measures from the proof's position to the parcel's OWN drop-off, not the ``target`` the
vehicle names."""

from __future__ import annotations

from dataclasses import dataclass

from ground_control.planning.geometry import haversine_m
from ground_control.planning.model import Point


@dataclass(frozen=True, slots=True)
class ProofCheck:
    distance_m: float | None     # measured by ground control (None: the release was not observed)
    refusal: str | None          # why the proof is refused; None = accepted


def check_proof(position: Point, drop_off: Point, tolerance_m: float, claimed_m: float | None = None) -> ProofCheck:
    d = round(haversine_m(position, drop_off), 2)
    if d <= tolerance_m:
        return ProofCheck(d, None)
    claim = f" (the vehicle claimed {claimed_m:g} m)" if claimed_m is not None else ""
    return ProofCheck(d, f"proof_rejected: released {d:.0f} m from the parcel's drop-off, more than the "
                         f"{tolerance_m:g} m tolerated{claim}")
