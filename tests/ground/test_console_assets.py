"""The console's Leaflet files: fetched from the lockfile's pinned tarball, refused unless its
sha512 integrity matches, only the built files extracted (no Node needed)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile

import pytest

from ground_control.console import assets


def tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def test_a_tarball_that_does_not_match_the_lockfile_is_refused() -> None:
    data = tarball({"dist/leaflet.js": b"x"})
    assets.verify(data, sri(data))
    with pytest.raises(assets.AssetError, match="integrity mismatch"):
        assets.verify(data + b"tampered", sri(data))


def test_only_the_built_files_are_extracted(tmp_path) -> None:
    data = tarball({"dist/leaflet.js": b"js", "dist/leaflet.css": b"css", "dist/images/marker-icon.png": b"png",
                    "src/Leaflet.js": b"source", "package.json": b"{}"})
    written = assets.extract(data, "leaflet", tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "leaflet/images/marker-icon.png", "leaflet/leaflet.css", "leaflet/leaflet.js"]


def test_ensure_fetches_the_pinned_tarball_once(tmp_path, monkeypatch) -> None:
    data = tarball({"dist/leaflet.js": b"js", "dist/leaflet.css": b"css"})
    lock = tmp_path / "package-lock.json"
    lock.write_text(json.dumps({"packages": {"node_modules/leaflet": {
        "version": "9.9.9", "resolved": "https://registry.example/leaflet-9.9.9.tgz", "integrity": sri(data)}}}))
    fetched: list[str] = []

    class Resp(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_urlopen(url, timeout):
        fetched.append(url)
        return Resp(data)

    monkeypatch.setattr(assets.urllib.request, "urlopen", fake_urlopen)
    dest = tmp_path / "vendor"
    assert not assets.present(dest, lock)
    assets.ensure(dest, lock)
    assets.ensure(dest, lock)
    assert fetched == ["https://registry.example/leaflet-9.9.9.tgz"]
    assert assets.present(dest, lock) and (dest / "leaflet" / "leaflet.js").read_bytes() == b"js"


def test_the_real_lockfile_pins_leaflet_with_an_integrity() -> None:
    pin = assets.pinned()["leaflet"]
    assert pin["integrity"].startswith("sha512-") and pin["resolved"].endswith(f"leaflet-{pin['version']}.tgz")
