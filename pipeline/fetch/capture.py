"""Capture new documents: fetch once what a change announced, to keep it as it appeared."""

from __future__ import annotations

from urllib.parse import urlsplit

from core.records import Change
from monitors.base import Monitor
from pipeline.fetch.addresses import endpoint, fetching_for
from pipeline.fetch.client import DEFAULT_DEADLINE, DEFAULT_MAX_BYTES, Fetcher
from storage.records import Capture, Snapshot

# A listing that gains fifty links at once is a redesign, not fifty publications.
MAX_CAPTURES_PER_CHANGE = 5


def allowed_host(monitor: Monitor, url: str) -> bool:
    """Captures stay on the monitor's own host and port (http and https on their default
    ports count as one) unless the monitor lists other hosts. A listed host may be on
    any port; where its address is not public, the address policy still refuses it."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return False
    host, port = endpoint(url)
    own_host, own_port = endpoint(monitor.config.url)
    if host == own_host and (port == own_port or (_default_port(url) and _default_port(
            monitor.config.url))):
        return True
    return host in {h.lower() for h in monitor.config.capture_hosts}


def _default_port(url: str) -> bool:
    parts = urlsplit(url)
    return endpoint(url)[1] == {"http": 80, "https": 443}.get(parts.scheme.lower())


async def capture_documents(monitor: Monitor, change: Change, fetcher: Fetcher) -> list[Capture]:
    with fetching_for(monitor.config.url):  # the address policy of the monitor's fetches
        return await _capture(monitor, change, fetcher)


async def _capture(monitor: Monitor, change: Change, fetcher: Fetcher) -> list[Capture]:
    documents = [d for d in change.detail.get("documents", []) if d.get("url")]
    captures = []
    for document in documents[:MAX_CAPTURES_PER_CHANGE]:
        url, title = str(document["url"]), str(document.get("title") or "")
        if not allowed_host(monitor, url):
            continue
        fetched = await fetcher.get(
            url, monitor_id=monitor.id, headers={"Accept": "*/*"},
            deadline=(monitor.config.timeout or DEFAULT_DEADLINE).total_seconds(),
            max_bytes=monitor.config.max_bytes or DEFAULT_MAX_BYTES,
        )
        snapshot = None
        error = fetched.error
        if error is None and fetched.status is not None and fetched.status >= 400:
            error = f"HTTP {fetched.status} {fetched.reason}".strip()
        elif error is None and fetched.body:
            snapshot = Snapshot.of(fetched.body, fetched.content_type)
        captures.append(Capture(
            url=url, title=title, fetched_at=fetched.started_at, status=fetched.status,
            final_url=fetched.final_url, snapshot=snapshot, error=error,
        ))
    return captures
