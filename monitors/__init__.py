"""Monitor kinds: one small class per kind, registered by ``kind``.

Importing this package costs nothing: its names load on first use, the built-in kinds
(page, feed, pdf) register when a kind is first looked up (``monitor_kinds``,
``monitor_class``, ``build_monitor``), and each kind's parser library (selectolax,
feedparser, pypdf) loads when a body of that kind is first parsed. ``import
core.errors`` is all the command line needs to start (docs/architecture.md).

The lookups live here, above the kinds, because finding a kind means importing it: in
``monitors.base``, which every kind imports, they would close an import cycle.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError

if TYPE_CHECKING:
    from core.records import Change, Extracted, FetchResult, Redirect
    from monitors.base import Monitor
    from monitors.config import MonitorConfig

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
_RECORDS = frozenset({"Change", "Extracted", "FetchResult", "Redirect"})


def __getattr__(name: str) -> Any:
    # Plain imports, not importlib: tests/unit/test_imports.py sees every edge.
    if name in _RECORDS:
        from core import records

        return getattr(records, name)
    if name == "Monitor":
        from monitors.base import Monitor

        return Monitor
    if name == "MonitorConfig":
        from monitors.config import MonitorConfig

        return MonitorConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def _registry() -> dict[str, type[Monitor]]:
    """The registry of kinds, with the built-in ones in it (defining a class registers it)."""
    from monitors import feed, page, pdf  # noqa: F401
    from monitors.base import KINDS

    return KINDS


def monitor_kinds() -> dict[str, type[Monitor]]:
    """The registered kinds, by name (a copy: the registry only grows by subclassing)."""
    return dict(_registry())


def monitor_class(kind: str) -> type[Monitor]:
    kinds = _registry()
    try:
        return kinds[kind]
    except KeyError:
        raise ConfigError(
            f"unknown monitor kind {kind!r}; known kinds: {', '.join(sorted(kinds))}"
        ) from None


def build_monitor(config: MonitorConfig, org_id: str) -> Monitor:
    return monitor_class(config.kind)(config, org_id)
