"""Per-vehicle broker credentials (``ground_control.broker_admin``) as the API exposes them.

``POST /vehicles/{id}/broker-credentials`` is meant for **admin** only: it issues a new broker
password (the old one stops working at once) and shows it this one time. The helpers below are
what the vehicle endpoints call on register (admin), disable/enable/delete (admin) and
declare-lost (dispatcher).

Failure policy: the database stays the truth about vehicles, and a broker that cannot be reached
never loses one. Registration still answers 201, with ``broker_credentials.status = "failed"``
and the reason; the admin repeats ``POST .../broker-credentials`` once the broker is back.
Disable, enable and declare-lost keep their database change and answer 502 saying the broker
still holds the old state (repeat the call); delete answers 502 and deletes nothing, so a
vehicle is never forgotten while its credential still works."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from ground_control.api.deps import PathId, Session
from ground_control.broker_admin.dynsec import BrokerAdminError
from ground_control.broker_admin.provisioner import NOT_MANAGED, BrokerAdmin
from ground_control.db.models import Vehicle
from ground_control.db.repositories import Conflict, get_or_404

log = logging.getLogger(__name__)
router = APIRouter(prefix="/vehicles", tags=["vehicles"])


class BrokerCredentialsOut(BaseModel):
    """The vehicle's broker login. ``password`` is shown only in the answer that issued it."""
    status: Literal["issued", "not_managed", "failed"]
    username: str | None = None
    password: str | None = None
    reason: str | None = None


class BrokerNotUpdated(BrokerAdminError):
    """The database change stands, the broker's does not (502 with what to repeat)."""


def broker_admin(request: Request) -> BrokerAdmin:
    return request.app.state.broker_admin


async def issue_or_report(request: Request, vehicle_id: str) -> BrokerCredentialsOut:
    """Issue the vehicle's credential; a broker failure is reported in the answer, not raised."""
    admin = broker_admin(request)
    if not admin.managed:
        return BrokerCredentialsOut(status="not_managed", reason=NOT_MANAGED)
    try:
        issued = await admin.issue(vehicle_id)
    except BrokerAdminError as exc:
        log.error("broker credential for vehicle %s not issued: %s", vehicle_id, exc)
        return BrokerCredentialsOut(status="failed", reason=(
            f"{exc}; the vehicle is registered without a broker credential: issue one with "
            f"POST /vehicles/{vehicle_id}/broker-credentials"))
    return BrokerCredentialsOut(status="issued", username=issued.username, password=issued.password)


async def apply_enabled(request: Request, vehicle_id: str, enabled: bool) -> None:
    """After the database says enabled/disabled: make the broker agree, or raise 502."""
    admin = broker_admin(request)
    try:
        await (admin.enable(vehicle_id) if enabled else admin.disable(vehicle_id))
    except BrokerAdminError as exc:
        state = "enabled" if enabled else "disabled"
        still = "still refuses" if enabled else "still accepts"
        raise BrokerNotUpdated(f"vehicle {vehicle_id!r} is {state} in ground control, but the broker {still} its "
                               f"credential ({exc}); repeat the request") from exc


async def revoke_for_delete(request: Request, vehicle_id: str) -> None:
    """Before the vehicle's row goes: delete its broker client and role, or raise 502."""
    try:
        await broker_admin(request).delete(vehicle_id)
    except BrokerAdminError as exc:
        raise BrokerNotUpdated(f"vehicle {vehicle_id!r} not deleted: its broker credential could not be "
                               f"revoked ({exc}); repeat the request") from exc


@router.post("/{vehicle_id}/broker-credentials", response_model=BrokerCredentialsOut,
             responses={404: {"description": "unknown vehicle"},
                        409: {"description": "broker accounts not managed here, or the vehicle is disabled"},
                        502: {"description": "the broker could not be updated; nothing changed"}})
async def reissue_broker_credentials(vehicle_id: PathId, session: Session, request: Request) -> BrokerCredentialsOut:
    """A new broker password for the vehicle (the old one stops working and a connected agent
    is disconnected); also provisions a vehicle whose registration could not reach the broker."""
    v = await get_or_404(session, Vehicle, vehicle_id, "vehicle")
    admin = broker_admin(request)
    if not admin.managed:
        raise Conflict(NOT_MANAGED)
    if not v.enabled:
        raise Conflict(f"vehicle {vehicle_id!r} is disabled: enable it (PATCH enabled=true) before issuing a credential")
    try:
        issued = await admin.issue(vehicle_id)
    except BrokerAdminError as exc:
        raise BrokerNotUpdated(f"no credential issued for vehicle {vehicle_id!r}: {exc}") from exc
    return BrokerCredentialsOut(status="issued", username=issued.username, password=issued.password)
