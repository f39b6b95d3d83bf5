"""SimFleet: many simulated vehicles in one background thread and one asyncio event loop.

One loop steps every vehicle's physics at a fixed wall rate (sim dt = wall dt x speedup, split
into sub-steps of at most 0.5 s) and serves every vehicle's TCP port; telemetry is staggered by
instance so 200 vehicles don't all encode at the same instant.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, Sequence

from .link import VehicleLink
from .modes import VehicleKind
from .vehicle import VehicleModel

log = logging.getLogger(__name__)

TICK_HZ = 10  # telemetry intervals are whole ticks (sitl.streams)
MAX_SUBSTEP_S = 0.5


class SimVehicle:
    """Handle on one simulated vehicle: read-only state plus fault injection."""

    def __init__(self, fleet: "SimFleet", instance: int, kind: VehicleKind, model: VehicleModel,
                 link: VehicleLink) -> None:
        self._fleet = fleet
        self.instance = instance
        self.kind = kind
        self.model = model
        self.link = link

    def __repr__(self) -> str:
        return (f"SimVehicle({self.kind.value} #{self.instance} port={self.port} {self.mode_name} "
                f"armed={self.armed} alt={self.alt_m:.1f})")

    port = property(lambda self: self.link.port)
    sysid = property(lambda self: self.link.sysid)
    lat = property(lambda self: self.model.lat_lon[0])
    lon = property(lambda self: self.model.lat_lon[1])
    alt_m = property(lambda self: self.model.alt)
    heading = property(lambda self: self.model.heading)
    groundspeed = property(lambda self: self.model.groundspeed)
    armed = property(lambda self: self.model.armed)
    mode = property(lambda self: self.model.mode)
    mode_name = property(lambda self: self.model.mode_name)
    battery_pct = property(lambda self: self.model.battery.pct)
    gripper_releases = property(lambda self: self.model.gripper_releases)
    boots = property(lambda self: self.model.boots)
    servo_outputs = property(lambda self: self.model.servo_outputs())
    landed = property(lambda self: self.model.landed)
    gps_fix_type = property(lambda self: self.model.gps_fix_type)
    ekf_ready = property(lambda self: self.model.ekf_ready)
    mission_current = property(lambda self: self.model.mission_current)
    sim_time = property(lambda self: self.model.t)
    connected_clients = property(lambda self: len(self.link.clients))
    #: the active MAVLink signing key (None: signing off) and how many frames it refused
    signing_key = property(lambda self: self.link.signing.key)
    rejected_unsigned = property(lambda self: self.link.rejected_unsigned)

    @property
    def position_history(self) -> list[tuple[float, float, float, float]]:
        """(sim_time_s, lat, lon, alt_m) about once per sim second."""
        return list(self.model.position_history)

    def set_param(self, name: str, value: float) -> None:
        """Like a PARAM_SET from a GCS (stored at once; boot-time parameters need a reboot)."""
        self._fleet._call(self.model.set_param, name, value)

    def inject(self, fault: str, **kw: Any) -> None:
        """Inject a fault: battery_drain(rate_pct_per_s), gps_loss, gps_restore,
        link_drop(seconds), gripper_failure."""
        if fault not in ("battery_drain", "gps_loss", "gps_restore", "link_drop", "gripper_failure"):
            raise ValueError(f"unknown fault {fault!r}")
        self._fleet._call(self._inject, fault, kw)

    def _inject(self, fault: str, kw: dict[str, Any]) -> None:
        m = self.model
        if fault == "battery_drain":
            m.battery.extra_pct_per_s += float(kw.get("rate_pct_per_s", 1.0))
        elif fault == "gps_loss":
            m.inject_gps_loss()
        elif fault == "gps_restore":
            m.inject_gps_restore()
        elif fault == "link_drop":
            self.link.drop_link(float(kw.get("seconds", 10.0)))
        elif fault == "gripper_failure":
            if m.grip is not None:
                m.grip.jam_next_release = True


class SimFleet:
    """Copters (instances 0..copters-1) then rovers, each on base_port + 10 * instance."""

    def __init__(self, copters: int = 1, rovers: int = 0, home: tuple[float, float] = (52.37, 4.89),
                 speedup: float = 1.0, base_port: int = 5760,
                 homes: Sequence[tuple[float, float]] | None = None, host: str = "127.0.0.1",
                 sysid: int | Sequence[int] = 1, warmup_s: float = 2.0,
                 battery_mah: float | None = None, params: dict[str, float] | None = None,
                 home_amsl_m: float = 0.0, mavlink_channel: int = 1) -> None:
        """``mavlink_channel``: ArduPilot's channel number of each vehicle's port. 1 (default) is
        a telemetry port: once a signing key is set, unsigned commands are dropped. 0 is SITL's
        SERIAL0 / a USB port, which ArduPilot trusts: unsigned traffic stays accepted there."""
        total = copters + rovers
        if homes is not None and len(homes) != total:
            raise ValueError(f"homes has {len(homes)} entries for {total} vehicles")
        self.speedup = float(speedup)
        self.base_port = base_port
        self.host = host
        self.vehicles: list[SimVehicle] = []
        for i in range(total):
            kind = VehicleKind.COPTER if i < copters else VehicleKind.ROVER
            lat, lon = homes[i] if homes is not None else home
            model = VehicleModel(kind, lat, lon, home_amsl_m=home_amsl_m, warmup_s=warmup_s,
                                 params=params, battery_mah=battery_mah)
            sid = sysid if isinstance(sysid, int) else sysid[i]
            port = 0 if base_port == 0 else base_port + 10 * i
            link = VehicleLink(model, i, port, host=host, sysid=sid, channel=mavlink_channel,
                               tick_hz=TICK_HZ)
            self.vehicles.append(SimVehicle(self, i, kind, model, link))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.tick_overruns = 0

    # ---------------------------------------------------------------- lifecycle
    def start(self, timeout: float = 30.0) -> "SimFleet":
        """Start the background loop; returns once every port listens."""
        ready = threading.Event()
        self._thread = threading.Thread(target=self._thread_main, args=(ready,), name="sitl-fleet",
                                        daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("simulator did not start")
        if self._error is not None:
            raise RuntimeError(f"simulator failed to start: {self._error}") from self._error
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> "SimFleet":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, fn, *args: Any) -> None:
        """Run fn on the simulator loop (or directly if not started)."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(fn, *args)
        else:
            fn(*args)

    def _thread_main(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(ready))
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
            ready.set()
        finally:
            loop.close()

    async def run_forever(self) -> None:
        """For callers that own an event loop (e.g. the CLI): serve until cancelled."""
        await self._main(threading.Event())

    async def _main(self, ready: threading.Event) -> None:
        self._stop = asyncio.Event()
        for v in self.vehicles:
            await v.link.start()
        ready.set()
        try:
            await self._run()
        finally:
            await asyncio.gather(*(v.link.stop() for v in self.vehicles), return_exceptions=True)

    # ---------------------------------------------------------------- the loop
    async def _run(self) -> None:
        period = 1.0 / TICK_HZ
        tick = 0
        next_t = time.monotonic()
        while not self._stop.is_set():
            sim_dt = period * self.speedup
            steps = max(1, int(sim_dt / MAX_SUBSTEP_S + 0.999))
            sub = sim_dt / steps
            for idx, v in enumerate(self.vehicles):
                model, link = v.model, v.link
                for _ in range(steps):
                    model.step(sub)
                link.drain_outbox()
                if link.clients:
                    link.send_streams(tick + idx)  # staggered by instance
                    if tick % 2 == 0:
                        link.mission.poll()
                    link.flush()
            tick += 1
            next_t += period
            delay = next_t - time.monotonic()
            if delay < -1.0:  # far behind (overloaded machine): don't try to catch up
                self.tick_overruns += 1
                next_t = time.monotonic()
                delay = 0.0
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=max(0.0, delay))
            except asyncio.TimeoutError:
                pass
