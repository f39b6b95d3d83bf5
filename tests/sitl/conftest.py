"""tests/sitl shares its name with the ``sitl`` package: with tests/ on sys.path (rootdir conftest,
prepend import mode) ``import sitl`` could resolve to this directory as a namespace package. Make
sure the real package wins."""

from __future__ import annotations

import pathlib
import sys

ROOT = str(pathlib.Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
_mod = sys.modules.get("sitl")
if _mod is not None and getattr(_mod, "__file__", None) is None:
    del sys.modules["sitl"]
