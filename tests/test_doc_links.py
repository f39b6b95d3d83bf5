"""Every relative link in the project's markdown, and every markdown file a document names,
exists: a newcomer following the docs never lands on a missing file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP = {".venv", ".git", "node_modules", ".pytest_cache"}
LINK = re.compile(r"\]\(([^)\s]+)\)")
MD_NAME = re.compile(r"(?<![\w/.-])((?:\.\./)*[\w./-]*[\w-]\.md)\b")


def _markdown() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.md") if not SKIP & set(p.relative_to(ROOT).parts))


def _exists(doc: Path, target: str) -> bool:
    target = target.split("#", 1)[0]
    return not target or (doc.parent / target).exists() or (ROOT / target).exists()


@pytest.mark.parametrize("doc", _markdown(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_named_documents_exist(doc: Path):
    text = doc.read_text(encoding="utf-8")
    broken = [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:|#", t) and not _exists(doc, t)]
    missing = [n for n in MD_NAME.findall(text) if not _exists(doc, n)]
    assert not broken and not missing, {"broken links": broken, "named but missing": missing}


def test_the_checker_catches_a_missing_design_document(tmp_path):
    doc = tmp_path / "README.md"
    doc.write_text("## Quirks (DESIGN.md)\nsee [api](docs/api.md)\n")
    assert not _exists(doc, "DESIGN.md") and MD_NAME.findall(doc.read_text()) == ["DESIGN.md", "docs/api.md"]
