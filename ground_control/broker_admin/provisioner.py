"""What the API calls when a vehicle is registered, disabled, enabled, deleted or re-issued.

``FLEET_BROKER_ADMIN=none`` (the default): the broker's accounts are not ours to manage (the
embedded broker, an anonymous development Mosquitto, or a static password file and ACL), and
every call says so. ``dynsec``: each vehicle gets a dynamic-security client (username = vehicle
id, a random password shown once) holding its own role (``acl.vehicle_acls``)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from ground_control.broker_admin import acl
from ground_control.broker_admin.dynsec import AdminConnection, BrokerAdminError, raise_unless, run_commands

log = logging.getLogger(__name__)

Status = Literal["issued", "not_managed", "failed"]
NOT_MANAGED = ("broker accounts are not managed by ground control (FLEET_BROKER_ADMIN=none): the vehicle "
               "connects with whatever the broker itself accepts")
_EXISTS, _MISSING = ("already exists",), ("not found",)


class NotAVehicleAccount(BrokerAdminError):
    """The vehicle's id is the username of a non-vehicle broker account."""


def vehicle_textname(vehicle_id: str) -> str:
    """Marks a broker client as a vehicle's (the only kind this module may change)."""
    return f"vehicle {vehicle_id}"


@dataclass(frozen=True)
class Issued:
    """A broker credential in clear: returned to the caller once, never stored by ground control."""
    username: str
    password: str


def new_password() -> str:
    return secrets.token_urlsafe(24)   # 192 bits


class NoBrokerAdmin:
    """Mode ``none``: nothing to provision or revoke."""
    managed = False

    async def issue(self, vehicle_id: str) -> Issued | None:
        return None

    async def disable(self, vehicle_id: str) -> None:
        return None

    async def enable(self, vehicle_id: str) -> None:
        return None

    async def delete(self, vehicle_id: str) -> None:
        return None

    async def ensure_ground_control(self, username: str, password: str) -> None:
        return None


class DynsecBrokerAdmin:
    """Mode ``dynsec``. Every call is idempotent, so a failed one is simply repeated."""
    managed = True

    def __init__(self, conn: AdminConnection) -> None:
        self.conn = conn

    async def _vehicle_account(self, vehicle_id: str) -> dict[str, Any] | None:
        """The broker's client named ``vehicle_id``; ``None`` if there is none. Raises
        :class:`NotAVehicleAccount` if that name belongs to another kind of account (ground
        control, the admin, the healthcheck): a vehicle called ``ground-control`` must never
        rotate, disable or delete ground control's login."""
        [found] = await run_commands(self.conn, [{"command": "getClient", "username": vehicle_id}])
        raise_unless([found], _MISSING)
        client = None if found.get("error") else (found.get("data") or {}).get("client")
        if client is not None and client.get("textname") != vehicle_textname(vehicle_id):
            raise NotAVehicleAccount(f"the broker account {vehicle_id!r} exists and is not a vehicle's "
                                     "(ground control, admin or healthcheck): give the vehicle another id")
        return client

    async def issue(self, vehicle_id: str) -> Issued:
        """Create (or re-create) the vehicle's role and client with a fresh password; on an
        existing client this rotates the password, re-attaches the role and re-enables it."""
        role, password = acl.vehicle_role(vehicle_id), new_password()
        existing = await self._vehicle_account(vehicle_id)
        if existing is None:
            account = {"command": "createClient", "username": vehicle_id, "password": password,
                       "textname": vehicle_textname(vehicle_id), "roles": [{"rolename": role}]}
        else:   # rotate its password, restore its role
            account = {"command": "modifyClient", "username": vehicle_id, "password": password,
                       "roles": [{"rolename": role}]}
        # one request: the plugin runs its commands in order
        done = await run_commands(self.conn, [
            {"command": "createRole", "rolename": role, "acls": acl.vehicle_acls(vehicle_id)},
            account, *_reconnect(vehicle_id)])
        raise_unless(done[:1], _EXISTS)   # the role may be there from before
        raise_unless(done[1:])
        log.info("broker credential issued for vehicle %s", vehicle_id)
        return Issued(vehicle_id, password)

    async def disable(self, vehicle_id: str) -> None:
        """The broker refuses its password logins and disconnects it now. Its role is detached
        too: a client certificate logs in without the password check (``use_identity_as_username``),
        and without a role such a login may publish, subscribe and receive nothing. The password
        survives for :meth:`enable`."""
        if await self._vehicle_account_or_none(vehicle_id) is None:
            return
        raise_unless(await run_commands(self.conn, [
            {"command": "modifyClient", "username": vehicle_id, "roles": []},
            {"command": "disableClient", "username": vehicle_id},
        ]), _MISSING)

    async def enable(self, vehicle_id: str) -> None:
        """Undo :meth:`disable`. A vehicle that is enabled already is left alone (its agent
        stays connected), so a repeated request is harmless."""
        current = await self._vehicle_account_or_none(vehicle_id)
        if current is None:
            return   # never provisioned (FLEET_BROKER_ADMIN was none, or its issue failed)
        role = acl.vehicle_role(vehicle_id)
        if not current.get("disabled") and role in {r.get("rolename") for r in current.get("roles", [])}:
            return
        raise_unless(await run_commands(self.conn, [
            {"command": "modifyClient", "username": vehicle_id, "roles": [{"rolename": role}]},
            *_reconnect(vehicle_id),
        ]), _MISSING)

    async def delete(self, vehicle_id: str) -> None:
        """Client and role gone (the broker disconnects a connected client at once)."""
        if await self._vehicle_account_or_none(vehicle_id) is None:
            return
        raise_unless(await run_commands(self.conn, [
            {"command": "deleteClient", "username": vehicle_id},
            {"command": "deleteRole", "rolename": acl.vehicle_role(vehicle_id)},
        ]), _MISSING)

    async def _vehicle_account_or_none(self, vehicle_id: str) -> dict[str, Any] | None:
        """For revocation: an account of another kind under the vehicle's name is not the
        vehicle's to revoke (it never had one), so it is left alone."""
        try:
            return await self._vehicle_account(vehicle_id)
        except NotAVehicleAccount:
            log.warning("vehicle %s: the broker account of that name is not a vehicle's; left alone", vehicle_id)
            return None

    async def ensure_ground_control(self, username: str, password: str) -> None:
        """Ground control's own account and role exist with the configured password, and clients
        receive nothing their role does not grant (run at start, so a fresh broker needs nothing
        but its admin account)."""
        role = acl.GROUND_CONTROL_ROLE
        created = await run_commands(self.conn, [
            {"command": "setDefaultACLAccess", "acls": acl.DEFAULT_ACCESS},
            {"command": "createRole", "rolename": role, "acls": acl.ground_control_acls()},
            {"command": "createClient", "username": username, "password": password,
             "textname": "ground control", "roles": [{"rolename": role}]},
        ])
        raise_unless(created, _EXISTS)
        if created[2].get("error"):
            raise_unless(await run_commands(self.conn, [
                {"command": "modifyClient", "username": username, "password": password, "roles": [{"rolename": role}]},
            ]))


def _reconnect(username: str) -> list[dict[str, str]]:
    """Disable then enable: the broker disconnects whoever is logged in as ``username`` (on the
    old password, or on a certificate with the rights it had), so it logs in again and
    subscribes with its current role."""
    return [{"command": "disableClient", "username": username}, {"command": "enableClient", "username": username}]


BrokerAdmin = NoBrokerAdmin | DynsecBrokerAdmin

__all__ = ["BrokerAdmin", "BrokerAdminError", "DynsecBrokerAdmin", "Issued", "NOT_MANAGED", "NoBrokerAdmin",
           "NotAVehicleAccount", "Status"]
