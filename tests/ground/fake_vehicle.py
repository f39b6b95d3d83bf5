"""A fake vehicle for end-to-end tests: a small aiomqtt client that speaks the fleet protocol
like an edge agent would (retained status with an offline last will, telemetry, events), with
scripted behaviour. It sends every event twice, as a QoS 1 redelivery would."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timezone

import aiomqtt

from fleet_protocol import (
    AcceptedEvent, DeliveredEvent, LatLon, ProofOfDelivery, RejectedEvent, ReturnedEvent, StartedEvent, Status,
    Telemetry, VehicleState, encode, make_envelope, parse_message, topics,
)


class FakeVehicle:
    def __init__(self, host: str, port: int, vehicle_id: str, behaviour: str = "deliver", step_s: float = 0.05,
                 lat: float = 52.52, lon: float = 13.405, resume=None) -> None:
        self.host, self.port, self.vid = host, port, vehicle_id
        self.behaviour = behaviour      # deliver | reject | mute | vanish | away | hold
        # behaviour "away": goes offline after starting, comes back when ``come_back`` is set,
        # delivers everything, and reports ``returned`` once ``may_return`` is set
        self.come_back = asyncio.Event()
        self.may_return = asyncio.Event()
        self.current: str | None = None  # mission under way (telemetry carries it, as the agent's does)
        self.step_s = step_s
        self.pos = LatLon(lat=lat, lon=lon)
        self.missions: list[str] = []   # mission ids received (with repeats)
        self.sent_event_ids: set[str] = set()
        self.commands: list = []          # commands received
        self.connections = 0              # successful connects (a broker restart makes it 2)
        self.telemetry_on = True
        self.seq = 0
        self._task: asyncio.Task | None = None
        self._client: aiomqtt.Client | None = None
        self._flown: set[str] = set()
        # set = fly on; cleared by a test to hold the vehicle mid-mission (after ``started``)
        self.proceed = asyncio.Event()
        self.proceed.set()
        self.reject_reason = "payload"      # what behaviour "reject" says
        self.release_offset_deg = 0.0       # >0: releases that far (north) from the drop-off
        self.claimed_distance_m = 0.4       # what its proof says, whatever the truth
        # a mission to carry on with at start, as a restarted agent does from its saved state
        self.resume = resume

    def _env(self, type_: str, body) -> bytes:
        self.seq += 1
        env = make_envelope(type_, self.vid, body, seq=self.seq)
        if type_ == "event":
            self.sent_event_ids.add(str(env.id))
        return encode(env)

    async def event(self, body) -> None:
        """Publish twice (duplicates are normal); across a broker restart, retry like the
        agent's outbox until the broker takes it."""
        payload = self._env("event", body)
        sent = 0
        while sent < 2:
            try:
                await self._client.publish(topics.event(self.vid), payload, qos=1)
                sent += 1
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)

    async def status(self, state: VehicleState) -> None:
        await self._client.publish(topics.status(self.vid), self._env("status", Status(state=state)), qos=1, retain=True)

    async def start(self) -> None:
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._run(ready))
        await asyncio.wait_for(ready.wait(), 10)

    async def stop(self, clear_status: bool = True) -> None:
        if clear_status and self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.publish(topics.status(self.vid), b"", qos=1, retain=True)
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self, ready: asyncio.Event) -> None:
        will = aiomqtt.Will(topics.status(self.vid), encode(make_envelope("status", self.vid, Status(state=VehicleState.offline))),
                            qos=1, retain=True)
        tel: asyncio.Task | None = None
        while True:   # reconnect, as the agent does, when the broker goes away
            try:
                async with aiomqtt.Client(self.host, self.port, identifier=f"fake-{self.vid}", will=will) as c:
                    self._client = c
                    await c.subscribe(topics.mission(self.vid), qos=1)
                    await c.subscribe(topics.command(self.vid), qos=1)
                    await self.status(VehicleState.online)
                    self.connections += 1
                    if tel is None:
                        tel = asyncio.create_task(self._telemetry())
                    if self.resume is not None:
                        mission, self.resume = self.resume, None
                        asyncio.create_task(self._fly(mission, resumed=True))
                    ready.set()
                    async for msg in c.messages:
                        env = parse_message(str(msg.topic), msg.payload)
                        if env.type == "mission":
                            self.missions.append(env.body.mission_id)
                            asyncio.create_task(self._fly(env.body))
                        elif env.type == "command":
                            self.commands.append(env.body)
            except aiomqtt.MqttError:
                await asyncio.sleep(0.3)
            except asyncio.CancelledError:
                if tel is not None:
                    tel.cancel()
                raise

    async def _telemetry(self) -> None:
        while True:
            if self.telemetry_on:
                t = Telemetry(position=self.pos, heading_deg=0, ground_speed_mps=0, battery_pct=90, mode="AUTO",
                              armed=False, gps_fix=3, agent_state="flying" if self.current else "idle",
                              mission_id=self.current)
                with contextlib.suppress(Exception):
                    await self._client.publish(topics.telemetry(self.vid), self._env("telemetry", t), qos=0)
            await asyncio.sleep(0.2)

    async def _fly(self, mission, resumed: bool = False) -> None:
        mid = mission.mission_id
        if self.behaviour == "mute":
            return
        if mid in self._flown:      # idempotent by mission id, like the agent
            return
        self._flown.add(mid)
        if self.behaviour == "reject":
            await self.event(RejectedEvent(mission_id=mid, reason=self.reject_reason, detail="refused"))
            return
        self.current = mid
        if not resumed:
            await self.event(AcceptedEvent(mission_id=mid))
            await asyncio.sleep(self.step_s)
            await self.event(StartedEvent(mission_id=mid))
        await self.proceed.wait()
        if self.behaviour == "hold":   # parcels aboard (in transit), never delivered
            return
        away = self.behaviour == "away"
        if away:
            self.telemetry_on = False
            await asyncio.sleep(self.step_s)
            await self.status(VehicleState.offline)
            await self.come_back.wait()
            await self.status(VehicleState.online)
            self.telemetry_on = True
            self.behaviour = "deliver"   # later missions are flown normally
        if self.behaviour == "vanish":
            # the link dies: no telemetry, the broker publishes our last will (we send it ourselves,
            # which is what the broker would do once the keepalive runs out)
            self.telemetry_on = False
            await asyncio.sleep(self.step_s)
            await self.status(VehicleState.offline)
            return
        for stop in mission.stops:
            await asyncio.sleep(self.step_s)
            self.pos = LatLon(lat=stop.drop_off.lat + self.release_offset_deg, lon=stop.drop_off.lon)
            proof = ProofOfDelivery(method=stop.action, position=self.pos, target=stop.drop_off,
                                    distance_m=self.claimed_distance_m,
                                    delivered_at=datetime.now(timezone.utc), confirmed=True)
            await self.event(DeliveredEvent(mission_id=mid, parcel_id=stop.parcel_id, proof=proof))
        await asyncio.sleep(self.step_s)
        if away:
            await self.may_return.wait()
        self.pos = mission.hub.position
        await self.event(ReturnedEvent(mission_id=mid, position=self.pos, undelivered=[]))
        self.current = None
