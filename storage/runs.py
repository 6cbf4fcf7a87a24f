"""Heartbeats: one ``runs`` row per finished cron run and per daemon heartbeat."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from storage.db import Store

MODES = ("cron", "daemon")


@dataclass(frozen=True, slots=True)
class RunRecord:
    mode: str
    pid: int
    started_at: str
    finished_at: str
    checked: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    not_modified: int = 0
    errors: int = 0

    @classmethod
    def from_counts(
        cls, mode: str, pid: int, started_at: str, finished_at: str, counts: Mapping[str, int]
    ) -> RunRecord:
        return cls(
            mode=mode, pid=pid, started_at=started_at, finished_at=finished_at,
            checked=sum(counts.values()), new=counts.get("new", 0),
            changed=counts.get("changed", 0), unchanged=counts.get("unchanged", 0),
            not_modified=counts.get("not-modified", 0), errors=counts.get("error", 0),
        )


def record_run(store: Store, run: RunRecord) -> int:
    if run.mode not in MODES:
        raise ValueError(f"unknown run mode {run.mode!r}")
    with store.db.atomic():
        row_id = store.db.table("runs").insert(
            {name: getattr(run, name) for name in RunRecord.__slots__}).last_pk
    assert row_id is not None
    return int(row_id)


def last_run(store: Store) -> dict[str, Any] | None:
    rows = list(store.db.query("SELECT * FROM runs ORDER BY finished_at DESC, id DESC LIMIT 1"))
    return rows[0] if rows else None


def describe_run(run: dict[str, Any] | None) -> str:
    """The heartbeat line of ``govwatch status``."""
    if run is None:
        return "last run: none recorded yet"
    return (f"last run: {run['mode']} (pid {run['pid']}) finished {run['finished_at']}, "
            f"checked {run['checked']}: new {run['new']}, changed {run['changed']}, "
            f"unchanged {run['unchanged']}, not-modified {run['not_modified']}, "
            f"errors {run['errors']}")
