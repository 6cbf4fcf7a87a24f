"""SQLite history of govwatch: schema, migrations, content-addressed snapshots.

Its names load on first use, so importing a light module such as ``storage.records``
does not load SQLite and sqlite-utils (docs/architecture.md, "Start-up").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage.db import Store
    from storage.records import Check, Snapshot

__all__ = ["Check", "Snapshot", "Store"]


def __getattr__(name: str) -> Any:
    # Plain imports, not importlib: tests/unit/test_imports.py sees every edge.
    if name in ("Check", "Snapshot"):
        from storage import records

        return getattr(records, name)
    if name == "Store":
        from storage.db import Store

        return Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
