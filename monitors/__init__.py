"""Monitor kinds: one small class per kind, registered by ``kind``.

Importing this package costs nothing: its names load on first use, the built-in kinds
(page, feed, pdf) register when the registry is first asked (``monitor_kinds``,
``monitor_class``, ``build_monitor``), and each kind's parser library (selectolax,
feedparser, pypdf) loads when a body of that kind is first parsed. ``import
core.errors`` is all the command line needs to start (docs/architecture.md).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.records import Change, Extracted, FetchResult, Redirect
    from monitors.base import Monitor, build_monitor, monitor_class, monitor_kinds
    from monitors.config import MonitorConfig

_HOMES = {
    "Change": "core.records",
    "Extracted": "core.records",
    "FetchResult": "core.records",
    "Monitor": "monitors.base",
    "MonitorConfig": "monitors.config",
    "Redirect": "core.records",
    "build_monitor": "monitors.base",
    "monitor_class": "monitors.base",
    "monitor_kinds": "monitors.base",
}
__all__ = [
    "Change",
    "Extracted",
    "FetchResult",
    "Monitor",
    "MonitorConfig",
    "Redirect",
    "build_monitor",
    "monitor_class",
    "monitor_kinds",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
