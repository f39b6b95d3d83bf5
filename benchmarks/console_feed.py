"""Operator console under load: 200 simulated vehicles at 2 Hz, one open console in Chromium.

Fake telemetry (valid envelopes, vehicles circling their hub) goes through the real path: a
private Mosquitto -> ``fleet serve``'s ingest -> the database -> the console's one live feed ->
Server-Sent Events -> the page (Leaflet canvas markers, lists). Measured in the page: bytes per
second the console receives (the feed reader's byte count) and frames per second
(requestAnimationFrame counter). Baseline in the same run: the same page and map with the feed
quiet (publishers stopped, vehicles still drawn).

    .venv/bin/python benchmarks/console_feed.py [--vehicles 200] [--hz 2] [--seconds 20]

Prints one JSON line per phase, then a summary line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ground_control.embedded.broker import free_port, mosquitto_binary, port_open  # noqa: E402

HUB = (52.37, 4.89)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _publisher(port: int, ids: list[str], hz: float, stop: "mp.Event", out: "mp.Queue[int]") -> None:
    """Every vehicle on a circle around the hub, one telemetry sample per vehicle every 1/hz s."""
    import aiomqtt

    from fleet_protocol import LatLon, Status, Telemetry, VehicleState, encode, make_envelope, topics

    async def main() -> int:
        sent = 0
        async with aiomqtt.Client("127.0.0.1", port, identifier=f"console-bench-{os.getpid()}") as c:
            for vid in ids:
                await c.publish(topics.status(vid), encode(make_envelope("status", vid, Status(state=VehicleState.online))),
                                qos=1, retain=True)
            seq, t0 = 0, time.monotonic()
            while not stop.is_set():
                seq += 1
                for i, vid in enumerate(ids):
                    angle = (i / len(ids)) * 2 * math.pi + seq * 0.02
                    r = 0.004 + 0.006 * ((i * 7919) % 100) / 100
                    body = Telemetry(position=LatLon(lat=HUB[0] + r * math.sin(angle), lon=HUB[1] + 1.6 * r * math.cos(angle)),
                                     heading_deg=(math.degrees(angle) + 90) % 360, ground_speed_mps=12, battery_pct=90 - seq * 0.01,
                                     mode="AUTO", armed=True, gps_fix=3, agent_state="in_flight")
                    await c.publish(topics.telemetry(vid), encode(make_envelope("telemetry", vid, body, seq=seq)), qos=0)
                    sent += 1
                await asyncio.sleep(max(0.0, t0 + seq / hz - time.monotonic()))
        return sent

    out.put(asyncio.run(main()))


def measure(page, seconds: float) -> dict[str, float]:
    """fps and bytes/s over ``seconds`` of wall time, read in the page."""
    start = page.evaluate("() => ({frames: window.__frames, bytes: window.lmfConsole.feed.bytes, t: performance.now(),"
                          " vehicles: window.lmfConsole.state.vehicles.size})")
    time.sleep(seconds)
    end = page.evaluate("() => ({frames: window.__frames, bytes: window.lmfConsole.feed.bytes, t: performance.now(),"
                        " vehicles: window.lmfConsole.state.vehicles.size,"
                        " moving: Object.keys(window.lmfConsole.markerPositions()).length})")
    dt = (end["t"] - start["t"]) / 1000
    return {"fps": round((end["frames"] - start["frames"]) / dt, 1),
            "bytes_per_s": round((end["bytes"] - start["bytes"]) / dt), "seconds": round(dt, 1),
            "vehicles_in_console": end["vehicles"], "markers": end["moving"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vehicles", type=int, default=200)
    ap.add_argument("--hz", type=float, default=2.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    binary = mosquitto_binary()
    if binary is None or not Path(args.chromium).exists():
        print("needs mosquitto and chromium (apt-get install mosquitto chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        folder = Path(tmp)
        mport, hport = free_port(), free_port()
        (folder / "mosquitto.conf").write_text(f"listener {mport} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n")
        procs.append(subprocess.Popen([binary, "-c", str(folder / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        env = {**os.environ, "FLEET_DATABASE_URL": f"sqlite+aiosqlite:///{folder}/fleet.db",
               "FLEET_MQTT_URL": f"mqtt://127.0.0.1:{mport}", "FLEET_MQTT_CLIENT_ID": f"gc-console-bench-{hport}",
               "FLEET_PORT": str(hport), "FLEET_HOST": "127.0.0.1"}
        log = open(folder / "serve.log", "wb")
        procs.append(subprocess.Popen([sys.executable, str(ROOT / "fleet_cli.py"), "serve"], env=env, stdout=log,
                                      stderr=subprocess.STDOUT, cwd=folder))
        stop, out = mp.Event(), mp.Queue()
        pub = None
        try:
            base = f"http://127.0.0.1:{hport}"
            deadline = time.monotonic() + 90
            while not (port_open("127.0.0.1", hport) and httpx.get(f"{base}/health").status_code == 200):
                if time.monotonic() > deadline:
                    raise RuntimeError("fleet serve did not come up")
                time.sleep(0.3)
            api = httpx.Client(base_url=base, timeout=30)
            api.post("/hubs", json={"id": "hub-b", "name": "bench", "lat": HUB[0], "lon": HUB[1]}).raise_for_status()
            ids = [f"bench-{i:04d}" for i in range(args.vehicles)]
            for vid in ids:
                api.post("/vehicles", json={"id": vid, "type": "drone", "hub_id": "hub-b", "payload_kg": 2.5,
                                            "battery_wh": 500, "wh_per_km": 12, "cruise_speed_mps": 12}).raise_for_status()
            pub = mp.Process(target=_publisher, args=(mport, ids, args.hz, stop, out), daemon=True)
            pub.start()
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 860})
                page.goto(base + "/")
                page.locator("body[data-ready=true]").wait_for(timeout=60_000)
                page.evaluate("() => { window.__frames = 0; const f = () => { window.__frames++; requestAnimationFrame(f); };"
                              " requestAnimationFrame(f); }")
                deadline = time.monotonic() + 60
                while page.evaluate("Object.keys(window.lmfConsole.markerPositions()).length") < args.vehicles:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the console never drew every vehicle")
                    time.sleep(0.5)
                time.sleep(3)   # warm-up
                live = measure(page, args.seconds)
                stop.set()
                pub.join(30)
                sent = out.get(timeout=10)
                time.sleep(3)   # the feed goes quiet: only keep-alives from here
                idle = measure(page, args.seconds)
                browser.close()
        finally:
            stop.set()
            if pub is not None and pub.is_alive():
                pub.terminate()
            for p in reversed(procs):
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
    common = {"bench": "console_feed", "vehicles": args.vehicles, "hz": args.hz, "consoles": 1}
    print(json.dumps({**common, "phase": "live", **live, "telemetry_sent": sent}))
    print(json.dumps({**common, "phase": "idle (baseline)", **idle}))
    print(json.dumps({**common, "phase": "summary", "fps_live": live["fps"], "fps_idle": idle["fps"],
                      "bytes_per_s_live": live["bytes_per_s"], "bytes_per_s_idle": idle["bytes_per_s"],
                      "bytes_per_vehicle_update": round(live["bytes_per_s"] / (args.vehicles * args.hz), 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
