"""Monitor kinds: one small class per kind, registered by ``kind``.

Importing this package registers the built-in kinds (page, feed, pdf).
"""

from monitors import feed, page, pdf  # noqa: F401  (registers the kinds)
from monitors.base import Monitor, build_monitor, monitor_class, monitor_kinds
from monitors.config import MonitorConfig
from monitors.records import Change, Extracted, FetchResult, Redirect

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
