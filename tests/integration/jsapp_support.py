"""A JavaScript app on the test site: an HTML shell whose script builds the page from JSON.

The shell alone shows no content (a plain ``page`` monitor sees an app shell); rendered
in a browser it lists the JSON's items, a random session id and the time of rendering,
which differ on every render (the app's own noise). ``serve_app`` puts it on a
:class:`~tests.integration.conftest.Site`; the test changes the JSON between cycles.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline.fetch.browser import find_browser

needs_browser = pytest.mark.skipif(find_browser(None) is None,
                                   reason="no chromium on the PATH (apt-get install chromium)")

SHELL = """<!doctype html>
<html><head><title>Grants register</title>
<link rel="icon" href="/favicon.ico"></head>
<body>
<div id="root"></div>
<noscript>You need to enable JavaScript to run this app.</noscript>
<img src="/logo.png" alt="">
<script src="/app.js"></script>
</body></html>
"""

APP = """
fetch('/api/grants.json').then(r => r.json()).then(data => {
  const items = data.items.map(i =>
    '<li><a href="/grants/' + i.id + '">' + i.name + ': ' + i.amount + ' EUR</a></li>');
  document.getElementById('root').innerHTML =
    '<main><h1>' + data.title + '</h1>' +
    '<p>The register lists every grant the ministry awarded this year, with the amount ' +
    'and the recipient, as published by the grants office.</p>' +
    '<ul>' + items.join('') + '</ul>' +
    '<p>Session ' + Math.random().toString(36).slice(2, 12) + '</p>' +
    '<p>Rendered at ' + new Date().toISOString() + '</p>' +
    '<p id="ready">Loaded</p></main>';
});
"""

# A page whose script keeps the network busy: it never reaches network idle.
RESTLESS = """<!doctype html><html><head><title>Ticker</title></head><body>
<div id="root"></div>
<script>setInterval(() => fetch('/api/tick.json?' + Math.random()), 100);</script>
</body></html>
"""


def grants(amount: int = 100, *, extra: bool = False) -> dict[str, Any]:
    items = [{"id": 1, "name": "Water board", "amount": amount},
             {"id": 2, "name": "School meals", "amount": 40}]
    if extra:
        items.append({"id": 3, "name": "Rail safety", "amount": 75})
    return {"title": "Grants awarded", "items": items}


def serve_app(site: Any, data: dict[str, Any], *, prefix: str = "") -> str:
    """Serve the app at ``prefix``/app.html with ``data`` as its JSON; returns its URL."""
    site.set(f"{prefix}/app.html", SHELL.replace("/app.js", f"{prefix}/app.js"))
    site.set(f"{prefix}/app.js", APP.replace("/api/", f"{prefix}/api/"),
             content_type="application/javascript")
    set_data(site, data, prefix=prefix)
    site.set("/logo.png", b"\x89PNG\r\n\x1a\n", content_type="image/png")
    site.set("/api/tick.json", "{}", content_type="application/json")
    return str(site.url(f"{prefix}/app.html"))


def set_data(site: Any, data: dict[str, Any], *, prefix: str = "") -> None:
    site.set(f"{prefix}/api/grants.json", json.dumps(data), content_type="application/json")
