#!/usr/bin/env python3
"""Does dispatch survive the death of the replica that owns a hub? Three ``fleet serve``
replicas on one PostgreSQL database deliver parcels with simulated vehicles while the replica
holding a hub lease is killed with SIGKILL, again and again, mid-delivery.

    .venv/bin/python benchmarks/failover.py --parcels 60 --kills 3      # a few minutes
    .venv/bin/python benchmarks/failover.py --parcels 300 --kills 6 --drones 6 --robots 4

Everything is a real process on 127.0.0.1 (chaoslib: a private Mosquitto with persistence, the
replicas on a database of their own with MQTT v5 shared subscriptions, ``fleet sim`` per hub, one
``fleet agent`` per vehicle). Once the first mission is started, every ``--every`` seconds (seeded
jitter) the benchmark reads the lease table, takes the owner of the next hub in turn, kill -9's it,
restarts it at once (a new process: it must wait for its old leases to expire like anyone else),
and times until another live holder has every hub the dead one held (``takeover_s``). A watcher
reads the missions table twice a second for a parcel on two active missions at once. At the end
every parcel is judged against an independent recording of the broker (chaoslib/verdict.py).

The last stdout line is one JSON object: replicas, kills, parcels, delivered, lost,
duplicated_missions, takeover_s_max, and details. Exit code 0 only if lost and
duplicated_missions are 0. ``lost`` counts parcels ground control cannot account for
consistently with the recording (verdict ``lost``) or left with no reason (``stranded``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from chaoslib.database import RoundDatabase, postgres_reachable  # noqa: E402
from chaoslib.recorder import Recorder  # noqa: E402
from chaoslib.replicas import DatabaseWatch, ReplicaFleet, api_client  # noqa: E402
from chaoslib.round import Round, RoundConfig, RoundResult, log  # noqa: E402
from ground_control.demo.operator import confirm_handovers, post, seed_city  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--parcels", type=int, default=60)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--every", type=float, default=20.0, help="seconds between kills (plus 0-5 s seeded jitter)")
    ap.add_argument("--drones", type=int, default=4)
    ap.add_argument("--robots", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--speedup", type=float, default=20.0)
    ap.add_argument("--lease-ttl", type=float, default=5.0, help="FLEET_LEASE_TTL_S of the replicas")
    ap.add_argument("--lease-renew", type=float, default=1.0, help="FLEET_LEASE_RENEW_INTERVAL_S")
    ap.add_argument("--sim-battery-wh", type=float, default=None,
                    help="simulated pack energy (the simulator never recharges; default: 148 Wh per "
                         "10 parcels per vehicle, at least the simulator's 148 Wh)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds for the whole delivery (default: scaled)")
    ap.add_argument("--keep", action="store_true", help="keep logs and recordings")
    args = ap.parse_args(argv)
    if args.replicas < 2 or args.parcels < 1 or args.kills < 0 or args.drones + args.robots < 1:
        ap.error("need two replicas, a parcel and a vehicle")
    return args


class FailoverRound(Round):
    def __init__(self, cfg: RoundConfig, args: argparse.Namespace) -> None:
        super().__init__(cfg)
        self.args = args
        self.takeovers: list[dict] = []
        self.duplicates: dict[str, list[str]] = {}
        self.watch: DatabaseWatch | None = None

    async def run(self) -> RoundResult:
        cfg = self.cfg
        cfg.folder.mkdir(parents=True, exist_ok=True)
        db = await RoundDatabase.create("postgres", f"failover_{int(self.t0)}", cfg.folder)
        self.fleet = ReplicaFleet(cfg.folder, self.scenario, db, cfg.speedup, self.timeline,
                                  replicas=self.args.replicas, lease_ttl_s=self.args.lease_ttl,
                                  lease_renew_s=self.args.lease_renew, sim_battery_wh=sim_battery_wh(self.args))
        self.watch = DatabaseWatch(db.name)
        try:
            await self.bring_up(self.fleet)
            self.tasks.append(asyncio.create_task(self.watch_duplicates(), name="duplicates"))
            deadline = time.time() + cfg.timeout_s
            detail, injected_at = await self.inject(self.fleet, deadline)
            await self.wait_done(deadline)
            return await self.verdict(detail, injected_at)
        finally:
            with contextlib.suppress(Exception):
                await self.watch.close()
            await self.tear_down(db)

    async def bring_up(self, fleet: ReplicaFleet) -> None:  # type: ignore[override]
        await asyncio.to_thread(fleet.start_broker)
        self.recorder = Recorder("127.0.0.1", fleet.broker_port, self.cfg.folder / "recorder.jsonl")
        await asyncio.to_thread(self.recorder.start)
        fleet.start_gc()
        await fleet.wait_gc()
        self.api = api_client(fleet.live_urls, headers=fleet.api_headers)
        await seed_city(self.api, self.scenario)
        await fleet.start_vehicles()
        self.tasks.append(asyncio.create_task(fleet.watchdog(), name="watchdog"))
        await self.wait_online()
        tracking = {p["id"]: (await post(self.api, "/parcels", p))["tracking_url"] for p in self.scenario.parcels}
        fleet.note(f"{len(self.expected)} parcels posted")
        robots = {v["id"] for v in self.scenario.vehicles if v["type"] == "robot"}
        self.tasks.append(asyncio.create_task(confirm_handovers(self.api, robots, tracking), name="recipients"))

    async def watch_duplicates(self) -> None:
        assert self.watch is not None
        while True:
            with contextlib.suppress(Exception):
                for pid, missions in (await self.watch.parcels_on_two_active_missions()).items():
                    if pid not in self.duplicates:
                        self.fleet.note(f"DUPLICATE: {pid} on active missions {missions}")  # type: ignore[union-attr]
                    self.duplicates[pid] = missions
            await asyncio.sleep(0.5)

    async def inject(self, fleet: ReplicaFleet, deadline: float) -> tuple[str, float]:  # type: ignore[override]
        """The kills: first once a mission is under way, then every ``--every`` seconds."""
        while time.time() < deadline and not any("started" in m.events for m in self.traffic().missions.values()):
            await asyncio.sleep(0.5)
        fleet.note("first mission started")
        first_at = time.time() - self.t0
        for k in range(self.args.kills):
            await asyncio.sleep(self.args.every * (0.25 if k == 0 else 1.0) + self.rng.uniform(0, 5))
            if time.time() > deadline:
                break
            await self.kill_an_owner(fleet, k + 1)
        kills = ", ".join(f"{t['replica']} ({','.join(t['hubs'])}) {t['takeover_s']} s" for t in self.takeovers)
        return f"kill -9 of hub owners: {kills}", first_at

    async def kill_an_owner(self, fleet: ReplicaFleet, n: int) -> None:
        assert self.watch is not None
        holders = await self.watch.hub_holders()
        held = sorted(h.hub_id for h in holders.values() if h.replica)
        if not held:
            fleet.note(f"kill {n}: no hub has a live holder; skipped")
            return
        victim = holders[held[(n - 1) % len(held)]].replica   # the hubs' owners in turn
        assert victim is not None
        hubs = sorted(h.hub_id for h in holders.values() if h.replica == victim)
        tokens = {h.hub_id: h.token for h in holders.values() if h.replica == victim}
        child = fleet.replica(victim)
        fleet.down.add(victim)
        killed_at = time.time()
        await asyncio.to_thread(child.kill9)
        fleet.note(f"kill {n}: kill -9 {victim}, holder of {hubs}")
        child.start()                      # a new process under the same name: there are always replicas
        fleet.down.discard(victim)
        new_owner: dict[str, str] = {}
        while len(new_owner) < len(hubs) and time.time() - killed_at < 120:
            with contextlib.suppress(Exception):
                now = await self.watch.hub_holders()
                for hub in hubs:
                    h = now.get(hub)
                    if hub not in new_owner and h is not None and h.holder and h.token > tokens[hub]:
                        new_owner[hub] = f"{h.replica} (token {h.token})"
            if len(new_owner) < len(hubs):
                await asyncio.sleep(0.1)
        took = round(time.time() - killed_at, 2) if len(new_owner) == len(hubs) else None
        self.takeovers.append({"replica": victim, "hubs": hubs, "new_owner": new_owner, "takeover_s": took})
        fleet.note(f"kill {n}: {hubs} taken over by {new_owner} after {took} s")


def sim_battery_wh(args: argparse.Namespace) -> float | None:
    """A pack big enough for the run: the simulator's 148 Wh lasts about 10 parcels."""
    if args.sim_battery_wh:
        return args.sim_battery_wh
    per_vehicle = args.parcels / (args.drones + args.robots)
    return None if per_vehicle <= 8 else round(148 * per_vehicle / 8)


def timeout_for(args: argparse.Namespace) -> float:
    if args.timeout:
        return args.timeout
    per_vehicle = args.parcels / (args.drones + args.robots)
    return 240 + 25 * per_vehicle * 20 / args.speedup + args.kills * args.every


async def main_async(args: argparse.Namespace, base: Path) -> dict:
    cfg = RoundConfig(index=1, fault="replica_kill9", parcels=args.parcels, drones=args.drones, robots=args.robots,
                      seed=args.seed, speedup=args.speedup, database="postgres", folder=base / "failover",
                      timeout_s=timeout_for(args), keep=args.keep)
    log(f"failover: {args.replicas} replicas, {args.parcels} parcels, {args.kills} kills, "
        f"{args.drones} drones + {args.robots} robots, lease TTL {args.lease_ttl} s (renew {args.lease_renew} s), "
        f"deadline {cfg.timeout_s:.0f} s, logs in {base}")
    rnd = FailoverRound(cfg, args)
    result = await rnd.run()
    c = result.counts
    takeovers = [t["takeover_s"] for t in rnd.takeovers]
    return {
        "replicas": args.replicas, "kills": len(rnd.takeovers), "parcels": c.get("parcels", 0),
        "delivered": c.get("delivered", 0), "lost": c.get("lost", 0) + c.get("stranded", 0),
        "duplicated_missions": len(rnd.duplicates) + c.get("carried_twice", 0),
        "takeover_s_max": max((t for t in takeovers if t is not None), default=None),
        "takeovers_unfinished": sum(t is None for t in takeovers),
        "failed": c.get("failed", 0), "unfinished": c.get("unfinished", 0), "waiting": c.get("waiting", 0),
        "delivered_twice": c.get("delivered_twice", 0), "carried_twice": c.get("carried_twice", 0),
        "events_missed_by_gc": c.get("events_missed_by_gc", 0),
        "lease_ttl_s": args.lease_ttl, "lease_renew_s": args.lease_renew, "bound_s": args.lease_ttl + args.lease_renew,
        "takeovers": rnd.takeovers, "speedup": args.speedup, "seed": args.seed,
        "vehicles": {"drones": args.drones, "robots": args.robots}, "wall_s": round(result.wall_s, 1),
    }


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not postgres_reachable():
        print("failover needs PostgreSQL on 127.0.0.1:5432 (replicas share one database)", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="lmf-failover-"))
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        out = asyncio.run(main_async(args, base))
    except KeyboardInterrupt:
        log("failover: interrupted; every child stopped, the database dropped")
        return 130
    finally:
        if args.keep:
            log(f"failover: logs kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(out), flush=True)
    ok = out["lost"] == 0 and out["duplicated_missions"] == 0 and out["takeovers_unfinished"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
