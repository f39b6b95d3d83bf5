"""THE access rule table: every API operation (method + path template) -> the roles allowed
and how hub scoping applies. Pure: no I/O. ``authorize`` (dependencies.py) applies it to every
route of the app, so an operation missing here is refused for everyone (and the role-matrix
test fails) instead of being open by accident.

Hub scoping (a principal with ``hubs``) per operation:
- ``none``: not about one hub's parcels or vehicles (hub list, own identity): allowed.
- ``path``: the resource named in the path (parcel_id, vehicle_id, hub_id, mission_id) is
  checked centrally before the handler runs.
- ``handler``: the handler filters or checks itself (lists, creation with a hub in the body).
- ``global``: spans every hub (fleet-wide plans, users, dead letters): refused to scoped
  principals.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ground_control.auth.principal import Principal
from ground_control.auth.roles import Role


class Scope(StrEnum):
    none = "none"
    path = "path"
    handler = "handler"
    global_ = "global"


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    scope: Scope = Scope.global_


A, D, V, I = Role.admin, Role.dispatcher, Role.viewer, Role.integrator
ANY = frozenset(Role)
ADMIN = frozenset({A})
OPERATE = frozenset({A, D})                 # change parcels, plans, operator commands
READ = frozenset({A, D, V})                 # read everything operational
PARCEL_WRITE = frozenset({A, D, I})
PARCEL_READ = frozenset({A, D, V, I})
INTEGRATE = frozenset({A, I})                # webhook subscriptions

#: operations anyone may call, no credential: liveness, API docs, console page, recipient tracking
PUBLIC_OPERATIONS: frozenset[tuple[str, str]] = frozenset({
    ("GET", "/health"),
    ("GET", "/"),                      # the console page (its data calls need a credential)
    ("POST", "/auth/token"),           # the login itself (rate-limited)
    ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"), ("GET", "/openapi.json"),
})
#: path prefixes that are public as a whole (static files; recipient tracking: the page, its
#: status, its live event stream and the drop spot, where the token in the path is the credential)
PUBLIC_PREFIXES: tuple[str, ...] = ("/track/", "/console/static/", "/static-offline-docs/")

RULES: dict[tuple[str, str], Rule] = {
    # --- identity and credentials
    ("GET", "/auth/me"): Rule(ANY, Scope.none),
    ("POST", "/users"): Rule(ADMIN),
    ("GET", "/users"): Rule(ADMIN),
    ("GET", "/users/{user_name}"): Rule(ADMIN),
    ("PATCH", "/users/{user_name}"): Rule(ADMIN),
    ("POST", "/api-keys"): Rule(ADMIN),
    ("GET", "/api-keys"): Rule(ADMIN),
    ("DELETE", "/api-keys/{key_id}"): Rule(ADMIN),
    ("GET", "/audit"): Rule(ADMIN),
    # --- hubs
    ("POST", "/hubs"): Rule(ADMIN),
    ("GET", "/hubs"): Rule(PARCEL_READ, Scope.none),
    ("GET", "/hubs/{hub_id}"): Rule(PARCEL_READ, Scope.path),
    ("PATCH", "/hubs/{hub_id}"): Rule(ADMIN, Scope.path),
    ("DELETE", "/hubs/{hub_id}"): Rule(ADMIN, Scope.path),
    # --- vehicles
    ("POST", "/vehicles"): Rule(ADMIN, Scope.handler),
    ("GET", "/vehicles"): Rule(READ, Scope.handler),
    ("GET", "/vehicles/{vehicle_id}"): Rule(READ, Scope.path),
    ("PATCH", "/vehicles/{vehicle_id}"): Rule(ADMIN, Scope.path),
    ("DELETE", "/vehicles/{vehicle_id}"): Rule(ADMIN, Scope.path),
    ("POST", "/vehicles/{vehicle_id}/declare-lost"): Rule(ADMIN, Scope.path),
    ("GET", "/vehicles/{vehicle_id}/telemetry"): Rule(READ, Scope.path),
    ("GET", "/vehicles/{vehicle_id}/telemetry/history"): Rule(READ, Scope.path),
    ("POST", "/vehicles/{vehicle_id}/commands"): Rule(OPERATE, Scope.path),
    ("GET", "/vehicles/{vehicle_id}/commands"): Rule(READ, Scope.path),
    # the vehicle's broker password (re-issue) and the Ed25519 key its agent signs events with
    # integrations: webhook subscriptions, their deliveries and replays
    ("DELETE", "/webhooks/{subscription_id}"): Rule(INTEGRATE),
    ("GET", "/webhooks"): Rule(INTEGRATE),
    ("GET", "/webhooks/{subscription_id}"): Rule(INTEGRATE),
    ("GET", "/webhooks/{subscription_id}/deliveries"): Rule(INTEGRATE),
    ("GET", "/webhooks/{subscription_id}/deliveries/{delivery_id}"): Rule(INTEGRATE),
    ("PATCH", "/webhooks/{subscription_id}"): Rule(INTEGRATE),
    ("POST", "/webhooks"): Rule(INTEGRATE),
    ("POST", "/webhooks/{subscription_id}/deliveries/{delivery_id}/replay"): Rule(INTEGRATE),
    ("POST", "/webhooks/{subscription_id}/enable"): Rule(INTEGRATE),
    ("POST", "/webhooks/{subscription_id}/replay"): Rule(INTEGRATE),
    ("POST", "/webhooks/{subscription_id}/rotate-secret"): Rule(INTEGRATE),
    # energy and carbon of the day's deliveries
    ("GET", "/reports/footprint"): Rule(READ),
    # the operator console's data: fleet-wide, so not for a hub-limited principal
    ("GET", "/console/config"): Rule(READ),
    ("GET", "/console/feed"): Rule(READ),
    ("GET", "/alerts"): Rule(READ),
    ("GET", "/alerts/{alert_id}"): Rule(READ),
    ("POST", "/alerts/{alert_id}/acknowledge"): Rule(OPERATE),
    ("POST", "/vehicles/{vehicle_id}/broker-credentials"): Rule(ADMIN, Scope.path),
    ("PUT", "/vehicles/{vehicle_id}/public-key"): Rule(ADMIN, Scope.path),
    ("DELETE", "/vehicles/{vehicle_id}/public-key"): Rule(ADMIN, Scope.path),
    ("GET", "/vehicles/{vehicle_id}/public-key"): Rule(READ, Scope.path),
    ("GET", "/telemetry"): Rule(READ),
    ("PUT", "/vehicle-types/{kind}/costs"): Rule(ADMIN),
    ("GET", "/vehicle-types/{kind}/costs"): Rule(READ, Scope.none),
    # --- parcels
    ("POST", "/parcels"): Rule(PARCEL_WRITE, Scope.handler),
    ("POST", "/parcels/import"): Rule(PARCEL_WRITE, Scope.handler),
    ("GET", "/parcels"): Rule(PARCEL_READ, Scope.handler),
    ("GET", "/parcels/{parcel_id}"): Rule(PARCEL_READ, Scope.path),
    ("GET", "/parcels/{parcel_id}/history"): Rule(PARCEL_READ, Scope.path),
    ("GET", "/parcels/{parcel_id}/proof"): Rule(PARCEL_READ, Scope.path),
    ("POST", "/parcels/{parcel_id}/transitions"): Rule(OPERATE, Scope.path),
    ("DELETE", "/parcels/{parcel_id}"): Rule(OPERATE, Scope.path),
    # --- geofences (service area, no-fly zones)
    ("POST", "/geofences"): Rule(ADMIN),
    ("GET", "/geofences"): Rule(READ, Scope.none),
    ("GET", "/geofences/{geofence_id}"): Rule(READ, Scope.none),
    ("PUT", "/geofences/{geofence_id}"): Rule(ADMIN),
    ("DELETE", "/geofences/{geofence_id}"): Rule(ADMIN),
    # --- missions, events, plans
    ("GET", "/missions"): Rule(READ),
    ("GET", "/missions/{mission_id}"): Rule(READ, Scope.path),
    ("GET", "/events"): Rule(READ),
    ("POST", "/plans"): Rule(OPERATE),
    # --- dead letters (raw vehicle messages, replay into ingest)
    ("GET", "/dead-letters"): Rule(ADMIN),
    ("GET", "/dead-letters/{dead_letter_id}"): Rule(ADMIN),
    ("POST", "/dead-letters/{dead_letter_id}/replay"): Rule(ADMIN),
}


def is_public(method: str, path: str) -> bool:
    """``path`` is the route template (or the raw path for prefix matches)."""
    method = "GET" if method == "HEAD" else method
    return (method, path) in PUBLIC_OPERATIONS or path.startswith(PUBLIC_PREFIXES)


@dataclass(frozen=True)
class Decision:
    status: int          # 200 allowed, 401 no/bad credential, 403 not allowed
    reason: str = ""
    rule: Rule | None = None

    @property
    def allowed(self) -> bool:
        return self.status == 200


def decide(principal: Principal | None, method: str, template: str) -> Decision:
    """May ``principal`` (None: anonymous) call this operation at all? Hub checks on the
    resource itself come after, for ``path`` and ``handler`` rules."""
    if is_public(method, template):
        return Decision(200)
    if principal is None:
        return Decision(401, "authentication required: send Authorization: Bearer <access token or API key>")
    rule = RULES.get(("GET" if method == "HEAD" else method, template))
    if rule is None:
        return Decision(403, f"no access rule for {method} {template}; refused for every role")
    if principal.role not in rule.roles:
        allowed = ", ".join(sorted(r.value for r in rule.roles))
        return Decision(403, f"role {principal.role.value} may not {method} {template} (allowed: {allowed})", rule)
    if principal.scoped and rule.scope is Scope.global_:
        return Decision(403, f"{method} {template} spans every hub; a principal limited to hubs "
                             f"{', '.join(principal.hubs or ())} may not call it", rule)
    return Decision(200, rule=rule)
