#!/usr/bin/env python3
"""Zero-setup entry point: ``python3 run.py demo`` or ``python3 run.py test``.

Creates ``.venv`` beside this file on first use, installs lastmile-fleet with every extra into it
(re-installs when pyproject.toml changes), then runs the demo or the test suite inside it. Needs
only Python 3.11+ with pip and venv.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("FLEET_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".lastmile-fleet-installed"


def create_venv() -> None:
    """stdlib venv; where the interpreter ships without ensurepip (Debian's python3 without
    python3-venv), fall back to the virtualenv package from pip."""
    try:
        venv.EnvBuilder(with_pip=True).create(VENV)
        return
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"run.py: venv failed ({exc}); trying virtualenv", flush=True)
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--user", "-q", "virtualenv"])
    subprocess.check_call([sys.executable, "-m", "virtualenv", "-q", str(VENV)])


def ensure_env() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"lastmile-fleet needs Python 3.11+, this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"run.py: creating virtualenv {VENV}", flush=True)
        create_venv()
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    print("run.py: installing lastmile-fleet[dev] (first run takes a minute)", flush=True)
    subprocess.check_call([str(PY), "-m", "pip", "install", "-q", "--upgrade", "pip"])
    subprocess.check_call([str(PY), "-m", "pip", "install", "-q", "-e", f"{ROOT}[dev]"])
    STAMP.write_text(digest)


def ensure_console_assets() -> None:
    """The console's pinned Leaflet files (sha512-checked, from the npm registry; no Node needed).
    A failure is reported, not fatal: the console page then says its map files are missing."""
    script = ROOT / "ground_control" / "console" / "assets.py"
    if script.exists() and subprocess.call([str(PY), str(script)]) != 0:
        print("run.py: could not fetch the console's map files; the console will say so", flush=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "fleet"}:
        print(__doc__)
        print("usage: python3 run.py demo [fleet demo options] | test [pytest options] | fleet ARGS")
        return 2
    ensure_env()
    ensure_console_assets()
    what, rest = argv[0], argv[1:]
    os.chdir(ROOT)
    if what == "test":
        cmd = [str(PY), "-m", "pytest", *rest]
    elif what == "demo":
        cmd = [str(BIN / "fleet"), "demo", *rest]
    else:
        cmd = [str(BIN / "fleet"), *rest]
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
