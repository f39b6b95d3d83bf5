"""The dispatch loop. Each tick (every ``dispatch_interval_s`` or sooner when woken by new
parcels, freed vehicles or failed missions):

1. liveness: vehicles whose telemetry went silent are offline (their missions stay active,
   marked unreachable: offline is not lost);
2. resend: missions not accepted within ``mission_ack_timeout_s`` of an ONLINE vehicle are
   published again (same mission id; the agent is idempotent by it) up to
   ``mission_resend_count`` times, then failed, an abort queued (a copy may have arrived) and
   their parcels re-planned without that vehicle for a while; time offline does not count;
3. operator commands waiting in the outbox are published;
4. planning: parcels in ``created`` are planned (``make_planner``) onto online, idle, enabled
   vehicles per hub; each route becomes a mission, committed (parcels -> planned) BEFORE it is
   published, so a crash between the two only delays it (step 2 resends). Exclusions that
   expired are lifted first; every parcel left waiting gets its reason stored
   (``waiting_reason``, ``waiting_since``).

With several replicas on one database each step only touches the hubs this replica holds
(``ownership``: leases in ground_control.cluster), and every mission/parcel write checks the
hub's fencing token in its own transaction, so a replica that lost a hub (paused, cut off from
the database) cannot commit a plan made while it still held it. One process alone owns every hub.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet_protocol import Command as ProtoCommand, CommandAction, Mission as ProtoMission, make_envelope, topics
from fleet_protocol.signing import generate_key
from ground_control.cluster.lease_store import FencingError
from ground_control.cluster.ownership import Ownership, SoleOwner
from ground_control.db.models import Command, Geofence, Hub, Mission, Parcel, TelemetryLatest, Vehicle, utcnow
from ground_control.db.repositories import apply_transitions
from ground_control.dispatch.liveness import update_liveness
from ground_control.dispatch.mission_builder import route_to_mission
from ground_control.dispatch.pricing import load_prices
from ground_control.dispatch.reassign import ACTIVE_MISSION_STATES, fail_mission, queue_abort
from ground_control.dispatch.rounds import plan_rounds
from ground_control.domain.exclusions import VehicleView, make_exclusion, prune
from ground_control.domain.parcel_lifecycle import ParcelState
from ground_control.domain.waiting import FleetVehicle, fleet_reason, planner_reason
from ground_control.planning import RoutePlanner
from ground_control.settings import Settings
from ground_control.signing.keys import Signer

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, int], Awaitable[None]]
MAX_PARCELS_PER_ROUND = 1_000
REPLAN_UNCHANGED_S = 30.0


class Dispatcher:
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], publish: Publish,
                 planner: RoutePlanner, listening: Callable[[], bool] = lambda: True,
                 signer: Signer | None = None, ownership: Ownership | None = None) -> None:
        self.settings = settings
        # every mission and command goes out signed; without a configured key (unit tests) a
        # throwaway one, which no agent trusts
        self.sign = signer or Signer(generate_key(), settings.signed_message_ttl_s)
        self.ownership: Ownership = ownership or SoleOwner()
        self.sessionmaker = sessionmaker
        self.publish = publish
        self.planner = planner
        self.listening = listening
        self._wake = asyncio.Event()
        self.hub_problems: dict[str, str] = {}  # hub id -> why it could not be planned (its geofence)
        self.missions_created = 0
        self.ticks = 0   # completed ticks: lets a test wait "a few rounds" instead of a fixed sleep
        self._last_signature: int | None = None
        self._last_plan_at = 0.0
        self.listening_since = utcnow()   # silence before this is our downtime, not the vehicle's

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.settings.dispatch_interval_s)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            await self.tick()

    async def tick(self) -> None:
        owned = self.ownership.hubs()
        if owned is not None and not owned:   # another replica dispatches every hub
            self.ticks += 1
            return
        for step in (self.check_liveness, self.resend_or_fail, self.flush_commands, self.plan_and_dispatch):
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except FencingError as exc:   # we lost a hub meanwhile: its new owner carries on
                log.warning("dispatch step %s refused: %s", step.__name__, exc)
            except Exception:  # noqa: BLE001 - one bad step must not stop dispatch
                log.exception("dispatch step %s failed", step.__name__)
        self.ticks += 1

    # ------------------------------------------------------------------ 1. liveness
    async def check_liveness(self) -> None:
        if not self.listening():   # broker down: we hear nobody, which says nothing about them
            return
        async with self.sessionmaker() as session:
            up, down = await update_liveness(session, utcnow(), self.settings.telemetry_silence_timeout_s,
                                             listening_since=self.listening_since, hub_ids=self.ownership.hubs())
            await session.commit()
        if up or down:
            log.info("liveness: online %s, offline %s", up, down)
            self._wake.set()

    # ------------------------------------------------------------------ 2. resend / fail
    async def resend_or_fail(self) -> None:
        now = utcnow()
        timeout = timedelta(seconds=self.settings.mission_ack_timeout_s)
        owned = self.ownership.hubs()
        async with self.sessionmaker() as session:
            stmt = (select(Mission, Vehicle.online, Vehicle.online_changed_at)
                    .join(Vehicle, Vehicle.id == Mission.vehicle_id)
                    .where(Mission.state == "sent", Mission.last_sent_at < now - timeout))
            if owned is not None:
                stmt = stmt.where(Mission.hub_id.in_(sorted(owned)))
            rows = (await session.execute(stmt)).all()
            touched: set[str] = set()
            to_send: list[tuple[str, dict]] = []
            for m, online, online_since in rows:
                # an offline vehicle cannot answer: its time away counts for nothing (its
                # persistent session delivers the mission when it is back)
                if not online or (online_since is not None and now - online_since < timeout):
                    continue
                touched.add(m.hub_id)
                if m.send_count > self.settings.mission_resend_count:
                    why = f"not accepted after {m.send_count} sends"
                    await fail_mission(session, m, why, max_attempts=self.settings.max_delivery_attempts,
                                       exclusion=make_exclusion(m.vehicle_id, "no_ack", now,
                                                                self.settings.exclusion_expiry_s))
                    queue_abort(session, m, why)
                    log.warning("mission %s to %s failed: no ack after %d sends", m.id, m.vehicle_id, m.send_count)
                    self._wake.set()
                else:
                    m.send_count += 1
                    m.last_sent_at = now
                    to_send.append((m.vehicle_id, m.payload))
            for hub_id in sorted(touched):
                await self.ownership.check(session, hub_id)   # FencingError: nothing is written
            await session.commit()
        for vehicle_id, payload in to_send:
            await self._publish_mission(vehicle_id, ProtoMission.model_validate(payload))

    async def _publish_mission(self, vehicle_id: str, mission: ProtoMission) -> bool:
        try:
            await self.publish(topics.mission(vehicle_id), self.sign(make_envelope("mission", vehicle_id, mission)), 1)
            return True
        except Exception as exc:  # noqa: BLE001 - broker down: the resend step retries
            log.warning("could not publish mission %s to %s: %s", mission.mission_id, vehicle_id, exc)
            return False

    # ------------------------------------------------------------------ 3. commands
    async def flush_commands(self) -> None:
        owned = self.ownership.hubs()
        async with self.sessionmaker() as session:
            stmt = select(Command).where(Command.sent_at.is_(None))
            if owned is not None:   # commands go out through the replica dispatching the vehicle's hub
                stmt = stmt.join(Vehicle, Vehicle.id == Command.vehicle_id).where(Vehicle.hub_id.in_(sorted(owned)))
            cmds = (await session.scalars(stmt.order_by(Command.created_at).limit(100))).all()
            for c in cmds:
                body = ProtoCommand(command_id=c.id, action=CommandAction(c.action), mission_id=c.mission_id,
                                    parcel_id=c.parcel_id, handover_code=c.handover_code)
                try:
                    await self.publish(topics.command(c.vehicle_id), self.sign(make_envelope("command", c.vehicle_id, body)), 1)
                except Exception as exc:  # noqa: BLE001
                    log.warning("command %s to %s not sent yet: %s", c.id, c.vehicle_id, exc)
                    break
                c.sent_at = utcnow()
                await session.commit()

    # ------------------------------------------------------------------ 4. plan & dispatch
    async def plan_and_dispatch(self) -> None:
        now = utcnow()
        owned = self.ownership.hubs()
        async with self.sessionmaker() as session:
            waiting_stmt = select(Parcel).where(Parcel.state == ParcelState.created.value)
            if owned is not None:
                waiting_stmt = waiting_stmt.where(Parcel.hub_id.in_(sorted(owned)))
            parcels = (await session.scalars(
                waiting_stmt
                .order_by(Parcel.priority.desc(), Parcel.created_at, Parcel.id).limit(MAX_PARCELS_PER_ROUND)
            )).all()
            if not parcels:
                return
            busy = set((await session.scalars(
                select(Mission.vehicle_id).where(Mission.state.in_(ACTIVE_MISSION_STATES)))).all())
            fleet = list((await session.scalars(select(Vehicle).order_by(Vehicle.id))).all())
            battery = dict((await session.execute(
                select(TelemetryLatest.vehicle_id, TelemetryLatest.battery_pct))).all())
            hubs = {h.id: h for h in (await session.scalars(select(Hub))).all()}
            fences = list((await session.scalars(select(Geofence))).all())
            for hub_id in sorted(self._lift_exclusions(parcels, fleet, battery, now)):
                await self.ownership.check(session, hub_id)
            prices = await load_prices(session)
            await session.commit()   # expunges nothing: rows stay readable for planning below
        vehicles = [v for v in fleet if v.enabled and v.online and v.id not in busy]
        views = [FleetVehicle(v.id, v.hub_id, v.enabled, v.online, v.id in busy) for v in fleet]
        waiting: dict[str, str] = {}
        plannable: list[Parcel] = []
        for p in parcels:
            why = fleet_reason(p.hub_id, p.hub_id in hubs, views, p.exclusions or [])
            if why is None:
                plannable.append(p)
            else:
                waiting[p.id] = why
        await self._record_waiting(waiting, now)
        if not plannable or not vehicles:
            return

        # parcels the planner left out (outside the area, too heavy...) would be re-planned on
        # every tick; with an optimising planner that burns a core. Same parcels, same
        # vehicles, same parcel rows (the version moves with every change: back from a
        # mission, an exclusion lifted): wait for a change or REPLAN_UNCHANGED_S.
        signature = hash((tuple(sorted((p.id, p.version) for p in plannable)),
                          tuple(v.id for v in vehicles), len(fences), tuple(sorted(owned or ()))))
        if signature == self._last_signature and time.monotonic() - self._last_plan_at < REPLAN_UNCHANGED_S:
            return
        self._last_signature, self._last_plan_at = signature, time.monotonic()

        # a parcel in no route and not named by the planner was crowded out by other groups
        left_out = {p.id: planner_reason("not_selected") for p in plannable}
        async for rnd in plan_rounds(self.planner, hubs, vehicles, plannable, fences, self.settings, now,
                                     prices=prices):
            if rnd.problem is not None:
                self.hub_problems[rnd.hub.id] = rnd.problem
            else:
                self.hub_problems.pop(rnd.hub.id, None)
            left_out.update({pid: planner_reason(str(r)) for pid, r in rnd.plan.unplanned.items()})
            for route in rnd.plan.routes:
                if not route.stops or route.vehicle_id not in rnd.vehicles:
                    continue
                try:
                    mission = route_to_mission(route, rnd.vehicles[route.vehicle_id], rnd.hub, rnd.parcels,
                                               rnd.fence, self.settings, now)
                except Exception:  # noqa: BLE001 - e.g. a route the protocol refuses
                    log.exception("could not build a mission from route for %s", route.vehicle_id)
                    continue
                if await self._commit_mission(mission, rnd.hub.id, route.distance_m):
                    self.missions_created += 1
                    await self._publish_mission(mission.vehicle_id, mission)
        await self._record_waiting(left_out, now)

    def _lift_exclusions(self, parcels: list[Parcel], fleet: list[Vehicle], battery: dict[str, float],
                         now: datetime) -> set[str]:
        """Drop exclusions that expired (time, a vehicle back from being off, a fresh battery).
        Returns the hubs of the parcels it changed."""
        changed: set[str] = set()
        views = {v.id: VehicleView(online=v.online, online_since=v.online_changed_at, battery_pct=battery.get(v.id))
                 for v in fleet}
        for p in parcels:
            if not p.exclusions:
                continue
            kept = prune(p.exclusions, now, views)
            if len(kept) != len(p.exclusions):
                log.info("parcel %s: exclusion(s) lifted, now %s", p.id, [e["vehicle_id"] for e in kept])
                p.exclusions = kept
                p.excluded_vehicles = [e["vehicle_id"] for e in kept]
                changed.add(p.hub_id)
        return changed

    async def _record_waiting(self, reasons: dict[str, str], now: datetime) -> None:
        """Store why parcels still in ``created`` wait (only when the reason changed)."""
        if not reasons:
            return
        async with self.sessionmaker() as session:
            rows = (await session.scalars(select(Parcel).where(
                Parcel.id.in_(list(reasons)), Parcel.state == ParcelState.created.value))).all()
            for p in rows:
                why = reasons[p.id][:2000]
                if p.waiting_reason != why:
                    p.waiting_reason = why
                    p.waiting_since = p.waiting_since or now
            await session.commit()

    async def _commit_mission(self, mission: ProtoMission, hub_id: str, distance_m: float) -> bool:
        """One transaction: the mission row and every parcel created -> planned; nothing if any
        parcel changed under us (deleted, planned elsewhere), and nothing if this replica no longer
        holds the hub (FencingError, checked in this very transaction)."""
        now = utcnow()
        async with self.sessionmaker() as session:
            await self.ownership.check(session, hub_id)
            ids = [s.parcel_id for s in mission.stops]
            rows = {p.id: p for p in (await session.scalars(
                select(Parcel).where(Parcel.id.in_(sorted(ids))).order_by(Parcel.id).with_for_update())).all()}
            if len(rows) != len(ids) or any(p.state != ParcelState.created.value for p in rows.values()):
                log.info("route for %s skipped: its parcels changed meanwhile", mission.vehicle_id)
                return False
            session.add(Mission(
                id=mission.mission_id, vehicle_id=mission.vehicle_id, hub_id=hub_id, state="sent",
                payload=mission.model_dump(mode="json"), parcel_ids=ids, send_count=1, last_sent_at=now,
                distance_m=distance_m, created_at=now, updated_at=now,
            ))
            await session.flush()
            for pid in ids:
                p = rows[pid]
                p.mission_id = mission.mission_id
                p.vehicle_id = mission.vehicle_id
                apply_transitions(session, p, ParcelState.planned, f"planned on mission {mission.mission_id}", at=now)
            await session.commit()
        log.info("mission %s -> %s with %d stop(s)", mission.mission_id, mission.vehicle_id, len(ids))
        return True
