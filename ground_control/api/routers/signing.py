"""Vehicles' public keys over HTTP (the signed proofs of delivery are served by
``GET /parcels/{id}/proof``, in the parcels router).

Roles (for the auth layer that wraps every router at merge):

* ``PUT /vehicles/{id}/public-key``, ``DELETE /vehicles/{id}/public-key``: admin (a key decides
  whose events are believed);
* ``GET /vehicles/{id}/public-key``: viewer.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from fleet_protocol.signing import KeyFormatError, key_id, load_public, public_pem
from ground_control.api.deps import PathId, Session
from ground_control.api.schemas import _In
from ground_control.db.models import Vehicle
from ground_control.db.repositories import Invalid, NotFound, get_or_404

router = APIRouter(tags=["signing"])
ERR = {404: {"description": "unknown vehicle, or no key registered"}, 422: {"description": "invalid key"}}


class PublicKeyIn(_In):
    public_key: str = Field(min_length=40, max_length=1_000,
                            description="Ed25519 public key: PEM ('fleet agent --show-public-key') or base64 of 32 bytes")


class PublicKeyOut(BaseModel):
    vehicle_id: str
    key_id: str
    public_key: str


@router.put("/vehicles/{vehicle_id}/public-key", response_model=PublicKeyOut, responses=ERR)
async def put_public_key(vehicle_id: PathId, body: PublicKeyIn, session: Session) -> PublicKeyOut:
    """Register (or replace) the key the vehicle's agent signs its events with. From then on
    its events must carry a valid signature by this key."""
    v = await get_or_404(session, Vehicle, vehicle_id, "vehicle")
    try:
        key = load_public(body.public_key)
    except KeyFormatError as exc:
        raise Invalid(str(exc)) from None
    v.public_key, v.public_key_id = public_pem(key), key_id(key)
    await session.commit()
    return PublicKeyOut(vehicle_id=v.id, key_id=v.public_key_id, public_key=v.public_key)


@router.get("/vehicles/{vehicle_id}/public-key", response_model=PublicKeyOut, responses=ERR)
async def get_public_key(vehicle_id: PathId, session: Session) -> PublicKeyOut:
    v = await get_or_404(session, Vehicle, vehicle_id, "vehicle")
    if v.public_key is None or v.public_key_id is None:
        raise NotFound(f"vehicle {vehicle_id!r} has no registered public key")
    return PublicKeyOut(vehicle_id=v.id, key_id=v.public_key_id, public_key=v.public_key)


@router.delete("/vehicles/{vehicle_id}/public-key", status_code=204, responses=ERR)
async def delete_public_key(vehicle_id: PathId, session: Session) -> Response:
    """Forget the key: the vehicle's events are then taken unsigned (unless
    FLEET_REQUIRE_SIGNED_EVENTS), so this is for replacing a lost agent, not routine."""
    v = await get_or_404(session, Vehicle, vehicle_id, "vehicle")
    v.public_key = v.public_key_id = None
    await session.commit()
    return Response(status_code=204)
