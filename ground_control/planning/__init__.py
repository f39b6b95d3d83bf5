"""Route planning: pure (no I/O). Model in ``model``, geometry in ``geometry``/``visibility``,
solvers in ``greedy`` and ``solver``."""

from ground_control.planning.model import (  # noqa: F401
    GeofenceSpec, HubSpec, Leg, ParcelSpec, Plan, PlannedStop, PlanRequest, Point, Route,
    RoutePlanner, StreetNetwork, TimeWindow, UnplannedReason, VehicleKind, VehicleSpec,
)
