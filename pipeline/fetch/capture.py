"""Capture new documents: fetch once what a change announced, to keep it as it appeared."""

from __future__ import annotations

from urllib.parse import urlsplit

from core.records import Change
from monitors.base import Monitor
from pipeline.fetch.client import DEFAULT_DEADLINE, DEFAULT_MAX_BYTES, Fetcher
from storage.records import Capture, Snapshot

# A listing that gains fifty links at once is a redesign, not fifty publications.
MAX_CAPTURES_PER_CHANGE = 5


def allowed_host(monitor: Monitor, url: str) -> bool:
    """Captures stay on the monitor's own host unless the monitor lists other hosts."""
    host = (urlsplit(url).hostname or "").lower()
    own = (urlsplit(monitor.config.url).hostname or "").lower()
    allowed = {own, *(h.lower() for h in monitor.config.capture_hosts)}
    return host in allowed


async def capture_documents(monitor: Monitor, change: Change, fetcher: Fetcher) -> list[Capture]:
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
