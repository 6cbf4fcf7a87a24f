"""Typed, validated settings of one monitor and the value types they use.

These models live with the monitors (not in ``pipeline``) because each kind reads its
own settings; the pipeline's config loader composes them into the whole file's model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
)

from core.settings import (
    ByteSize,
    Duration,
    HttpURL,
    PatternList,
    SelectorList,
    StrictModel,
    WordList,
)

# Settings that decide what a monitor extracts; changing one starts a new baseline.
EXTRACTION_KEYS = ("kind", "url", "select", "exclude", "ignore_selectors", "render")

#: How a page is read: the HTML the server sends, or the DOM a browser built from it.
Render = Literal["plain", "browser"]


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
    # Noise the user names (applied before comparing; the snapshot is always stored
    # whole). What changes by itself is learned per monitor, without configuration.
    ignore: PatternList = ()
    ignore_selectors: SelectorList = ()
    #: The order of lines and links is content (a ranked list): a reordering is a change.
    ordered: bool = False
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
    #: ``browser``: compare the DOM headless Chromium renders (pages built by JavaScript).
    render: Render | None = None
    #: With ``render: browser``: the page is read once this CSS selector is in the DOM
    #: (instead of once the network is idle).
    wait_for: str | None = None
