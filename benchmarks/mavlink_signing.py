"""What MAVLink 2 signing costs on the agent-autopilot link: messages per second packed and parsed,
signed against unsigned, in the same run (rounds interleaved so machine load hits both alike).

Three paths, each a JSON line with ``unsigned_msgs_per_s``, ``signed_msgs_per_s``, ``ratio``:
``pack`` (pymavlink encode + pack, as the agent and the simulator send), ``parse_agent``
(the agent's receive path: pymavlink parse, with the agent's signature check when signed) and
``parse_sim_gate`` (the simulator's receive path: pymavlink framing + ``sitl.signing.SigningGate``).
A last line gives the bytes per frame. The message mix is the link's busiest: GLOBAL_POSITION_INT.

    .venv/bin/python benchmarks/mavlink_signing.py --messages 20000 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("MAVLINK20", "1")
from pymavlink.dialects.v20 import ardupilotmega as mavlink  # noqa: E402

from edge_agent.mavlink_key import signing_timestamp  # noqa: E402
from edge_agent.mavlink_link import SigningMAVLink  # noqa: E402
from sitl.signing import SigningGate  # noqa: E402

KEY = bytes(range(32))
ARGS = (123456, 523700000, 48900000, 30000, 30000, 100, -50, 0, 9000)


def sender(signed: bool) -> mavlink.MAVLink:
    mav = mavlink.MAVLink(None, srcSystem=1, srcComponent=1)
    if signed:
        mav.signing.secret_key = KEY
        mav.signing.sign_outgoing = True
        mav.signing.link_id = 1
        mav.signing.timestamp = signing_timestamp()
    return mav


def frames(signed: bool, n: int) -> list[bytes]:
    mav = sender(signed)
    return [mav.global_position_int_encode(*ARGS).pack(mav) for _ in range(n)]


def run_pack(signed: bool, n: int) -> float:
    mav = sender(signed)
    t0 = time.perf_counter()
    for _ in range(n):
        mav.global_position_int_encode(*ARGS).pack(mav)
    return time.perf_counter() - t0


def run_parse_agent(signed: bool, n: int) -> float:
    data = b"".join(frames(signed, n))
    rx = SigningMAVLink(None)
    rx.robust_parsing = True
    if signed:
        rx.signing.secret_key = KEY
        rx.signing.timestamp = signing_timestamp()
    t0 = time.perf_counter()
    got = rx.parse_buffer(data) or []
    dt = time.perf_counter() - t0
    assert len(got) == n and all(m.get_type() == "GLOBAL_POSITION_INT" for m in got), "frames refused"
    return dt


def run_parse_sim_gate(signed: bool, n: int) -> float:
    data = b"".join(frames(signed, n))
    rx = mavlink.MAVLink(None)
    rx.robust_parsing = True
    gate = SigningGate()
    if signed:
        gate.setup(KEY, signing_timestamp() - 100_000, now_s=0.0)
    t0 = time.perf_counter()
    ok = 0
    for m in rx.parse_buffer(data) or []:
        if gate.key is None or gate.accept(bytes(m.get_msgbuf()), m.get_msgId(), m.get_srcSystem(),
                                           m.get_srcComponent(), channel=1):
            ok += 1
    dt = time.perf_counter() - t0
    assert ok == n, f"gate refused {n - ok} frames"
    return dt


PATHS: dict[str, Callable[[bool, int], float]] = {
    "pack": run_pack, "parse_agent": run_parse_agent, "parse_sim_gate": run_parse_sim_gate}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=20000, help="frames per measurement")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the median is reported")
    a = ap.parse_args()
    for name, fn in PATHS.items():
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(a.rounds):
            for signed in (False, True):
                times[signed].append(fn(signed, a.messages))
        unsigned = a.messages / statistics.median(times[False])
        signed_rate = a.messages / statistics.median(times[True])
        print(json.dumps({"bench": "mavlink_signing", "path": name, "messages": a.messages, "rounds": a.rounds,
                          "unsigned_msgs_per_s": round(unsigned), "signed_msgs_per_s": round(signed_rate),
                          "ratio": round(signed_rate / unsigned, 3)}), flush=True)
    print(json.dumps({"bench": "mavlink_signing", "path": "frame_bytes", "message": "GLOBAL_POSITION_INT",
                      "unsigned": len(frames(False, 1)[0]), "signed": len(frames(True, 1)[0])}), flush=True)


if __name__ == "__main__":
    main()
