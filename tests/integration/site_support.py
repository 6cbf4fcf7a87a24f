"""Helpers of the archive site tests: a history with hostile and ordinary changes, a link
checker over the generated files, and a static file server on loopback.

The changes go through the real ``Store.record`` (``digest_support.record_change``); the
server is the standard library's, serving the directory as nginx would.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from core.records import Change
from pipeline.config import Config, parse_config
from storage.db import Store
from tests.integration.digest_support import (
    XSS_ATTRIBUTE,
    XSS_SCRIPT,
    config_text,
    feed_change,
    free_port,
    page_change,
    record_change,
    record_failure,
    started,
)

WORD_DIFF = ("--- before\n+++ after\n@@ -1,3 +1,3 @@\n Consultation on AI incidents\n"
             "-Comments are due by 1 May 2026.\n+Comments are due by 3 June 2026.\n"
             " Send them to the secretariat.")
SITE_URL = "https://watch.example.org/govwatch/"
FEED_URL = "https://watch.example.org/feeds/"


@dataclass(frozen=True)
class History:
    config: Config
    deadline: int  # a page change with a word-level edit
    hostile: int  # fetched text carrying markup and a javascript: link
    document: int  # a listing page announcing a new document
    entry: int  # a feed's new entry
    later: int  # the deadline page again: the change after ``deadline``


def site_config(tmp_path: Path, *, site_url: str | None = SITE_URL,
                feed_url: str | None = FEED_URL) -> Config:
    text = config_text(free_port(), tmp_path / "feeds")
    if feed_url:
        text += f"    public_url: {feed_url}\n"
    text += f"site:\n  directory: {tmp_path / 'site'}\n"
    if site_url:
        text += f"  public_url: {site_url}\n"
    return parse_config(text)


def record_history(store: Store, config: Config) -> History:
    started(config, store)
    deadline = record_change(store, "oecd-news", Change(
        "text", "deadline moved", WORD_DIFF, {}, 0.9, ("dates changed",)))
    hostile = record_change(store, "unidir-pubs", Change(
        kind="text", summary=XSS_SCRIPT, diff=f"+{XSS_SCRIPT}\n-{XSS_ATTRIBUTE}",
        detail={"links_added": [["javascript:alert(1)", XSS_ATTRIBUTE]],
                "documents": [{"url": "javascript:alert(1)", "title": XSS_SCRIPT}]},
        significance=0.7))
    document = record_change(store, "unidir-pubs", page_change(
        "Annual report", "https://unidir.org/annual.pdf", "Annual report"))
    entry = record_change(store, "unidir-feed", feed_change("Two", "https://unidir.org/two"))
    later = record_change(store, "oecd-news", Change("text", "new call", "+A new call", {}))
    record_failure(store, "unidir-feed", "2026-11-28T12:00:00.000+00:00", "HTTP 503")
    return History(config, deadline, hostile, document, entry, later)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.csp: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("href", "src"):
            if values.get(name) is not None:
                self.links.append(str(values[name]))
        if tag == "meta" and (values.get("http-equiv") or "").lower() == \
                "content-security-policy":
            self.csp.append(values.get("content") or "")
        if tag == "script":
            self.scripts += 1


@dataclass(frozen=True)
class PageLinks:
    internal: dict[str, list[str]]  # page -> internal links that do not resolve
    external: set[str]
    csp: dict[str, list[str]]
    scripts: int
    pages: int


def check_links(directory: Path) -> PageLinks:
    """Every link and source of every generated page: internal ones must name a file."""
    broken: dict[str, list[str]] = {}
    external: set[str] = set()
    csp: dict[str, list[str]] = {}
    scripts = pages = 0
    for page in sorted(directory.rglob("*.html")):
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        name = page.relative_to(directory).as_posix()
        csp[name] = parser.csp
        scripts += parser.scripts
        pages += 1
        for link in parser.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc:
                external.add(link)
                continue
            if not parts.path:
                continue  # a fragment of the same page
            target = (page.parent / unquote(parts.path)).resolve()
            if not target.is_file() or directory.resolve() not in target.parents:
                broken.setdefault(name, []).append(link)
    return PageLinks(broken, external, csp, scripts, pages)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` as static files on 127.0.0.1; yields the base URL."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="static-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
