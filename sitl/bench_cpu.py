"""CPU cost of the simulator: ``python -m sitl.bench_cpu [--vehicles 200] [--flying 50]``.

Drains every port from a separate process (so client CPU is not counted) and reports this
process's CPU% (time.process_time over wall time) idle and with vehicles flying.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import selectors
import socket
import time

from .fleet import SimFleet
from .modes import CopterMode


def _drain(ports: list[int], stop_after: float) -> None:
    sel = selectors.DefaultSelector()
    for p in ports:
        s = socket.create_connection(("127.0.0.1", p))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    end = time.time() + stop_after
    while time.time() < end:
        for key, _ in sel.select(0.5):
            try:
                key.fileobj.recv(65536)
            except BlockingIOError:
                pass


def measure(seconds: float) -> float:
    c0, w0 = time.process_time(), time.monotonic()
    time.sleep(seconds)
    return 100.0 * (time.process_time() - c0) / (time.monotonic() - w0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vehicles", type=int, default=200)
    ap.add_argument("--flying", type=int, default=50)
    ap.add_argument("--speedup", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=5.0)
    a = ap.parse_args()
    with SimFleet(copters=a.vehicles, speedup=a.speedup, base_port=0) as fleet:
        time.sleep(1.0)
        print(f"{a.vehicles} idle vehicles, no GCS:        {measure(a.seconds):5.1f}% CPU")
        ports = [v.port for v in fleet.vehicles]
        proc = mp.get_context("spawn").Process(target=_drain, args=(ports, 4 * a.seconds + 30))
        proc.start()
        time.sleep(2.0)
        print(f"{a.vehicles} idle vehicles, 1 GCS each:    {measure(a.seconds):5.1f}% CPU")
        lat, lon = fleet.vehicles[0].lat, fleet.vehicles[0].lon

        def launch(m) -> None:
            m.set_mode(CopterMode.GUIDED)
            m.arm()
            m.takeoff(20)

        for v in fleet.vehicles[: a.flying]:
            fleet._call(launch, v.model)
        time.sleep(2.0)
        for i, v in enumerate(fleet.vehicles[: a.flying]):
            fleet._call(v.model.goto, lat + 0.05 + i * 1e-4, lon, 30.0)
        time.sleep(0.5)
        cpu = measure(a.seconds)
        flying = sum(1 for v in fleet.vehicles if v.armed and not v.landed)
        print(f"{flying} flying + {a.vehicles - flying} idle at speedup {a.speedup:g}: {cpu:5.1f}% CPU"
              f" (tick overruns: {fleet.tick_overruns})")
        proc.terminate()
        proc.join()


if __name__ == "__main__":
    main()
