"""``fleet demo``."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

import click

from ground_control.demo.outcome import BASE_TIMEOUT_S, PER_PARCEL_PER_VEHICLE_S, REFERENCE_SPEEDUP, delivery_summary
from ground_control.demo.runner import DemoOptions, DemoResult, Snapshot, run_demo


@click.command("demo")
@click.option("--headless", is_flag=True, help="No live display; print progress lines and a final JSON line.")
@click.option("--drones", default=3, show_default=True, type=click.IntRange(0, 50))
@click.option("--robots", default=2, show_default=True, type=click.IntRange(0, 50))
@click.option("--parcels", default=20, show_default=True, type=click.IntRange(1, 2000))
@click.option("--speedup", default=20.0, show_default=True, type=click.FloatRange(1, 100),
              help="Simulated time runs this many times faster than wall time.")
@click.option("--seed", default=1, show_default=True, help="Seed of the city scenario.")
@click.option("--timeout", "timeout_s", default=None, type=click.FloatRange(10),
              help=f"Give up after this many seconds; parcels still under way then are reported as such "
                   f"(and the exit code is 1). Default: scaled to the work, {BASE_TIMEOUT_S:.0f} s + "
                   f"{PER_PARCEL_PER_VEHICLE_S:.0f} s per parcel per vehicle at speedup {REFERENCE_SPEEDUP:.0f}.")
@click.option("--planner", type=click.Choice(["greedy", "pyvrp"]), default="pyvrp", show_default=True)
@click.option("--broker", type=click.Choice(["auto", "mosquitto", "amqtt", "nats-cluster"]), default="auto",
              show_default=True,
              help="auto: a private mosquitto if the binary is on PATH, else the in-process amqtt broker; "
                   "nats-cluster: three clustered nats-server nodes with MQTT (every client gets all three).")
@click.option("--kill-broker-node", is_flag=True,
              help="With --broker nats-cluster: kill -9 the node every client is on once a parcel is aboard.")
@click.option("--workdir", type=click.Path(path_type=Path), default=None,
              help="Keep the database and outboxes here (default: a temporary folder, removed).")
@click.option("--port", default=0, help="HTTP port for ground control (default: a free one).")
def demo(headless: bool, drones: int, robots: int, parcels: int, speedup: float, seed: int,
         timeout_s: float | None, planner: str, broker: str, kill_broker_node: bool, workdir: Path | None,
         port: int) -> None:
    """Run broker, ground control (SQLite), simulated drones and robots with their agents, and a
    seeded city; exit when every parcel is delivered or returned. Ends with one JSON line that
    puts every parcel in one class (delivered, returned, failed, moving by state, lost). Exit
    code 1 if a parcel is lost, or if the demo timed out with parcels still under way."""
    if drones + robots == 0:
        raise click.UsageError("the demo needs at least one drone or robot")
    if kill_broker_node and broker != "nats-cluster":
        raise click.UsageError("--kill-broker-node needs --broker nats-cluster (a single broker has no other node)")
    # The agents and services log at INFO; the demo shows its own view instead.
    for name in ("edge_agent", "ground_control", "sitl", "amqtt", "transitions", "httpx", "uvicorn", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("edge_agent.mavlink").setLevel(logging.ERROR)  # "link lost" at shutdown is expected
    opts = DemoOptions(drones=drones, robots=robots, parcels=parcels, speedup=speedup, seed=seed,
                       timeout_s=timeout_s, planner=planner, broker=broker, workdir=workdir, port=port,
                       kill_broker_node=kill_broker_node, on_login=_print_login)
    how = "--timeout" if timeout_s is not None else "scaled to the work; change with --timeout"
    click.echo(f"demo: {parcels} parcels, {drones} drones, {robots} robots; giving up after "
               f"{opts.effective_timeout_s:.0f} s ({how})", err=True)
    if headless:
        result = asyncio.run(run_demo(opts, on_update=_progress_printer()))
    else:
        result = _run_live(opts)
    ok, why = result.verdict()
    click.echo(f"demo: {why}", err=True)
    click.echo(f"demo: wall time {result.wall_s:.1f} s; {delivery_summary(result.delivery_s)}", err=True)
    for pid, reason in sorted(result.waiting.items()):
        click.echo(f"demo: {pid} still waiting to be planned: {reason}", err=True)
    click.echo(json.dumps(result.as_json()))
    sys.exit(0 if ok else 1)


def _print_login(api_url: str, user: str, password: str) -> None:
    """How a person gets in while the demo runs (Swagger's Authorize button takes these)."""
    click.echo(f"demo: ground control at {api_url}/docs; log in as user {user!r} with password {password!r} "
               f"(POST {api_url}/auth/token)", err=True)


def _progress_printer():
    last = [-10.0]

    def show(s: Snapshot) -> None:
        if last[0] < 0 and s.api_url:
            click.echo(f"demo: operator console at {s.api_url}/", err=True)
        if s.elapsed_s - last[0] >= 5 or s.final:
            last[0] = s.elapsed_s
            counts = " ".join(f"{k}={v}" for k, v in sorted(s.by_state.items()))
            waiting = f" waiting to be planned: {len(s.waiting)}" if s.waiting else ""
            click.echo(f"[{s.elapsed_s:5.1f} s] {counts}{waiting}", err=True)
    return show


def _run_live(opts: DemoOptions) -> DemoResult:
    from rich.live import Live

    from ground_control.demo.display import render

    with Live(refresh_per_second=4, transient=False) as live:
        result = asyncio.run(run_demo(opts, on_update=lambda s: live.update(render(s))))
    live.console.line()  # the summary goes on a line of its own, terminal or not
    return result
