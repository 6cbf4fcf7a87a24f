"""The pure middle of a check: extract and compare, from values to values.

Nothing here touches the network or the database; the run loop hands in what was fetched
and what was stored, and gets back what to store.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitors.base import Monitor
from monitors.errors import ExtractError
from monitors.records import Change, Extracted, FetchResult
from storage.records import Check, MonitorState, Snapshot


@dataclass(frozen=True, slots=True)
class Outcome:
    """Everything one check produced, ready for ``Store.record``."""

    check: Check
    snapshot: Snapshot | None = None
    content: Extracted | None = None
    change: Change | None = None


def base_check(fetched: FetchResult, outcome: str, **fields: object) -> Check:
    return Check(
        monitor_id=fetched.monitor_id, started_at=fetched.started_at,
        duration_ms=fetched.duration_ms, url=fetched.url, final_url=fetched.final_url,
        status=fetched.status, redirects=fetched.redirects, headers=fetched.headers,
        bytes=fetched.bytes_received, outcome=outcome, **fields,  # type: ignore[arg-type]
    )


def failed(fetched: FetchResult, error: str, snapshot: Snapshot | None = None) -> Outcome:
    check = base_check(
        fetched, "error", error=error, snapshot_hash=snapshot.hash if snapshot else None
    )
    return Outcome(check=check, snapshot=snapshot)


def extract(monitor: Monitor, fetched: FetchResult) -> tuple[Snapshot, Extracted | str]:
    """Stage 2. The snapshot always survives; a failed extraction returns its message."""
    body = fetched.body or b""
    snapshot = Snapshot.of(body, fetched.content_type)
    if not body:
        return snapshot, "empty body: the server answered 200 with no content"
    try:
        return snapshot, monitor.extract(
            body, content_type=fetched.content_type, url=fetched.final_url or fetched.url
        )
    except ExtractError as exc:
        return snapshot, f"ExtractError: {exc}"
    except (ValueError, TypeError, RecursionError, UnicodeError) as exc:
        # A parser choking on hostile input is a bad source, not a bug in the run.
        return snapshot, f"ExtractError: {type(exc).__name__}: {exc}"


def not_modified(fetched: FetchResult, state: MonitorState) -> Outcome:
    if state.last_snapshot_hash is None:
        return failed(fetched, "HTTP 304 Not Modified, but no earlier version is stored")
    check = base_check(
        fetched, "not-modified",
        snapshot_hash=state.last_snapshot_hash, content_hash=state.last_content_hash,
    )
    return Outcome(check=check)


def compare(
    monitor: Monitor,
    fetched: FetchResult,
    snapshot: Snapshot,
    new: Extracted,
    previous: Extracted | None,
) -> Outcome:
    """Stage 3: ``new`` against the monitor's previous content (None for a first check)."""
    ids = {"snapshot_hash": snapshot.hash, "content_hash": new.content_hash}
    if previous is None:
        return Outcome(base_check(fetched, "new", **ids), snapshot, new)
    change = monitor.compare(previous, new)
    outcome = "changed" if change is not None else "unchanged"
    return Outcome(base_check(fetched, outcome, **ids), snapshot, new, change)
