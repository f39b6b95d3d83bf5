"""What signing costs per message: sign + verify of a mission, a command and a delivered event,
beside the JSON encode + decode (parse_message) every message pays anyway, in the same run.

    python benchmarks/signing.py --n 2000

One JSON line per message kind: ``baseline_us`` (encode + parse_message), ``sign_us`` (encode and
sign), ``verify_us`` (parse_message + signature check as the receiver does it), ``overhead_us``
((sign + verify) - baseline) and ``ratio`` ((sign + verify) / baseline), and the size of the
signature members in bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fleet_protocol import (  # noqa: E402
    Command, DeliveredEvent, LatLon, Mission, ProofOfDelivery, encode, make_envelope, parse_message, topics,
)
from fleet_protocol.signing import generate_key, sign_envelope, trust_set, verify_signature  # noqa: E402


def _mission(vid: str, stops: int) -> Mission:
    lat, lon = 52.37, 4.89
    d = lambda n, e: {"lat": lat + n / 111_195.0, "lon": lon + e / 67_870.0}  # noqa: E731
    return Mission.model_validate({
        "mission_id": "m-bench", "vehicle_id": vid, "vehicle_type": "drone",
        "hub": {"hub_id": "h", "position": {"lat": lat, "lon": lon}},
        "stops": [{"parcel_id": f"p{i}", "drop_off": d(100 * i, 50 * i), "action": "release",
                   "path": [d(10 * i + k, 5 * k) for k in range(10)]} for i in range(stops)],
        "geofence": {"inclusion": {"vertices": [d(-3000, -3000), d(-3000, 3000), d(3000, 3000), d(3000, -3000)]}},
        "cruise_alt_m": 30, "drop_alt_m": 5, "cruise_speed_mps": 10,
    })


def _per_call_us(fn: Callable[[], Any], n: int) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="repetitions per measurement")
    ap.add_argument("--stops", type=int, default=10, help="stops of the mission measured")
    args = ap.parse_args()
    vid = "bench-1"
    key = generate_key()
    trusted = trust_set([key.public_key()])
    now = datetime.now(timezone.utc)
    proof = ProofOfDelivery(method="release", position=LatLon(lat=52.37, lon=4.89), target=LatLon(lat=52.37, lon=4.89),
                            distance_m=0.5, delivered_at=now, confirmed=True)
    cases = {
        "mission": (topics.mission(vid), make_envelope("mission", vid, _mission(vid, args.stops))),
        "command": (topics.command(vid), make_envelope("command", vid, Command(command_id="c-1", action="hold"))),
        "event_delivered": (topics.event(vid), make_envelope("event", vid, DeliveredEvent(
            mission_id="m-bench", parcel_id="p1", proof=proof))),
    }
    for name, (topic, env) in cases.items():
        plain = encode(env)
        signed = sign_envelope(env, key, ttl_s=600)

        def baseline() -> None:
            parse_message(topic, encode(env))

        def sign() -> None:
            sign_envelope(env, key, ttl_s=600)

        def verify() -> None:
            parse_message(topic, signed)
            assert verify_signature(json.loads(signed), trusted).ok

        base = _per_call_us(baseline, args.n)
        s = _per_call_us(sign, args.n)
        v = _per_call_us(verify, args.n)
        print(json.dumps({
            "benchmark": "signing", "message": name, "n": args.n, "payload_bytes": len(plain),
            "signed_bytes": len(signed), "baseline_us": round(base, 1), "sign_us": round(s, 1),
            "verify_us": round(v, 1), "overhead_us": round(s + v - base, 1), "ratio": round((s + v) / base, 2),
        }), flush=True)


if __name__ == "__main__":
    main()
