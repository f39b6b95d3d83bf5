"""Route planning: pure (no I/O). Model in ``model``; geometry in ``geometry``, ``visibility``
(drones) and ``streets`` (robots); travel costs in ``costs``; planners in ``greedy`` and
``solver``; re-planning in ``replan``. Dispatch should only need :func:`make_planner`."""

from ground_control.planning.model import (  # noqa: F401
    GeofenceSpec, HubSpec, Leg, ParcelSpec, Plan, PlannedStop, PlanRequest, Point, Route,
    RoutePlanner, StreetNetwork, TimeWindow, UnplannedReason, VehicleKind, VehicleSpec,
)


def make_planner(kind: str = "pyvrp", **opts) -> RoutePlanner:
    """A planner by name: ``"pyvrp"`` (optimising, the default) or ``"greedy"`` (fast baseline).
    ``opts`` go to the planner's constructor."""
    if kind == "greedy":
        from ground_control.planning.greedy import GreedyPlanner
        return GreedyPlanner(**opts)
    if kind == "pyvrp":
        from ground_control.planning.solver import PyVRPPlanner
        return PyVRPPlanner(**opts)
    raise ValueError(f"unknown planner kind {kind!r} (expected 'pyvrp' or 'greedy')")
