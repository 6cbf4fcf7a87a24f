"""Typed, validated settings of one monitor and the value types they use.

These models live with the monitors (not in ``pipeline``) because each kind reads its
own settings; the pipeline's config loader composes them into the whole file's model.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> timedelta:
    """``30s``, ``15m``, ``6h``, ``1d`` -> timedelta. A bare number is refused: units matter."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    raise ValueError(f"bad duration {value!r}: use a number and a unit s, m, h or d (e.g. 30s, 6h)")


def format_duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]

_SIZE = re.compile(r"^\s*(\d+)\s*(b|kb|mb|gb|kib|mib|gib)?\s*$", re.IGNORECASE)
_SIZE_FACTOR = {
    "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3,
}


def parse_size(value: Any) -> int:
    """``5000000``, ``500kB``, ``10MB``, ``8MiB`` -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match and int(match.group(1)) > 0:
            return int(match.group(1)) * _SIZE_FACTOR[(match.group(2) or "b").lower()]
    raise ValueError(f"bad size {value!r}: use a positive number of bytes, or e.g. 500kB, 10MB")


ByteSize = Annotated[int, BeforeValidator(parse_size)]


def check_http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"url {url!r} must be an absolute http:// or https:// URL")
    return url


HttpURL = Annotated[str, AfterValidator(check_http_url)]


class StrictModel(BaseModel):
    """Refuses unknown keys, so a typo fails at load time instead of being ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


SelectorList = Annotated[tuple[str, ...], BeforeValidator(_as_list)]
WordList = Annotated[tuple[str, ...], BeforeValidator(_as_list)]


def _check_patterns(patterns: tuple[str, ...]) -> tuple[str, ...]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
    return patterns


PatternList = Annotated[
    tuple[str, ...], BeforeValidator(_as_list), AfterValidator(_check_patterns)
]


# Settings that decide what a monitor extracts; changing one starts a new baseline.
EXTRACTION_KEYS = ("kind", "url", "select", "exclude", "ignore_selectors")


class MonitorConfig(StrictModel):
    """One monitored URL. Unset optional keys inherit from ``defaults``."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    kind: str
    url: HttpURL
    name: str | None = None
    every: Duration | None = None
    enabled: bool = True
    select: str | None = None
    exclude: SelectorList = ()
    timeout: Duration | None = None
    max_bytes: ByteSize | None = None
    # Noise control (applied before comparing; the snapshot is always stored whole).
    ignore: PatternList = ()
    ignore_selectors: SelectorList = ()
    filter_dates: bool = True
    # Focus: only entries / new links whose title or summary match count as changes.
    keywords: WordList = ()
    exclude_keywords: WordList = ()
    min_significance: float = Field(default=0.0, ge=0.0, le=1.0)
    # New documents announced by a listing page or feed are fetched once and kept.
    capture_new_documents: bool = False
    capture_hosts: WordList = ()
    #: A crontab expression (in ``defaults.timezone``); replaces ``every`` for due times.
    cron: str | None = None
    per_host: int | None = Field(default=None, ge=1, le=64)
    host_delay: Duration | None = None
    robots: bool = True
