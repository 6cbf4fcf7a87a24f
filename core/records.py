"""Frozen records that move between the stages of a cycle.

``FetchResult`` leaves the fetch layer, ``Extracted`` leaves a monitor's ``extract``, and
``Change`` leaves its ``compare``. They are plain values: no I/O, no database handles.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from core.canonical import canonical_bytes, canonical_json
from core.errors import FailureKind


@dataclass(frozen=True, slots=True)
class Redirect:
    status: int
    url: str


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One fetch attempt, successful or not."""

    monitor_id: str
    url: str
    started_at: str
    duration_ms: int
    final_url: str | None = None
    status: int | None = None
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    redirects: tuple[Redirect, ...] = ()
    body: bytes | None = None
    bytes_received: int = 0
    #: ``error_kind.message(...)``: what the check stores and shows.
    error: str | None = None
    error_kind: FailureKind | None = None
    #: A page rendered in a browser: the HTML the server sent (``body`` is then the DOM
    #: the browser built from it, which is what is extracted and compared).
    served_body: bytes | None = None

    @classmethod
    def failure(
        cls, monitor_id: str, url: str, started_at: str, duration_ms: int,
        kind: FailureKind, detail: str,
    ) -> FetchResult:
        """A fetch that ended without an answer to use."""
        return cls(monitor_id=monitor_id, url=url, started_at=started_at,
                   duration_ms=duration_ms, error=kind.message(detail), error_kind=kind)

    @property
    def not_modified(self) -> bool:
        return self.status == 304 and self.error is None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass(frozen=True)
class Extracted:
    """What a monitor kind keeps of a body: readable text plus kind-specific data.

    ``text`` is what a person reads and what the unified diff runs over; ``data`` holds
    structure (links, feed entries, PDF facts) as JSON-compatible values.
    """

    text: str
    data: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def data_json(self) -> str:
        """``canonical_json(data)`` (the ``data`` column of stores before schema 7)."""
        return canonical_json(self.data)

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of ``payload``."""
        return hashlib.sha256(self.payload).hexdigest()

    @cached_property
    def payload(self) -> bytes:
        """``canonical_bytes({"text": text, "data": data})``: what is hashed and stored."""
        return canonical_bytes({"data": self.data, "text": self.text})

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to and from parsing workers) without the cached serializations: they
        are as large as the content itself, and cheaper to redo where they are needed."""
        return {k: v for k, v in self.__dict__.items() if k not in ("payload", "data_json")}


# Why a change is recorded without being announced (``Change.quiet``).
TEMPLATE_ONLY = "site template only"
METADATA_ONLY = "PDF metadata only, same text"


@dataclass(frozen=True, slots=True)
class Change:
    """A difference between two versions of one monitor's extracted content."""

    kind: str
    summary: str
    diff: str
    detail: dict[str, Any] = field(default_factory=dict)
    #: 0..1, how much this change should matter to a reader, with the reasons why.
    significance: float = 1.0
    reasons: tuple[str, ...] = ()
    #: Why the change is kept in the history but not announced (None: announced).
    quiet: str | None = None


@dataclass(frozen=True, slots=True, order=True)
class Volatile:
    """One thing a monitor learned changes by itself on its source: its kind (line, slot,
    rotating, link, link-slot, link-rotating, param, segment, field, recurring,
    recurring-slot), where on the source, and what (``monitors.volatility``,
    ``monitors.recurring``)."""

    kind: str
    where: str
    what: str
