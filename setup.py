"""Only a build hook; the project's metadata is in pyproject.toml. Building the package (wheel or
install) first fetches the console's pinned Leaflet files (ground_control/console/assets.py,
sha512-checked against the lockfile) so package-data ships them and a pip-installed ground
control serves the console without Node and without a CDN."""

from __future__ import annotations

import runpy
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithConsoleAssets(build_py):
    def run(self) -> None:
        assets = runpy.run_path(str(Path(__file__).resolve().parent / "ground_control" / "console" / "assets.py"))
        assets["ensure"]()
        super().run()


setup(cmdclass={"build_py": BuildPyWithConsoleAssets})
