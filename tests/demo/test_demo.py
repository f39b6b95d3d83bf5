"""The whole system end to end, as `fleet demo` runs it: API -> planner -> MQTT -> agents ->
MAVLink simulator -> events -> database. Every parcel must end delivered, none lost."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ground_control.demo.runner import DemoOptions, run_demo
from ground_control.demo.scenario import NO_FLY, build


def test_scenario_is_deterministic_and_keeps_customers_out_of_the_no_fly_zone():
    from shapely.geometry import Point, Polygon

    a, b = build(3, 2, 30, seed=4), build(3, 2, 30, seed=4)
    assert a.parcels == b.parcels
    zone = Polygon([(lon, lat) for lat, lon in NO_FLY])
    assert not any(zone.contains(Point(p["lon"], p["lat"])) for p in a.parcels)
    heavy = [p for p in a.parcels if p["weight_kg"] > 2.5]
    robot_hubs = {v["hub_id"] for v in a.vehicles if v["type"] == "robot"}
    assert heavy and all(p["hub_id"] in robot_hubs for p in heavy)


@pytest.mark.slow
async def test_demo_delivers_every_parcel_with_drones_and_robots(tmp_path):
    import threading

    import httpx

    checks: list[threading.Thread] = []
    seen: dict[str, object] = {}

    def check(api_url: str, user: str, password: str) -> None:
        with httpx.Client(base_url=api_url, timeout=60) as c:
            seen["anonymous"] = c.get("/parcels").status_code
            token = c.post("/auth/token", data={"username": user, "password": password}).json()["access_token"]
            seen["role"] = c.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).json()["role"]

    def on_login(*args: str) -> None:
        """The printed login works against the running API (checked from a thread: the API runs
        on this event loop)."""
        checks.append(threading.Thread(target=check, args=args))
        checks[-1].start()

    result = await run_demo(DemoOptions(drones=2, robots=1, parcels=8, speedup=25, timeout_s=150,
                                        planner="pyvrp", workdir=tmp_path, on_login=on_login))
    [t.join(60) for t in checks]
    assert len(checks) == 1 and seen == {"anonymous": 401, "role": "admin"}
    assert result.lost == 0, result.as_json()
    assert result.delivered + result.returned == 8 and not result.timed_out
    assert result.delivered >= 7, result.as_json()
    # signed end to end: ground control signed the missions the agents flew, and every delivery
    # left a proof signed by its vehicle that verifies with the public key alone
    assert _verified_proofs(tmp_path / "fleet.db") == result.delivered


def _verified_proofs(db_path) -> int:
    import sqlite3

    from fleet_keys.verify_proof import check_document

    db = sqlite3.connect(db_path)
    rows = db.execute("SELECT id, proof, proof_signed, proof_signature, proof_key_id, proof_public_key "
                      "FROM parcels WHERE state = 'delivered'").fetchall()
    db.close()
    ok = 0
    for pid, proof, statement, signature, kid, public_key in rows:
        doc = {**json.loads(proof), "parcel_id": pid, "signed": {
            "statement": statement, "signature": signature, "key_id": kid, "public_key": public_key}}
        check = check_document(doc)
        assert check.ok, (pid, check.reason)
        ok += 1
    return ok


def test_headless_cli_prints_one_json_summary_line_last(monkeypatch):
    from ground_control.demo import cli as demo_cli
    from ground_control.demo.runner import DemoResult

    async def fake_run(opts, on_update=None):
        assert (opts.drones, opts.robots, opts.parcels) == (1, 0, 2)
        return DemoResult(parcels=2, delivered=1, failed=0, lost=1, wall_s=1.0)

    monkeypatch.setattr(demo_cli, "run_demo", fake_run)
    out = CliRunner().invoke(demo_cli.demo, ["--headless", "--drones", "1", "--robots", "0", "--parcels", "2"])
    assert out.exit_code == 1  # something was lost
    last = json.loads(out.output.strip().splitlines()[-1])
    assert last["lost"] == 1 and {"parcels", "delivered", "failed", "lost", "wall_s"} <= last.keys()


@pytest.mark.slow
async def test_demo_runs_on_the_in_process_broker_of_a_bare_machine(tmp_path):
    """No mosquitto installed: the demo falls back to amqtt, which never fires last wills."""
    result = await run_demo(DemoOptions(drones=2, robots=0, parcels=3, speedup=25, timeout_s=120,
                                        planner="greedy", broker="amqtt", workdir=tmp_path))
    assert result.broker == "amqtt"
    assert result.lost == 0 and result.delivered == 3, result.as_json()
