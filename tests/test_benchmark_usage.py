"""The README's benchmark command, run where the instances are not: a clear message saying where
they are, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "vrplib.py"), *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_vrplib_benchmark_without_instances_says_where_they_are():
    for args in ((), ("does-not-exist/*/*.vrp", "--seconds", "1")):
        r = _run(*args)
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr
        assert "../shared/bench/" in r.stderr and "not in this repository" in r.stderr
