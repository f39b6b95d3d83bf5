"""The I/O edge of tracking: loads the rows, asks the pure modules (``eta``, ``view``,
``drop_spot``) and writes what the recipient changed.

Contract for other modules (webhooks): :func:`current_eta` ``(session, parcel_id) ->
EtaEstimate | None``, computed on read from the latest telemetry and mission progress."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.api.handover import handover_secret
from ground_control.db.models import Event, Geofence, Mission, Parcel, ParcelHistory, TelemetryLatest, Vehicle, utcnow
from ground_control.dispatch.mission_builder import fence_for
from ground_control.domain.handover_code import shown_code
from ground_control.planning.model import Point
from ground_control.settings import Settings
from ground_control.tracking import token as tk
from ground_control.tracking.drop_spot import OPEN_STATES, check_drop_spot
from ground_control.tracking.eta import EtaEstimate, EtaInput, MissionStop, ServiceTimes, estimate
from ground_control.tracking.handover_wait import blended, waits
from ground_control.tracking.speed import SPEEDS
from ground_control.tracking.view import TrackingFacts, VehicleFix, public_view

ACTIVE = ("sent", "accepted", "started")
ABOARD = ("planned", "dispatched", "in_transit")

__all__ = ["EtaEstimate", "current_eta", "find_by_token", "issue_tracking", "tracking_url_of", "public_status",
           "set_drop_spot"]


async def issue_tracking(settings: Settings, session: AsyncSession, rows: list[Parcel]) -> None:
    """Give each new parcel its tracking nonce and token hash (the token itself is derived)."""
    secret = await handover_secret(settings, session)
    for p in rows:
        t = tk.issue(secret)
        p.tracking_nonce, p.tracking_hash = t.nonce, t.hash


async def tracking_url_of(settings: Settings, session: AsyncSession, p: Parcel) -> str | None:
    if p.tracking_nonce is None:
        return None     # created before tracking existed
    secret = await handover_secret(settings, session)
    return tk.tracking_url(settings.public_base_url, tk.derive_token(secret, p.tracking_nonce))


async def find_by_token(session: AsyncSession, token: str) -> Parcel | None:
    """The parcel of ``token``: any string is hashed and looked up the same way, so malformed
    and unknown tokens cost the same and answer the same."""
    h = tk.token_hash(token[:200])
    return (await session.scalars(select(Parcel).where(Parcel.tracking_hash == h))).one_or_none()


def _stops(payload: dict[str, Any]) -> tuple[MissionStop, ...]:
    return tuple(
        MissionStop(parcel_id=s["parcel_id"], position=Point(s["drop_off"]["lat"], s["drop_off"]["lon"]),
                    path=tuple(Point(w["lat"], w["lon"]) for w in s.get("path") or ()))
        for s in payload.get("stops") or ())


#: per database: (computed at, ServiceTimes for robots); recomputed at most every WAIT_TTL_S
_robot_service: dict[str, tuple[float, ServiceTimes]] = {}
WAIT_TTL_S = 10.0
RECENT_EVENTS = 400


async def robot_service(session: AsyncSession) -> ServiceTimes:
    """Service times for robots with the handover wait learnt from the fleet's recent handovers
    (``handover_wait``), cached briefly: every status poll needs it."""
    key = str(getattr(session.bind, "url", ""))
    now = time.monotonic()
    hit = _robot_service.get(key)
    if hit is not None and now - hit[0] < WAIT_TTL_S:
        return hit[1]
    robots = select(Vehicle.id).where(Vehicle.type == "robot")
    rows = (await session.execute(
        select(Event.kind, Event.mission_id, Event.parcel_id, Event.ts)
        .where(Event.kind.in_(("leg_reached", "delivered")), Event.vehicle_id.in_(robots))
        .order_by(Event.received_at.desc()).limit(RECENT_EVENTS))).all()
    base = ServiceTimes()
    fig = blended(waits(rows), base.handover_wait_s, base.handover_sd_s)
    svc = ServiceTimes(handover_wait_s=fig.mean_s, handover_sd_s=fig.sd_s)
    _robot_service[key] = (now, svc)
    return svc


async def _progress(session: AsyncSession, p: Parcel) -> tuple[Mission, EtaInput, TelemetryLatest | None] | None:
    if p.state not in ABOARD or p.mission_id is None:
        return None
    m = await session.get(Mission, p.mission_id)
    if m is None or m.state not in ACTIVE or not m.payload:
        return None
    payload = m.payload
    stops = _stops(payload)
    ids = [s.parcel_id for s in stops]
    rows = (await session.execute(select(Parcel.id, Parcel.state, Parcel.mission_id)
                                  .where(Parcel.id.in_(ids)))).all()
    done = frozenset(pid for pid, state, mid in rows if mid != m.id or state not in ABOARD)
    tel = await session.get(TelemetryLatest, m.vehicle_id)
    if tel is not None and tel.mission_id == m.id:
        SPEEDS.add(m.vehicle_id, m.id, tel.ts, tel.ground_speed_mps)
    airborne = m.state == "started"
    at_stop = reached_at = None
    if airborne:
        last = (await session.scalars(select(Event).where(Event.mission_id == m.id, Event.kind == "leg_reached")
                                      .order_by(Event.seq.desc(), Event.ts.desc()).limit(1))).first()
        at_stop = (last.body or {}).get("parcel_id") if last is not None else None
        reached_at = last.ts if last is not None else None
    hub = payload.get("hub", {}).get("position", {})
    drone = payload.get("vehicle_type") == "drone"
    inp = EtaInput(
        now=utcnow(), drone=drone, service=ServiceTimes() if drone else await robot_service(session),
        nominal_speed_mps=float(payload.get("cruise_speed_mps") or 1.0),
        hub=Point(hub.get("lat", 0.0), hub.get("lon", 0.0)), stops=stops, target=p.id, done=done,
        airborne=airborne, position=Point(tel.lat, tel.lon) if tel is not None and airborne else None,
        position_at=tel.ts if tel is not None else None,
        altitude_m=tel.alt_m if tel is not None else None, at_stop=at_stop, reached_at=reached_at, cruise_alt_m=float(payload.get("cruise_alt_m") or 0.0),
        drop_alt_m=float(payload.get("drop_alt_m") or 0.0), observed=SPEEDS.observed(m.vehicle_id, m.id),
    )
    return m, inp, tel


async def current_eta(session: AsyncSession, parcel_id: str) -> EtaEstimate | None:
    """The parcel's live ETA, or None when it is on no active mission (not planned yet,
    delivered, failed...). Cheap enough to call per parcel on every webhook tick."""
    p = await session.get(Parcel, parcel_id)
    if p is None:
        return None
    got = await _progress(session, p)
    return estimate(got[1]) if got is not None else None


async def public_status(settings: Settings, session: AsyncSession, p: Parcel) -> dict[str, Any]:
    """The JSON the tracking page shows (``view.public_view`` decides what is visible)."""
    hist = (await session.execute(select(ParcelHistory.to_state, ParcelHistory.at)
                                  .where(ParcelHistory.parcel_id == p.id).order_by(ParcelHistory.id))).all()
    got = await _progress(session, p)
    eta = vehicle = None
    kind = None
    started = next_is_this = False
    stops_before = 0
    leg: tuple[Point, ...] = ()
    if got is not None:
        m, inp, tel = got
        kind = "drone" if inp.drone else "robot"
        eta = estimate(inp)
        started = inp.airborne
        remaining = [s for s in inp.stops if s.parcel_id not in inp.done]
        next_is_this = bool(remaining) and remaining[0].parcel_id == p.id
        stops_before = eta.stops_before if eta is not None else 0
        if tel is not None:
            vehicle = VehicleFix(position=Point(tel.lat, tel.lon), heading_deg=tel.heading_deg, at=tel.ts)
        mine = next((s for s in inp.stops if s.parcel_id == p.id), None)
        if mine is not None:
            leg = (*mine.path, mine.position)
    elif p.mission_id is not None:
        m = await session.get(Mission, p.mission_id)
        if m is not None and m.payload:
            kind = m.payload.get("vehicle_type")
    code = None
    if p.handover_salt is not None:
        code = shown_code(await handover_secret(settings, session), p.handover_salt)
    drop = Point(p.drop_lat, p.drop_lon) if p.drop_lat is not None and p.drop_lon is not None else None
    facts = TrackingFacts(
        parcel_id=p.id, state=p.state, address=p.address, target=Point(p.lat, p.lon), drop_spot=drop,
        drop_confirmed_at=p.drop_confirmed_at, timeline=[(s, at) for s, at in hist], vehicle_kind=kind,
        mission_started=started, next_stop_is_this=next_is_this, stops_before=stops_before, vehicle=vehicle,
        leg=leg, eta=eta, proof=p.proof, handover_code=code, drop_spot_open=p.state in OPEN_STATES and got is None,
        drop_spot_radius_m=settings.drop_spot_radius_m,
    )
    return public_view(facts)


async def set_drop_spot(settings: Settings, session: AsyncSession, p: Parcel, lat: float, lon: float) -> None:
    """Validate (``drop_spot.check_drop_spot``, raising ``DropSpotRefused``) and store the spot;
    the next plan and mission use it. A planned parcel whose mission went out already is too
    late (the vehicle has the old spot)."""
    fences = (await session.scalars(select(Geofence))).all()
    fence = await asyncio.to_thread(fence_for, fences, p.hub_id)
    mission = await session.get(Mission, p.mission_id) if p.mission_id else None
    state = p.state
    if state == "planned" and mission is not None and mission.state in ACTIVE:
        state = "dispatched"    # its mission went out already: the vehicle flies to the old spot
    check_drop_spot(Point(lat, lon), Point(p.lat, p.lon), state, settings.drop_spot_radius_m, fence,
                    settings.planner_safety_margin_m)
    p.drop_lat, p.drop_lon, p.drop_confirmed_at = lat, lon, utcnow()
    await session.commit()

