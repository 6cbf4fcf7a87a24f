"""The tamper-evident chain of check records, one chain per monitor.

Every ``checks`` row carries ``record_hash = sha256(prev_hash || canonical JSON)``, where
``prev_hash`` is the ``record_hash`` of the monitor's previous check (64 zeros for the
first) and the canonical JSON covers the check row, the change row written with it, the
change's captures and the metadata of every snapshot the record names (its body, the HTML
served for a rendered page, its captures: hash, size, content type, first seen),
everything the audit shows about a check but the bodies and
texts, which their own hashes cover. Editing, deleting or reordering any of these rows
breaks every hash after it; a rewritten chain no longer contains the heads published
earlier (``govwatch verify --against``).

Records written before captures and snapshot metadata were chained hash the check and
change rows only (the *legacy* payload, without the ``captures`` and ``snapshots`` keys);
the verifier accepts either payload, which is no weaker: a row re-hashed either way no
longer matches the ``prev_hash`` of the record after it. What those records cover is
sealed instead: the upgrade stores, per monitor, the digest of the captures and snapshot
facts of its legacy records (``monitors.legacy_seal``), and the monitor's next record
hashes that seal into its payload (``legacy``), so the chain covers them from then on.

The hashes are computed from the rows as SQLite hands them back, by the same function the
verifier uses, so what is chained is exactly what is stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
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


@dataclass(frozen=True, slots=True)
class Covered:
    """The rows a record covers besides its check and change."""

    captures: tuple[dict[str, Any], ...] = ()
    snapshots: tuple[dict[str, Any], ...] = ()


# The snapshot columns that never change once a snapshot is stored (the body, its packing
# and pruning do, and are covered by the snapshot's own hash).
SNAPSHOT_FACTS = ("hash", "size", "content_type", "first_seen_at")
_CAPTURE_EXCLUDED = frozenset({"id", "change_id"})


def record_hash(
    prev_hash: str, check_row: Mapping[str, Any], change_row: Mapping[str, Any] | None,
    covered: Covered | None = None, seal: str | None = None,
) -> str:
    """The hash of one check record given its predecessor's hash; ``covered=None`` is the
    legacy payload of records written before captures and snapshots were chained, ``seal``
    the :func:`legacy_seal` of the legacy records before this one, when it seals them."""
    payload: dict[str, Any] = {"check": _payload(check_row, _CHECK_EXCLUDED)}
    if change_row is not None:
        payload["change"] = _payload(change_row, _CHANGE_EXCLUDED)
    if covered is not None:
        payload["captures"] = [_payload(c, _CAPTURE_EXCLUDED) for c in covered.captures]
        payload["snapshots"] = [_payload(s, frozenset()) for s in covered.snapshots]
        if seal is not None:
            payload["legacy"] = seal
    return hashlib.sha256((prev_hash + canonical_json(payload)).encode("utf-8")).hexdigest()


def legacy_seal(legacy: Iterable[Covered]) -> str:
    """The digest of what legacy records cover (captures, snapshot facts), in chain order."""
    items = [{"captures": [_payload(c, _CAPTURE_EXCLUDED) for c in covered.captures],
              "snapshots": [_payload(s, frozenset()) for s in covered.snapshots]}
             for covered in legacy]
    return hashlib.sha256(canonical_json(items).encode("utf-8")).hexdigest()


def covered_by(check_row: Mapping[str, Any], captures: list[dict[str, Any]],
               snapshots: Mapping[Any, dict[str, Any]]) -> Covered:
    """What a record covers, given its change's captures (by id) and the snapshot rows
    (``SNAPSHOT_FACTS``) by hash; a snapshot missing from them is left out, and so
    changes the hash."""
    hashes = {check_row.get("snapshot_hash"), check_row.get("served_snapshot_hash"),
              *(c.get("snapshot_hash") for c in captures)}
    named = sorted((h for h in hashes if h is not None), key=repr)
    return Covered(tuple(captures),
                   tuple(snapshots[h] for h in named if h in snapshots))


def _covered_now(db: sqlite_utils.Database, check_row: Mapping[str, Any],
                 change_row: Mapping[str, Any] | None) -> Covered:
    captures = [] if change_row is None else list(db.query(
        "SELECT * FROM captures WHERE change_id = ? ORDER BY id", [change_row["id"]]))
    hashes = {check_row.get("snapshot_hash"), check_row.get("served_snapshot_hash"),
              *(c["snapshot_hash"] for c in captures)}
    hashes.discard(None)
    snapshots = {row["hash"]: row for row in db.query(
        f"SELECT {', '.join(SNAPSHOT_FACTS)} FROM snapshots WHERE hash IN "
        f"({', '.join('?' * len(hashes))})", list(hashes))} if hashes else {}
    return covered_by(check_row, captures, snapshots)


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

    Runs inside ``Store.record``'s transaction, after the check, change, capture and
    snapshot rows exist, and hashes them as stored. Returns the new head, which the
    caller stores as the monitor's ``chain_head`` in the same transaction.
    """
    head_row = db.execute("SELECT chain_head, legacy_seal FROM monitors WHERE id = ?",
                          [monitor_id]).fetchone()
    prev_hash = (head_row[0] if head_row else None) or GENESIS
    seal = head_row[1] if head_row else None
    check_row = _row(db, "SELECT * FROM checks WHERE id = ?", [check_id])
    assert check_row is not None
    change_row = None
    if with_change:
        change_row = _row(db, "SELECT * FROM changes WHERE check_id = ?", [check_id])
    digest = record_hash(prev_hash, check_row, change_row,
                         _covered_now(db, check_row, change_row), seal)
    db.execute("UPDATE checks SET prev_hash = ?, record_hash = ? WHERE id = ?",
               [prev_hash, digest, check_id])
    if seal is not None:  # hashed into this record: the chain covers the legacy rows now
        db.execute("UPDATE monitors SET legacy_seal = NULL WHERE id = ?", [monitor_id])
    return digest


@dataclass(frozen=True, slots=True)
class ChainedRow:
    """One check row as stored, with the change row written with it and what it covers."""

    check: dict[str, Any]
    change: dict[str, Any] | None
    covered: Covered

    @property
    def id(self) -> int:
        return int(self.check["id"])

    @property
    def monitor_id(self) -> str:
        return str(self.check["monitor_id"])


def chained_rows(db: sqlite_utils.Database) -> Iterator[ChainedRow]:
    """Every check with its change and covered rows, by monitor and then id: the order of
    the chains. Rows are taken as stored, whatever their types (tampering may have changed
    them); a change or capture whose link to its check is not an integer is attached to
    none, and so changes its record's hash."""
    changes: dict[int, dict[str, Any]] = {}
    for change in db.query("SELECT * FROM changes"):
        if isinstance(change["check_id"], int):
            changes[change["check_id"]] = change
    captures: dict[int, list[dict[str, Any]]] = {}
    for capture in db.query("SELECT * FROM captures ORDER BY id"):
        if isinstance(capture["change_id"], int):
            captures.setdefault(capture["change_id"], []).append(capture)
    snapshots = {row["hash"]: row for row in db.query(
        f"SELECT {', '.join(SNAPSHOT_FACTS)} FROM snapshots")}
    for check in db.query("SELECT * FROM checks ORDER BY monitor_id, id"):
        written_with = changes.get(check["id"])
        own = captures.get(written_with["id"], []) if written_with is not None else []
        yield ChainedRow(check, written_with, covered_by(check, own, snapshots))


def rechain_all(db: sqlite_utils.Database) -> int:
    """Compute the chain of every existing check (used by the migration that adds it)."""
    heads: dict[str, str] = {}
    count = 0
    for row in chained_rows(db):
        prev_hash = heads.get(row.monitor_id, GENESIS)
        digest = record_hash(prev_hash, row.check, row.change, row.covered)
        db.execute("UPDATE checks SET prev_hash = ?, record_hash = ? WHERE id = ?",
                   [prev_hash, digest, row.id])
        heads[row.monitor_id] = digest
        count += 1
    for monitor_id, head in heads.items():
        db.execute("UPDATE monitors SET chain_head = ? WHERE id = ?", [head, monitor_id])
    if "legacy_seal" in db.table("monitors").columns_dict:
        db.execute("UPDATE monitors SET legacy_seal = NULL")  # no legacy record is left
    return count


def is_legacy(row: ChainedRow) -> bool:
    """Whether a record does not hash with what it covers (written before that was
    chained, or altered since: the verifier tells the two apart)."""
    prev = row.check["prev_hash"] if isinstance(row.check["prev_hash"], str) else GENESIS
    try:
        return bool(record_hash(prev, row.check, row.change, row.covered)
                    != row.check["record_hash"])
    except (TypeError, ValueError):
        return True


def seal_legacy_records(db: sqlite_utils.Database) -> int:
    """Store each monitor's :func:`legacy_seal` over its records written before captures
    and snapshot facts were chained (those after its last fully chained record); returns
    how many records were sealed."""
    pending: dict[str, list[Covered]] = {}
    for row in chained_rows(db):
        if is_legacy(row):
            pending.setdefault(row.monitor_id, []).append(row.covered)
        else:
            pending[row.monitor_id] = []
    for monitor_id, legacy in pending.items():
        db.execute("UPDATE monitors SET legacy_seal = ? WHERE id = ?",
                   [legacy_seal(legacy) if legacy else None, monitor_id])
    return sum(len(legacy) for legacy in pending.values())


def current_heads(db: sqlite_utils.Database) -> dict[str, str]:
    """``{monitor_id: head hash}`` of every monitor that has checks: what digests publish."""
    rows = db.execute(
        "SELECT id, chain_head FROM monitors WHERE chain_head IS NOT NULL ORDER BY id"
    )
    return {row[0]: row[1] for row in rows}
