"""Child processes of a chaos round, each its own process group so ``kill -9`` is real and
nothing outlives the benchmark: start, SIGKILL, graceful stop, restart with the same arguments,
output appended to one log file per child."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLEET = [sys.executable, str(ROOT / "fleet_cli.py")]


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts + 1} at {time.time():.3f}: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, cwd=str(self.log_path.parent), start_new_session=True)
        self.starts += 1

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)   # its own group: the process and anything it spawned

    def kill9(self) -> None:
        self._signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit within ``timeout``."""
        if self.proc is None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()


class Children:
    """Every child of a round, stopped in reverse order of registration (or as asked)."""

    def __init__(self) -> None:
        self._all: list[Child] = []

    def add(self, child: Child) -> Child:
        self._all.append(child)
        return child

    def stop_all(self, first: list[Child] | None = None, timeout: float = 10.0) -> None:
        ordered = list(first or []) + [c for c in reversed(self._all) if c not in (first or [])]
        for c in ordered:
            with contextlib.suppress(Exception):
                c.stop(timeout)
