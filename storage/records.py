"""Records that storage persists, and the rows it hands back to readers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.records import Extracted, Redirect, Volatile

OUTCOMES = ("new", "changed", "unchanged", "not-modified", "blocked", "error", "confirm")
#: A second copy fetched moments after a check that found a difference: what differs
#: between the two copies changes by itself. It leaves the monitor's state as it was.
CONFIRM = "confirm"
#: Outcomes whose text ``search`` finds (``storage.search.store_texts``).
SEARCHED_OUTCOMES = frozenset({"new", "changed"})
# Outcomes that reset the failure count: the source answered and we understood it.
SUCCESS_OUTCOMES = frozenset({"new", "changed", "unchanged", "not-modified"})


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """The one timestamp format in the store: ISO 8601, UTC, milliseconds; sorts as text."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A raw body, addressed by the SHA-256 of its bytes."""

    hash: str
    body: bytes
    content_type: str
    #: The body already compressed with the store's codec (done in a parsing worker).
    compressed: bytes | None = None
    #: The raw body's length when ``body`` was left behind (``compressed`` holds it all).
    raw_size: int | None = None
    #: A DOM rendered in a browser: the HTML the server sent for it, stored beside it.
    served: Snapshot | None = None

    @property
    def size(self) -> int:
        return self.raw_size if self.raw_size is not None else len(self.body)

    @classmethod
    def of(cls, body: bytes, content_type: str = "") -> Snapshot:
        return cls(hashlib.sha256(body).hexdigest(), body, content_type)


@dataclass(frozen=True, slots=True)
class PackedContent:
    """Extracted content as a parsing worker hands it to the store: its hash and its
    canonical JSON (``Extracted.payload``) compressed whole. A fraction of the size of the
    text and data themselves, which the writing process does not need."""

    hash: str
    compressed: bytes


@dataclass(frozen=True, slots=True)
class Check:
    """One fetch attempt of one monitor, whatever its outcome."""

    monitor_id: str
    started_at: str
    duration_ms: int
    url: str
    outcome: str
    final_url: str | None = None
    status: int | None = None
    redirects: tuple[Redirect, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    bytes: int = 0
    error: str | None = None
    snapshot_hash: str | None = None
    content_hash: str | None = None
    #: Why the check was judged as it was, when that needs saying (noise, a copy).
    note: str | None = None
    #: A page rendered in a browser: the snapshot of the HTML the server sent
    #: (``snapshot_hash`` is the rendered DOM, which was compared).
    served_snapshot_hash: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown check outcome {self.outcome!r}")


@dataclass(frozen=True, slots=True)
class Copy:
    """A confirming copy: its check (outcome ``confirm``), body and content, recorded
    just before the check it confirms, and what the two copies taught (``learned``)."""

    check: Check
    snapshot: Snapshot | None = None
    content: Extracted | PackedContent | None = None
    learned: tuple[Volatile, ...] = ()


@dataclass(frozen=True, slots=True)
class Capture:
    """A new document fetched once when a change announced it."""

    url: str
    title: str
    fetched_at: str
    status: int | None = None
    final_url: str | None = None
    snapshot: Snapshot | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    """Ids assigned when a check (and maybe its change) was committed."""

    check_id: int
    change_id: int | None


@dataclass(frozen=True, slots=True)
class MonitorState:
    """What the pipeline needs to know of a monitor's past to process a new fetch."""

    monitor_id: str
    etag: str | None
    last_modified: str | None
    last_snapshot_hash: str | None
    last_content_hash: str | None
    last_check_at: str | None
    next_due_at: str | None
    consecutive_failures: int
    signal: str | None = None
    last_final_url: str | None = None
    #: When the baseline content (``last_content_hash``) was fetched.
    last_content_at: str | None = None


@dataclass(frozen=True, slots=True)
class NextAttempt:
    """Where the scheduler puts a monitor's next attempt (ISO 8601 UTC text)."""

    next_due_at: str
    #: Set while failures push the attempt past the regular schedule.
    backoff_until: str | None = None
    #: Set when the server's Retry-After asked for a later attempt.
    retry_after: str | None = None
