"""``fleet sim``: run simulated vehicles (or real ArduPilot SITL) until Ctrl-C."""

from __future__ import annotations

import signal
import threading

import click

from .modes import VehicleKind

NOMINAL_PACK_V = 14.8  # 4S, converts --battery-wh to mAh


def _latlon(_ctx, _param, value: str) -> tuple[float, float]:
    try:
        lat, lon = (float(x) for x in value.split(",")[:2])
    except ValueError as exc:
        raise click.BadParameter("expected LAT,LON") from exc
    return lat, lon


@click.command("sim")
@click.option("--copters", default=1, show_default=True, type=click.IntRange(min=0))
@click.option("--rovers", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--home", default="52.37,4.89", show_default=True, callback=_latlon,
              help="LAT,LON shared by all vehicles")
@click.option("--speedup", default=1.0, show_default=True, type=float)
@click.option("--base-port", default=5760, show_default=True, type=int,
              help="vehicle i listens on base + 10*i (0 = any free port)")
@click.option("--host", default="0.0.0.0", show_default=True, help="address to listen on")
@click.option("--battery-wh", default=None, type=float, help="pack energy (default 148 Wh)")
@click.option("--warmup-s", default=2.0, show_default=True, type=float,
              help="sim seconds until EKF uses GPS (python simulator only)")
@click.option("--mavlink-channel", default=1, show_default=True, type=click.IntRange(0, 15),
              help="ArduPilot channel each port stands for: 1 = telemetry port (signing enforced once "
                   "a key is set), 0 = SITL's SERIAL0 / USB (unsigned traffic always accepted)")
@click.option("--ardupilot", "ardupilot_path", default=None, type=click.Path(exists=True),
              help="run real SITL binaries from this directory (arducopter/ardurover)")
@click.option("--workdir", default="sitl-work", show_default=True, type=click.Path(),
              help="per-instance working directories for --ardupilot")
def sim(copters: int, rovers: int, home: tuple[float, float], speedup: float, base_port: int,
        host: str, battery_wh: float | None, warmup_s: float, mavlink_channel: int,
        ardupilot_path: str | None, workdir: str) -> None:
    """Simulated MAVLink vehicles on TCP 5760 + 10 x instance, like ArduPilot SITL."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if ardupilot_path:
        from pathlib import Path

        from .ardupilot import ArduPilotFleet, find_binaries

        bins = find_binaries(ardupilot_path)
        if copters and VehicleKind.COPTER not in bins or rovers and VehicleKind.ROVER not in bins:
            raise click.ClickException(f"no arducopter/ardurover binary under {ardupilot_path}")
        fleet = ArduPilotFleet(bins, copters=copters, rovers=rovers, home=home, speedup=speedup,
                               base_port=base_port or 5760, workdir=Path(workdir))
        with fleet:
            for inst in fleet.instances:
                click.echo(f"{inst.kind.value} {inst.instance} tcp:127.0.0.1:{inst.port} "
                           f"(ArduPilot SITL pid {inst.proc.pid})")
            _wait(stop)
        return
    from .fleet import SimFleet

    mah = battery_wh / NOMINAL_PACK_V * 1000.0 if battery_wh else None
    fleet = SimFleet(copters=copters, rovers=rovers, home=home, speedup=speedup,
                     base_port=base_port, host=host, warmup_s=warmup_s, battery_mah=mah,
                     mavlink_channel=mavlink_channel)
    with fleet:
        for v in fleet.vehicles:
            click.echo(f"{v.kind.value} {v.instance} tcp:{'127.0.0.1' if host == '0.0.0.0' else host}:{v.port}")
        _wait(stop)


def _wait(stop: threading.Event) -> None:
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
