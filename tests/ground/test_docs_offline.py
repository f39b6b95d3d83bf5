"""The interactive API docs work without internet: /docs and /redoc reference no external host,
and every script, stylesheet and icon they load is served by ground control itself."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|(?:url|openapi_url)\s*[:=]\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_api_docs_load_nothing_from_another_host(client, page):
    r = await client.get(page)
    assert r.status_code == 200
    html = r.text
    external = re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s\"'<>)]*", html)
    assert external == [], external
    assets = {a or b for a, b in ASSET.findall(html)}
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts, html  # the page does load its UI from somewhere
    for url in assets:
        parts = urlsplit(url)
        assert not parts.netloc and not parts.scheme, url
        got = await client.get(parts.path)
        assert got.status_code == 200, (url, got.status_code)
        assert got.content, url
