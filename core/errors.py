"""The one exception tree of govwatch, and the kinds of failure a check records.

Every layer raises subclasses of :class:`GovwatchError`; foreign exceptions (httpx,
aiohttp, sqlite3, feedparser, YAML) are translated at the layer boundary with
``raise ... from exc`` so that callers only ever need to know this tree:

* GovwatchError
  x ConfigError
  x FetchError
    + FetchTimeout
    + ConnectFailed
    + ProtocolFailed
    + BodyTooLarge
    + UnsupportedURL
    + TooManyRedirects
  x ExtractError
  x StorageError
  x VerificationFailed
  x BadSearchQuery
  x ExportFailed
  x LockHeld
  x NotificationError
    + DeliveryFailed
    + DeliveryRejected

A bad source never stops a run: the fetch layer turns a ``FetchError`` into a failed
``FetchResult`` and the extract stage turns an ``ExtractError`` into a failed check, each
recorded with its :class:`FailureKind`. Two kinds are decisions, not failed exchanges, so
no exception carries them: an HTTP error status and a robots.txt refusal.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class FailureKind(StrEnum):
    """Why a check failed: the word its stored ``error`` starts with.

    The values are the stored text (``FetchTimeout: no complete answer within 2s``), the
    same as in rows written before this type existed; a kind carried by an exception is
    that exception's class name.
    """

    FETCH_TIMEOUT = "FetchTimeout"
    CONNECT_FAILED = "ConnectFailed"
    PROTOCOL_FAILED = "ProtocolFailed"
    BODY_TOO_LARGE = "BodyTooLarge"
    UNSUPPORTED_URL = "UnsupportedURL"
    TOO_MANY_REDIRECTS = "TooManyRedirects"
    ROBOTS_DISALLOWED = "RobotsDisallowed"
    HTTP_STATUS_FAILED = "HTTPStatusFailed"
    EXTRACT_ERROR = "ExtractError"
    RENDER_FAILED = "RenderFailed"

    def message(self, detail: str) -> str:
        """The error as stored and shown: the kind, a colon, what happened."""
        return f"{self.value}: {detail}"

    @classmethod
    def of(cls, error: str | None) -> FailureKind | None:
        """The kind a stored error names; None for none, or for a failure no kind names
        (an empty body, a 304 with no version stored)."""
        word, colon, _ = (error or "").partition(":")
        if not colon:
            return None
        try:
            return cls(word)
        except ValueError:
            return None


class GovwatchError(Exception):
    """Base class of every error govwatch raises on purpose."""


class ConfigError(GovwatchError):
    """The configuration file cannot be used; the message names the file and line."""


class FetchError(GovwatchError):
    """A source could not be fetched. Recorded as a failed check, never fatal to a run."""

    #: What the failed check records; every subclass declares its own.
    kind: ClassVar[FailureKind]


class FetchTimeout(FetchError):
    """The fetch passed its connect/read timeout or its overall deadline."""

    kind = FailureKind.FETCH_TIMEOUT


class ConnectFailed(FetchError):
    """The host could not be reached (refused, DNS failure, TLS failure...)."""

    kind = FailureKind.CONNECT_FAILED


class ProtocolFailed(FetchError):
    """The server broke HTTP: bad status line, truncated body, bad encoding..."""

    kind = FailureKind.PROTOCOL_FAILED


class BodyTooLarge(FetchError):
    """The (decoded) body passed the configured maximum size."""

    kind = FailureKind.BODY_TOO_LARGE


class UnsupportedURL(FetchError):
    """A URL or redirect target that is not http(s)."""

    kind = FailureKind.UNSUPPORTED_URL


class TooManyRedirects(FetchError):
    """The redirect chain was longer than allowed, or looped."""

    kind = FailureKind.TOO_MANY_REDIRECTS


class RenderFailed(FetchError):
    """A page could not be rendered in the browser: no browser, a crash, its deadline."""

    kind = FailureKind.RENDER_FAILED


class ExtractError(GovwatchError):
    """A fetched body could not be turned into content (invalid feed, not a PDF...)."""

    kind: ClassVar[FailureKind] = FailureKind.EXTRACT_ERROR


class StorageError(GovwatchError):
    """The SQLite store could not be opened or written."""


class VerificationFailed(GovwatchError):
    """``govwatch verify`` found altered, missing or unchained records."""


class BadSearchQuery(GovwatchError):
    """A full-text search query that SQLite FTS5 cannot parse."""


class ExportFailed(GovwatchError):
    """An export or backup file could not be written."""


class LockHeld(GovwatchError):
    """Another govwatch process holds the run lock (exit code 75: try again later)."""


class NotificationError(GovwatchError):
    """A digest could not be delivered or prepared (the channel, not a source, failed)."""


class DeliveryFailed(NotificationError):
    """A channel did not accept a digest: SMTP unreachable or refusing, feed not writable.

    What was owed stays owed; the next delivery run tries again.
    """


class DeliveryRejected(NotificationError):
    """The receiver refused one message for good (an HTTP 4xx): sending the same bytes
    again would be refused again, so it is recorded as failed, with the reason, and the
    channel goes on with its other messages."""


class DatabaseMissing(StorageError):
    """A command that only reads was pointed at a database that does not exist."""
