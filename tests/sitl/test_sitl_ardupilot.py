"""The real-SITL launcher: command lines (pure) and process management with a stand-in binary."""

from __future__ import annotations

import socket
import stat
import sys
from pathlib import Path

from click.testing import CliRunner

from sitl.ardupilot import (
    ArduPilotFleet,
    build_command,
    find_binaries,
    mavlink_port,
)
from sitl.cli import sim
from sitl.modes import VehicleKind


def test_build_command_copter_and_rover():
    cmd = build_command("/ap/arducopter", VehicleKind.COPTER, 2, (52.37, 4.89), 10,
                        defaults=["/ap/Tools/autotest/default_params/copter.parm", "/x/copter.parm"])
    assert cmd == ["/ap/arducopter", "--model", "quad", "--speedup", "10", "-w", "-I", "2",
                   "--home", "52.3700000,4.8900000,0,0",
                   "--defaults", "/ap/Tools/autotest/default_params/copter.parm,/x/copter.parm"]
    rover = build_command("ardurover", VehicleKind.ROVER, 0, (1.5, 2.5), 1.0, wipe=False, sysid=7)
    assert rover[:4] == ["ardurover", "--model", "rover", "--speedup"]
    assert "-S" not in cmd + rover  # stale in SITL 4.7 (synthetic clock is the default)
    assert "-w" not in rover and rover[-2:] == ["--sysid", "7"]
    assert mavlink_port(3) == 5790


def test_custom_base_port_goes_before_instance():
    cmd = build_command("arducopter", VehicleKind.COPTER, 1, (0, 0), base_port=6000)
    assert cmd.index("--base-port") < cmd.index("-I")
    assert cmd[cmd.index("--base-port") + 1] == "6010"


def _fake_checkout(tmp_path: Path) -> Path:
    """An ArduPilot-like tree: build/sitl/bin/{arducopter,ardurover} + default_params."""
    bindir = tmp_path / "build" / "sitl" / "bin"
    bindir.mkdir(parents=True)
    params = tmp_path / "Tools" / "autotest" / "default_params"
    params.mkdir(parents=True)
    (params / "copter.parm").write_text("FRAME_CLASS 1\n")
    (params / "rover.parm").write_text("")
    script = f"""#!{sys.executable}
import socket, sys, time
args = sys.argv[1:]
port = 5760
if "--base-port" in args:
    port = int(args[args.index("--base-port") + 1])
elif "-I" in args:
    port += 10 * int(args[args.index("-I") + 1])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(1)
while True:
    time.sleep(1)
"""
    for name in ("arducopter", "ardurover"):
        p = bindir / name
        p.write_text(script)
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return tmp_path


def _free_base() -> int:
    for _ in range(50):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        base = s.getsockname()[1]
        s.close()
        if base + 20 < 65000:
            ok = True
            for p in (base, base + 10):
                t = socket.socket()
                try:
                    t.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                t.close()
            if ok:
                return base
    raise RuntimeError("no free ports")


def test_find_binaries_and_plan(tmp_path):
    root = _fake_checkout(tmp_path)
    bins = find_binaries(root)
    assert set(bins) == {VehicleKind.COPTER, VehicleKind.ROVER}
    assert find_binaries(bins[VehicleKind.ROVER]) == {VehicleKind.ROVER: bins[VehicleKind.ROVER]}
    fleet = ArduPilotFleet(bins, copters=1, rovers=1, speedup=5, workdir=tmp_path / "w")
    plan = fleet.plan()
    assert [p.port for p in plan] == [5760, 5770]
    defaults = plan[0].argv[plan[0].argv.index("--defaults") + 1].split(",")
    assert defaults[0].endswith("Tools/autotest/default_params/copter.parm")
    assert defaults[1].endswith("sitl/copter.parm") and Path(defaults[1]).is_file()
    assert plan[1].argv[plan[1].argv.index("--model") + 1] == "rover"
    assert plan[0].workdir != plan[1].workdir  # eeprom.bin per instance


def test_processes_start_listen_and_stop(tmp_path):
    root = _fake_checkout(tmp_path)
    base = _free_base()
    fleet = ArduPilotFleet(find_binaries(root), copters=1, rovers=1, base_port=base,
                           workdir=tmp_path / "w")
    with fleet:
        for inst in fleet.instances:
            with socket.create_connection(("127.0.0.1", inst.port), timeout=2):
                pass
        procs = [i.proc for i in fleet.instances]
    assert all(p.poll() is not None for p in procs)


def test_cli_refuses_missing_binaries(tmp_path):
    res = CliRunner().invoke(sim, ["--ardupilot", str(tmp_path), "--copters", "1"])
    assert res.exit_code != 0 and "no arducopter" in res.output


def test_cli_runs_python_fleet_and_prints_ports(monkeypatch):
    import sitl.cli as cli

    monkeypatch.setattr(cli, "_wait", lambda stop: None)  # return at once instead of until Ctrl-C
    res = CliRunner().invoke(sim, ["--copters", "2", "--rovers", "1", "--base-port", "0",
                                   "--home", "52.1,4.3", "--speedup", "5", "--battery-wh", "74"])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert [ln.split()[:2] for ln in lines] == [["copter", "0"], ["copter", "1"], ["rover", "2"]]
    assert all(ln.split()[2].startswith("tcp:127.0.0.1:") for ln in lines)
