"""MAVLink 2 vehicle simulator that behaves like ArduPilot SITL on the wire (copter and rover).

``SimFleet`` runs many vehicles in one background event loop, each on TCP port
base_port + 10 * instance like ArduPilot SITL. See docs/sitl.md.
"""

from __future__ import annotations

from .modes import CopterMode, RoverMode, VehicleKind

__all__ = ["SimFleet", "SimVehicle", "VehicleKind", "CopterMode", "RoverMode"]


def __getattr__(name: str):
    # fleet imports pymavlink; keep the pure model importable without it
    if name in ("SimFleet", "SimVehicle"):
        from . import fleet

        return getattr(fleet, name)
    raise AttributeError(name)
