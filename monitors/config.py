"""Typed, validated settings of one monitor and the value types they use.

These models live with the monitors (not in ``pipeline``) because each kind reads its
own settings; the pipeline's config loader composes them into the whole file's model.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
)

# Re-exported: they were defined here first.
from monitors.units import check_http_url as check_http_url
from monitors.units import format_duration as format_duration
from monitors.units import parse_duration as parse_duration
from monitors.units import parse_size as parse_size

Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]

ByteSize = Annotated[int, BeforeValidator(parse_size)]


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
