"""Launch real ArduPilot SITL binaries instead of the Python simulator (``fleet sim --ardupilot``).

Command lines follow libraries/AP_HAL_SITL/SITL_cmdline.cpp: ``--model``,
``--speedup``, ``-I`` instance (adds 10 x instance to every port, so MAVLink is on 5760 + 10 x i),
``--home lat,lon,alt,yaw``, ``--defaults a.parm,b.parm`` (later files override earlier ones),
``--base-port`` (absolute; only honoured before ``-I``), ``--sysid``. Each instance runs in its own
directory because SITL keeps eeprom.bin and logs in the working directory. No ``-S``: the
synthetic clock is SITL's default and 4.7 answers the old flag with a "stale" warning.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .modes import VehicleKind

HERE = Path(__file__).resolve().parent
SITL_BASE_PORT = 5760
BINARY_NAMES = {VehicleKind.COPTER: "arducopter", VehicleKind.ROVER: "ardurover"}
MODELS = {VehicleKind.COPTER: "quad", VehicleKind.ROVER: "rover"}
OUR_DEFAULTS = {VehicleKind.COPTER: HERE / "copter.parm", VehicleKind.ROVER: HERE / "rover.parm"}
AP_DEFAULTS = {VehicleKind.COPTER: "copter.parm", VehicleKind.ROVER: "rover.parm"}


def find_binaries(path: str | os.PathLike) -> dict[VehicleKind, Path]:
    """Binaries under ``path``: a directory with arducopter/ardurover (also build/sitl/bin of an
    ArduPilot checkout), or the path of one binary."""
    p = Path(path).expanduser()
    found: dict[VehicleKind, Path] = {}
    if p.is_file():
        name = p.name.lower()
        kind = VehicleKind.ROVER if "rover" in name else VehicleKind.COPTER
        return {kind: p}
    for d in (p, p / "build" / "sitl" / "bin", p / "bin"):
        for kind, exe in BINARY_NAMES.items():
            if kind not in found and (d / exe).is_file():
                found[kind] = d / exe
    return found


def ardupilot_default_params(binary: Path, kind: VehicleKind) -> Path | None:
    """ArduPilot's own Tools/autotest/default_params/<vehicle>.parm next to the binary, if any."""
    for parent in [binary.resolve().parent, *binary.resolve().parents]:
        cand = parent / "Tools" / "autotest" / "default_params" / AP_DEFAULTS[kind]
        if cand.is_file():
            return cand
    return None


def build_command(binary: str | os.PathLike, kind: VehicleKind, instance: int,
                  home: tuple[float, float], speedup: float = 1.0, *,
                  home_alt_m: float = 0.0, home_yaw_deg: float = 0.0,
                  defaults: Sequence[str | os.PathLike] = (), base_port: int = SITL_BASE_PORT,
                  sysid: int | None = None, wipe: bool = True) -> list[str]:
    """The argv for one SITL instance (pure: no file-system access)."""
    cmd = [str(binary), "--model", MODELS[kind], "--speedup", f"{speedup:g}"]
    if wipe:
        cmd.append("-w")  # start from the defaults files, not a stale eeprom.bin
    if base_port != SITL_BASE_PORT:
        cmd += ["--base-port", str(base_port + 10 * instance)]  # must precede -I
    cmd += ["-I", str(instance), "--home", f"{home[0]:.7f},{home[1]:.7f},{home_alt_m:g},{home_yaw_deg:g}"]
    if defaults:
        cmd += ["--defaults", ",".join(str(d) for d in defaults)]
    if sysid is not None:
        cmd += ["--sysid", str(sysid)]
    return cmd


def mavlink_port(instance: int, base_port: int = SITL_BASE_PORT) -> int:
    return base_port + 10 * instance


def wait_for_port(port: int, timeout: float = 60.0, host: str = "127.0.0.1",
                  proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"SITL exited with {proc.returncode} before opening port {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


@dataclass
class SitlInstance:
    kind: VehicleKind
    instance: int
    port: int
    argv: list[str]
    workdir: Path
    proc: subprocess.Popen | None = None


@dataclass
class ArduPilotFleet:
    """Real SITL processes, copters first then rovers, same layout as SimFleet.

    Note: connecting to a SITL port and closing it at once (as wait_for_port does) is harmless;
    ArduPilot SITL serves one TCP client per port at a time.
    """

    binaries: dict[VehicleKind, Path]
    copters: int = 1
    rovers: int = 0
    home: tuple[float, float] = (52.37, 4.89)
    speedup: float = 1.0
    base_port: int = SITL_BASE_PORT
    homes: Sequence[tuple[float, float]] | None = None
    workdir: Path = field(default_factory=lambda: Path("sitl-work"))
    instances: list[SitlInstance] = field(default_factory=list)

    def plan(self) -> list[SitlInstance]:
        """Command lines for every instance (no processes started)."""
        out = []
        for i in range(self.copters + self.rovers):
            kind = VehicleKind.COPTER if i < self.copters else VehicleKind.ROVER
            if kind not in self.binaries:
                raise FileNotFoundError(f"no {BINARY_NAMES[kind]} binary given")
            binary = self.binaries[kind]
            defaults = [p for p in (ardupilot_default_params(binary, kind), OUR_DEFAULTS[kind]) if p]
            home = self.homes[i] if self.homes else self.home
            argv = build_command(binary, kind, i, home, self.speedup, defaults=defaults,
                                 base_port=self.base_port)
            out.append(SitlInstance(kind, i, mavlink_port(i, self.base_port), argv,
                                    Path(self.workdir) / f"instance{i}"))
        return out

    def start(self, timeout: float = 60.0) -> "ArduPilotFleet":
        self.instances = self.plan()
        for inst in self.instances:
            inst.workdir.mkdir(parents=True, exist_ok=True)
            log = open(inst.workdir / "sitl.log", "ab")
            inst.proc = subprocess.Popen(inst.argv, cwd=inst.workdir, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()
        for inst in self.instances:
            wait_for_port(inst.port, timeout, proc=inst.proc)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        for inst in self.instances:
            if inst.proc is not None and inst.proc.poll() is None:
                inst.proc.terminate()
        for inst in self.instances:
            if inst.proc is None:
                continue
            try:
                inst.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                inst.proc.kill()
                inst.proc.wait()

    def __enter__(self) -> "ArduPilotFleet":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
