"""SQLite history of govwatch: schema, migrations, content-addressed snapshots.

Its names load on first use, so importing a light module such as ``storage.records``
does not load SQLite and sqlite-utils (docs/architecture.md, "Start-up").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage.db import Store
    from storage.records import Check, Snapshot

_HOMES = {"Check": "storage.records", "Snapshot": "storage.records", "Store": "storage.db"}
__all__ = ["Check", "Snapshot", "Store"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
