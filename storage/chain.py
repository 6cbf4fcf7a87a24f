"""The tamper-evident chain of check records, one chain per monitor.

Every ``checks`` row carries ``record_hash = sha256(prev_hash || canonical JSON)``, where
``prev_hash`` is the ``record_hash`` of the monitor's previous check (64 zeros for the
first) and the canonical JSON covers the check row and the change row written with it.
Editing, deleting or reordering a row breaks every hash after it; a rewritten chain no
longer contains the heads published earlier (``govwatch verify --against``).

The hashes are computed from the rows as SQLite hands them back, by the same function the
verifier uses, so what is chained is exactly what is stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from core.canonical import canonical_json

GENESIS = "0" * 64
# Columns outside the hashed payload: the chain itself and the row ids (a change points at
# its check by position in the payload, not by id).
_CHECK_EXCLUDED = frozenset({"id", "prev_hash", "record_hash"})
_CHANGE_EXCLUDED = frozenset({"id", "check_id"})


def _payload(row: Mapping[str, Any], excluded: frozenset[str]) -> dict[str, Any]:
    # NULLs are left out so that a nullable column added later does not change old hashes.
    return {k: v for k, v in row.items() if k not in excluded and v is not None}


def record_hash(
    prev_hash: str, check_row: Mapping[str, Any], change_row: Mapping[str, Any] | None
) -> str:
    """The hash of one check record given its predecessor's hash."""
    payload: dict[str, Any] = {"check": _payload(check_row, _CHECK_EXCLUDED)}
    if change_row is not None:
        payload["change"] = _payload(change_row, _CHANGE_EXCLUDED)
    return hashlib.sha256((prev_hash + canonical_json(payload)).encode("utf-8")).hexdigest()


def _row(db: sqlite_utils.Database, sql: str, params: list[Any]) -> dict[str, Any] | None:
    cursor = db.execute(sql, params)
    values = cursor.fetchone()
    if values is None:
        return None
    return dict(zip([c[0] for c in cursor.description], values, strict=True))


def chain_check(
    db: sqlite_utils.Database, check_id: int, monitor_id: str, *, with_change: bool = True
) -> str:
    """Link a freshly inserted check (and its change) to its monitor's chain.

    Runs inside ``Store.record``'s transaction, after the check and change rows exist,
    and hashes them as stored. Returns the new head, which the caller stores as the
    monitor's ``chain_head`` in the same transaction.
    """
    head_row = db.execute("SELECT chain_head FROM monitors WHERE id = ?", [monitor_id]).fetchone()
    prev_hash = (head_row[0] if head_row else None) or GENESIS
    check_row = _row(db, "SELECT * FROM checks WHERE id = ?", [check_id])
    assert check_row is not None
    change_row = None
    if with_change:
        change_row = _row(db, "SELECT * FROM changes WHERE check_id = ?", [check_id])
    digest = record_hash(prev_hash, check_row, change_row)
    db.execute("UPDATE checks SET prev_hash = ?, record_hash = ? WHERE id = ?",
               [prev_hash, digest, check_id])
    return digest


@dataclass(frozen=True, slots=True)
class ChainedRow:
    """One check row as stored, with the change row written with it."""

    check: dict[str, Any]
    change: dict[str, Any] | None

    @property
    def id(self) -> int:
        return int(self.check["id"])

    @property
    def monitor_id(self) -> str:
        return str(self.check["monitor_id"])


def chained_rows(db: sqlite_utils.Database) -> Iterator[ChainedRow]:
    """Every check with its change, by monitor and then id: the order of the chains."""
    changes: dict[int, dict[str, Any]] = {}
    for change in db.query("SELECT * FROM changes"):
        changes[int(change["check_id"])] = change
    for check in db.query("SELECT * FROM checks ORDER BY monitor_id, id"):
        yield ChainedRow(check, changes.get(int(check["id"])))


def rechain_all(db: sqlite_utils.Database) -> int:
    """Compute the chain of every existing check (used by the migration that adds it)."""
    heads: dict[str, str] = {}
    count = 0
    for row in chained_rows(db):
        prev_hash = heads.get(row.monitor_id, GENESIS)
        digest = record_hash(prev_hash, row.check, row.change)
        db.execute("UPDATE checks SET prev_hash = ?, record_hash = ? WHERE id = ?",
                   [prev_hash, digest, row.id])
        heads[row.monitor_id] = digest
        count += 1
    for monitor_id, head in heads.items():
        db.execute("UPDATE monitors SET chain_head = ? WHERE id = ?", [head, monitor_id])
    return count


def current_heads(db: sqlite_utils.Database) -> dict[str, str]:
    """``{monitor_id: head hash}`` of every monitor that has checks: what digests publish."""
    rows = db.execute(
        "SELECT id, chain_head FROM monitors WHERE chain_head IS NOT NULL ORDER BY id"
    )
    return {row[0]: row[1] for row in rows}
