"""Fetch the console's pinned front-end dependency (Leaflet) at install time, without Node.

``package-lock.json`` pins the exact tarball and its sha512 ``integrity``; this downloads that
tarball from the npm registry, refuses it unless the hash matches, and extracts only the built
files the page loads (``dist/leaflet.js``, ``leaflet.css``, ``images/``) into ``web/vendor/``,
which git ignores and package-data ships. Run by ``run.py``'s set-up and by the setuptools build
(``setup.py``'s build_py); by hand: ``python -m ground_control.console.assets``. Nothing is
fetched at run time: if the files are missing the page says so.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOCKFILE = HERE / "package-lock.json"
VENDOR = HERE / "web" / "vendor"
#: what the page needs from each package's tarball, relative to ``package/``
WANTED = {"leaflet": ("dist/leaflet.js", "dist/leaflet.css", "dist/images/")}
REGISTRY = os.environ.get("FLEET_NPM_REGISTRY", "https://registry.npmjs.org")


class AssetError(RuntimeError):
    """The pinned tarball could not be fetched, or did not match its lockfile hash."""


def pinned(lockfile: Path = LOCKFILE) -> dict[str, dict[str, str]]:
    """``{name: {version, resolved, integrity}}`` for each package the console uses."""
    lock = json.loads(lockfile.read_text())
    out: dict[str, dict[str, str]] = {}
    for name in WANTED:
        entry = lock["packages"][f"node_modules/{name}"]
        version = entry["version"]
        resolved = entry.get("resolved") or f"{REGISTRY}/{name}/-/{name}-{version}.tgz"
        out[name] = {"version": version, "resolved": resolved, "integrity": entry["integrity"]}
    return out


def verify(data: bytes, integrity: str) -> None:
    """Subresource-integrity check (``sha512-<base64>``), as npm does."""
    algo, _, expected = integrity.partition("-")
    if algo != "sha512":
        raise AssetError(f"unsupported integrity algorithm {algo!r}")
    got = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if got != expected:
        raise AssetError(f"integrity mismatch: lockfile says sha512-{expected}, download is sha512-{got}")


def extract(data: bytes, name: str, dest: Path) -> list[Path]:
    """Write the wanted members of an npm tarball under ``dest/name``; returns the files written."""
    wanted = WANTED[name]
    written: list[Path] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            rel = member.name.removeprefix("package/")
            if not member.isfile() or not any(rel == w or (w.endswith("/") and rel.startswith(w)) for w in wanted):
                continue
            target = dest / name / Path(rel).relative_to("dist")
            if ".." in target.relative_to(dest).parts:
                raise AssetError(f"refusing path {member.name!r}")
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(member)
            assert src is not None
            target.write_bytes(src.read())
            written.append(target)
    return written


def stamp_path(dest: Path, name: str) -> Path:
    return dest / name / ".integrity"


def present(dest: Path = VENDOR, lockfile: Path = LOCKFILE) -> bool:
    """Every pinned package extracted at the pinned version."""
    return all(stamp_path(dest, n).is_file() and stamp_path(dest, n).read_text() == p["integrity"]
               for n, p in pinned(lockfile).items())


def ensure(dest: Path = VENDOR, lockfile: Path = LOCKFILE, timeout: float = 60.0) -> list[str]:
    """Download, verify and extract whatever is missing or stale; returns what was fetched."""
    fetched: list[str] = []
    for name, pin in pinned(lockfile).items():
        if stamp_path(dest, name).is_file() and stamp_path(dest, name).read_text() == pin["integrity"]:
            continue
        with urllib.request.urlopen(pin["resolved"], timeout=timeout) as resp:   # noqa: S310 - pinned https URL
            data = resp.read()
        verify(data, pin["integrity"])
        extract(data, name, dest)
        stamp_path(dest, name).write_text(pin["integrity"])
        fetched.append(f"{name}@{pin['version']}")
    return fetched


def main() -> int:
    try:
        fetched = ensure()
    except (AssetError, OSError) as exc:
        print(f"console assets: {exc}", file=sys.stderr)
        return 1
    if fetched:
        print(f"console assets: {', '.join(fetched)} verified and extracted into {VENDOR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
