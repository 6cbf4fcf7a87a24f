"""A rendered page's own requests follow the address policy of govwatch's fetches.

The page is on the test site (127.0.0.1, port A): a monitor of a private address may stay
on its own configured host and port, and nowhere else. Another live server on 127.0.0.1
(port B) records every connection made to it, whether or not a request follows; the page
tries every way a page has to reach it (scripts, styles, frames, fetch, XHR, a redirect,
a WebSocket, a beacon, preconnect and prefetch hints) and to read a local file (file:
URLs, a data: document). The server must see nothing, while the page's own data on port A
loads and its content renders.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config import Config, parse_config
from pipeline.cycle import CycleReport, run_cycle, select_monitors
from storage.db import Store
from tests.integration.conftest import Site
from tests.integration.jsapp_support import needs_browser

pytestmark = pytest.mark.integration


class Recorder:
    """A TCP server that records every connection and what was sent on it; it answers
    anything with a permissive 200, so that a request that got through would show."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._seen: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def seen(self) -> list[bytes]:
        with self._lock:
            return list(self._seen)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed: the test is over
                return
            with connection:
                connection.settimeout(1.0)
                try:
                    first = connection.recv(4096)
                except OSError:
                    first = b""
                with self._lock:
                    self._seen.append(first or b"(a connection, nothing sent)")
                body = b"reached B"
                with contextlib.suppress(OSError):
                    connection.sendall(
                        b"HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\n"
                        b"Content-Type: text/plain\r\nContent-Length: "
                        + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "govwatch.db") as opened:
        yield opened


def make_config(url: str) -> Config:
    document = {
        "defaults": {"every": "1h", "timeout": "20s"},
        "organizations": [{"id": "ministry", "name": "Ministry", "monitors": [
            {"id": "escape", "kind": "page", "url": url, "render": "browser",
             "robots": False}]}],
    }
    return parse_config(json.dumps(document), "test-config.yaml")


async def cycle(config: Config, store: Store) -> CycleReport:
    store.sync_monitors(config.organizations)
    return await run_cycle(config, store, select_monitors(config, store, run_all=True))


def rendered_text(store: Store, report: CycleReport) -> str:
    [check] = report.checks
    assert (check.outcome, check.error) == ("new", None)
    [stored] = store.db.query("SELECT content_hash FROM checks WHERE id = ?", [check.check_id])
    return str(store.load_content(stored["content_hash"]).text)


# Each attempt ends as a line "NAME: reached" or "NAME: refused" in the page; the page's
# own data is read only after every attempt has ended, so its content proves they ran.
ESCAPES = """
const B = '%(b)s';
const settle = (promise) => Promise.race([
  promise.then(() => 'reached', () => 'refused'),
  new Promise(ok => setTimeout(() => ok('no answer'), 4000))]);
const xhr = (url) => new Promise((ok, no) => {
  const x = new XMLHttpRequest(); x.open('GET', url);
  x.onload = () => x.responseText ? ok() : no(); x.onerror = no; x.send(); });
const socket = (url) => new Promise((ok, no) => {
  const w = new WebSocket(url); w.onopen = ok; w.onerror = no; w.onclose = no; });
const tries = {
  'fetch to B': fetch(B + '/fetch').then(r => r.text()),
  'no-cors fetch to B': fetch(B + '/no-cors', {mode: 'no-cors'}),
  'XHR to B': xhr(B + '/xhr'),
  'redirect to B': fetch('/to-b').then(r => r.text()).then(
    t => t.includes('reached B') ? t : Promise.reject(t)),
  'WebSocket to B': socket(B.replace('http:', 'ws:') + '/ws'),
  'POST to B': fetch(B + '/post', {method: 'POST', body: 'x'}),
  'file fetch': fetch('file:///etc/passwd').then(r => r.text()),
  'file XHR': xhr('file:///etc/passwd'),
  'beacon to B': new Promise((ok, no) =>
    navigator.sendBeacon(B + '/beacon', 'x') ? setTimeout(no, 500) : no()),
};
Promise.all(Object.entries(tries).map(([name, p]) => settle(p).then(r => name + ': ' + r)))
  .then(lines => fetch('/api/own').then(r => r.json()).then(data => {
    document.getElementById('root').innerHTML =
      '<h1>' + data.title + '</h1><ul>' + lines.map(l => '<li>' + l + '</li>').join('') +
      '</ul><p id="done">All attempts ended.</p>';
  }));
"""

PAGE = """<!doctype html><html><head><title>Escapes</title>
<link rel="preconnect" href="%(b)s">
<link rel="dns-prefetch" href="%(b)s">
<link rel="prefetch" href="%(b)s/prefetch">
<link rel="stylesheet" href="%(b)s/style.css">
<script src="%(b)s/script.js"></script>
</head><body><main id="root"></main>
<iframe src="%(b)s/frame"></iframe>
<iframe src="/to-b-frame"></iframe>
<iframe src="file:///etc/passwd"></iframe>
<iframe src="data:text/html,<script>fetch('%(b)s/from-data-frame')</script>"></iframe>
<iframe name="sink"></iframe>
<a ping="%(b)s/ping" href="/nowhere" target="sink" id="link">link</a>
<script>document.getElementById('link').click();</script>
<script src="/escapes.js"></script>
</body></html>
"""


def serve_escapes(site: Site, recorder: Recorder) -> None:
    b = recorder.url("")
    site.set("/escapes.html", PAGE % {"b": b})
    site.set("/escapes.js", ESCAPES % {"b": b}, content_type="application/javascript")
    site.set("/api/own.json", json.dumps({"title": "Own data on its own port"}),
             content_type="application/json")
    site.redirect("/api/own", "/api/own.json", status=302)  # a redirect it may follow
    site.redirect("/to-b", recorder.url("/redirected"), status=302)
    site.redirect("/to-b-frame", recorder.url("/redirected-frame"), status=302)
    site.set("/nowhere", "<p>nowhere</p>")


@needs_browser
async def test_a_page_reaches_only_its_own_host_and_port(
    site: Site, recorder: Recorder, store: Store
) -> None:
    serve_escapes(site, recorder)

    text = rendered_text(store, await cycle(make_config(site.url("/escapes.html")), store))

    assert "Own data on its own port" in text and "All attempts ended." in text
    assert recorder.seen == [], recorder.seen
    for name in ("fetch to B", "no-cors fetch to B", "XHR to B", "redirect to B",
                 "WebSocket to B", "POST to B", "file fetch", "file XHR"):
        assert f"{name}: refused" in text, text
    assert "root:" not in text
    # The check and its confirming copy each followed the redirect on its own port.
    assert site.hits("/api/own") == site.hits("/api/own.json") == 2


@needs_browser
async def test_another_name_of_the_same_machine_is_another_host(
    site: Site, store: Store
) -> None:
    """The monitor is configured as ``localhost``: its page may use that name and port,
    not ``127.0.0.1`` (the same server under another name is not its configured host)."""
    port = site.base_url.rsplit(":", 1)[1]
    site.set("/named.html", NAMED.replace("PORT", port))
    site.set("/api/own.json", json.dumps({"title": "Own data under its own name"}),
             content_type="application/json")
    site.set("/api/secret.json", "{}", content_type="application/json")

    text = rendered_text(store, await cycle(make_config(f"http://localhost:{port}/named.html"),
                                            store))

    assert "Own data under its own name" in text
    assert "The other name: refused." in text
    assert site.hits("/api/secret.json") == 0
    assert site.hits("/api/own.json") == 2


NAMED = """<!doctype html><html><head><title>Named</title></head>
<body><main id="root"></main><script>
fetch('http://127.0.0.1:PORT/api/secret.json').then(() => 'reached', () => 'refused')
  .then(how => fetch('/api/own.json').then(r => r.json()).then(data => {
    document.getElementById('root').innerHTML =
      '<h1>' + data.title + '</h1><p>The other name: ' + how + '.</p>'; }));
</script></body></html>"""


def test_the_recorder_sees_a_plain_connection(recorder: Recorder) -> None:
    """The recorder itself works: a connection with nothing sent is still recorded."""
    with socket.create_connection(("127.0.0.1", recorder.port)) as connection:
        connection.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert b"reached B" in connection.recv(4096)
    assert recorder.seen == [b"GET / HTTP/1.0\r\n\r\n"]
