"""The one exception tree of govwatch.

Every layer raises subclasses of :class:`GovwatchError`; foreign exceptions (httpx,
sqlite3, feedparser, YAML) are translated at the layer boundary with ``raise ... from exc``
so that callers only ever need to know this tree.
"""

from __future__ import annotations


class GovwatchError(Exception):
    """Base class of every error govwatch raises on purpose."""


class ConfigError(GovwatchError):
    """The configuration file cannot be used; the message names the file and line."""


class FetchError(GovwatchError):
    """A source could not be fetched. Recorded as a failed check, never fatal to a run."""


class FetchTimeout(FetchError):
    """The fetch passed its connect/read timeout or its overall deadline."""


class ConnectFailed(FetchError):
    """The host could not be reached (refused, DNS failure, TLS failure...)."""


class HTTPStatusFailed(FetchError):
    """The server answered with an error status (4xx/5xx)."""

    def __init__(self, message: str, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        #: Lower-cased response headers, kept as evidence (e.g. Retry-After on 429/503).
        self.headers = dict(headers or {})


class BodyTooLarge(FetchError):
    """The (decoded) body passed the configured maximum size."""


class UnsupportedURL(FetchError):
    """A URL or redirect target that is not http(s)."""


class TooManyRedirects(FetchError):
    """The redirect chain was longer than allowed, or looped."""


class ProtocolFailed(FetchError):
    """The server broke HTTP: bad status line, truncated body, bad encoding..."""


class ExtractError(GovwatchError):
    """A fetched body could not be turned into content (invalid feed, not a PDF...)."""


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


class RobotsDisallowed(FetchError):
    """The site's robots.txt disallows the URL for govwatch; it was not fetched."""


class NotificationError(GovwatchError):
    """A digest could not be delivered or prepared (the channel, not a source, failed)."""


class DeliveryFailed(NotificationError):
    """A channel did not accept a digest: SMTP unreachable or refusing, feed not writable.

    What was owed stays owed; the next delivery run tries again.
    """


class DatabaseMissing(StorageError):
    """A command that only reads was pointed at a database that does not exist."""
