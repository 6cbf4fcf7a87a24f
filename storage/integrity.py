"""``govwatch verify``: recompute every body hash, content hash and chain of the history.

Each problem names the table, the row ids and the monitor involved. Pruned bodies are
counted as pruned, not as problems: their hashes stay in the chain. A row of any shape is
a finding, never a crash: SQLite lets a tamperer store text where a blob belongs, or a
number where a hash does, and such a row is reported as altered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.canonical import canonical_json
from core.errors import StorageError
from storage.blobs import COMPRESSION
from storage.chain import (
    GENESIS,
    ChainedRow,
    Covered,
    chained_rows,
    legacy_seal,
    record_hash,
)
from storage.db import Store


@dataclass(frozen=True, slots=True)
class Problem:
    table: str
    rows: str
    monitor: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.table} {self.rows}"
        if self.monitor:
            where += f" (monitor {self.monitor})"
        return f"{where}: {self.message}"


@dataclass
class VerifyReport:
    problems: list[Problem] = field(default_factory=list)
    checks: int = 0
    chains: int = 0
    snapshots: int = 0
    pruned: int = 0
    contents: int = 0
    heads_checked: int = 0
    #: Checks recorded before captures and snapshot metadata were chained.
    legacy: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, table: str, rows: str, monitor: str | None, message: str) -> None:
        self.problems.append(Problem(table, rows, monitor, message))


def short(digest: object) -> str:
    if digest is None:
        return "NULL"
    return (digest if isinstance(digest, str) else repr(digest))[:16]


def _kind(value: object) -> str:
    return {str: "text", bytes: "a blob", int: "an integer", float: "a number"}.get(
        type(value), type(value).__name__)


def _misfit(row: Mapping[str, Any], expected: Mapping[str, tuple[type, ...]]) -> str | None:
    """The first column of ``row`` whose value has a type the store never writes there."""
    for column, types in expected.items():
        value = row.get(column)
        if value is not None and not isinstance(value, types):
            return f"{column} holds {_kind(value)}, which govwatch never stores there"
    return None


def verify(store: Store, against: Mapping[str, str] | None = None) -> VerifyReport:
    report = VerifyReport()
    _verify_snapshots(store, report)
    _verify_contents(store, report)
    _verify_chains(store, report)
    _verify_references(store, report)
    if against is not None:
        _verify_against(store, against, report)
    return report


def _snapshot_users(store: Store, snapshot_hash: str) -> tuple[str, str | None]:
    rows = store.db.execute(
        "SELECT id, monitor_id FROM checks WHERE snapshot_hash = ? ORDER BY id", [snapshot_hash]
    ).fetchall()
    ids = ", ".join(f"#{r[0]}" for r in rows[:10]) + (" ..." if len(rows) > 10 else "")
    monitors = sorted({r[1] for r in rows})
    return (f"seen by checks {ids}" if rows else "seen by no check"), ", ".join(monitors) or None


_SNAPSHOT_TYPES: dict[str, tuple[type, ...]] = {
    "hash": (str,), "size": (int,), "compression": (str,), "body": (bytes,), "base": (str,),
    "pruned_at": (str,)}


def _verify_snapshots(store: Store, report: VerifyReport) -> None:
    for row in store.db.query(
        "SELECT hash, size, compression, body, base, pruned_at FROM snapshots ORDER BY hash"
    ):
        report.snapshots += 1
        problem = _snapshot_problem(store, row, report)
        if problem is not None:
            users, monitors = _snapshot_users(store, row["hash"])
            report.add("snapshots", f"hash={short(row['hash'])}", monitors,
                       f"{problem}; {users}")


def _snapshot_problem(store: Store, row: dict[str, Any], report: VerifyReport) -> str | None:
    digest, body = row["hash"], row["body"]
    misfit = _misfit(row, _SNAPSHOT_TYPES)
    if misfit is not None:
        return f"{misfit}: the row was altered"
    if body is None:
        if row["pruned_at"] is not None:
            report.pruned += 1
            return None
        return "body is missing and was not pruned"
    if row["compression"] == COMPRESSION and row["base"] is not None:
        return f"base {short(row['base'])} is set but the body is stored whole: the row was " \
               "altered"
    try:
        raw = store.bodies.decode(digest, body, row["compression"], row["base"])
    except StorageError as exc:
        return str(exc)
    actual = hashlib.sha256(raw).hexdigest()
    if actual != digest:
        altered = "the body or its base was altered" if row["base"] else "the body was altered"
        return f"body hashes to {short(actual)}: {altered}"
    if row["size"] != len(raw):
        return f"size column says {row['size']} but the body has {len(raw)} bytes"
    return None


_CONTENT_TYPES: dict[str, tuple[type, ...]] = {
    "hash": (str,), "text": (str,), "data": (str,), "compression": (str,), "base": (str,),
    "packed": (bytes,)}


def _content_payload(store: Store, row: dict[str, Any]) -> bytes:
    if row["compression"] is None:  # stored before contents were compressed
        return canonical_json({"text": row["text"] or "",
                               "data": json.loads(row["data"] or "{}")}).encode()
    return store.packed_contents.decode(row["hash"], row["packed"], row["compression"],
                                        row["base"])


def _verify_contents(store: Store, report: VerifyReport) -> None:
    for row in store.db.query(
        "SELECT hash, text, data, compression, base, packed FROM contents"
    ):
        digest = row["hash"]
        report.contents += 1
        misfit = _misfit(row, _CONTENT_TYPES)
        if misfit is not None:
            problem: str | None = f"{misfit}: the row was altered"
        else:
            try:
                actual = hashlib.sha256(_content_payload(store, row)).hexdigest()
                problem = (None if actual == digest else f"extracted text/data hash to "
                           f"{short(actual)}: the content was altered")
            except (StorageError, ValueError, TypeError) as exc:
                problem = f"extracted text/data cannot be read: {exc}"
        if problem is not None:
            rows = store.db.execute(
                "SELECT group_concat(DISTINCT monitor_id) FROM checks WHERE content_hash = ?",
                [digest],
            ).fetchone()
            report.add("contents", f"hash={short(digest)}", rows[0], problem)


@dataclass
class _Legacy:
    """A monitor's legacy records not yet sealed into its chain, as the verifier walks it."""

    covered: list[Covered] = field(default_factory=list)
    first: int | None = None
    #: A record after them failed to verify: it may be the one that sealed them.
    mismatch: bool = False


def _verify_chains(store: Store, report: VerifyReport) -> None:
    monitors = store.db.execute("SELECT id, chain_head, legacy_seal FROM monitors").fetchall()
    heads = {str(monitor): head for monitor, head, _ in monitors}
    seals = {str(monitor): seal for monitor, _, seal in monitors}
    last: dict[str, ChainedRow] = {}
    legacy: dict[str, _Legacy] = {}
    for row in chained_rows(store.db):
        report.checks += 1
        monitor = row.monitor_id
        previous = last.get(monitor)
        _verify_link(row, previous, legacy.setdefault(monitor, _Legacy()), report)
        last[monitor] = row
    report.chains = len(last)
    for monitor, pending in sorted(legacy.items()):
        if pending.covered and not pending.mismatch and \
                seals.get(monitor) != legacy_seal(pending.covered):
            report.add("monitors", f"id={monitor}", monitor,
                       f"legacy_seal does not match the captures and snapshot facts of the "
                       f"{len(pending.covered)} check(s) from #{pending.first} recorded before "
                       "those were chained: one of them was altered or deleted since")
    for monitor, head in sorted(heads.items()):
        newest = last.get(monitor)
        if newest is None:
            if head is not None:
                report.add("monitors", f"id={monitor}", monitor,
                           f"chain_head {short(head)} but the monitor has no checks: "
                           "all its checks were deleted")
        elif head != newest.check["record_hash"]:
            report.add("monitors", f"id={monitor}", monitor,
                       f"chain_head {short(head)} is not the record_hash of the newest check "
                       f"#{newest.id}: the newest checks were deleted or the head was altered")
    for monitor in sorted(set(last) - set(heads)):
        report.add("checks", f"#{last[monitor].id}", monitor, "the monitor row is missing")


def _verify_link(row: ChainedRow, previous: ChainedRow | None, pending: _Legacy,
                 report: VerifyReport) -> None:
    stored_prev, stored_hash = row.check["prev_hash"], row.check["record_hash"]
    monitor = row.monitor_id
    if stored_hash is None:
        report.add("checks", f"#{row.id}", monitor, "the row is not chained (no record_hash)")
        return
    expected_prev = GENESIS if previous is None else previous.check["record_hash"]
    if stored_prev != expected_prev:
        if previous is None:
            report.add("checks", f"#{row.id}", monitor,
                       f"first remaining check of the monitor, but prev_hash {short(stored_prev)}"
                       " is not the genesis: earlier checks were deleted")
        else:
            report.add("checks", f"#{previous.id} -> #{row.id}", monitor,
                       f"prev_hash of #{row.id} is not the record_hash of #{previous.id}: "
                       f"a check between them was deleted, or a row was altered")
    rows = f"#{row.id}" + (f" (with changes #{row.change['id']})" if row.change else "")
    kind = _hash_kind(stored_hash, stored_prev, row, pending.covered)
    if kind == "legacy":
        report.legacy += 1
        pending.covered.append(row.covered)
        pending.first = pending.first or row.id
    elif kind == "chained" and pending.covered and not pending.mismatch:
        report.add("checks", rows, monitor,
                   f"the {len(pending.covered)} check(s) from #{pending.first} recorded before "
                   "captures and snapshot facts were chained are not sealed by this record: "
                   "their seal was removed")
    elif kind is None:
        sealing = (f"; or the captures and snapshot facts of the {len(pending.covered)} "
                   f"check(s) from #{pending.first} before it, which it seals"
                   if pending.covered else "")
        report.add("checks", rows, monitor,
                   "record_hash does not match the stored rows: the check, its change, its "
                   "captures or its snapshots' metadata were altered (or one of them deleted) "
                   f"after it was recorded{_covers(row)}{sealing}")
        # It may be a legacy record whose check row was altered: what it covers still
        # counts for the seal after it.
        pending.covered.append(row.covered)
        pending.first = pending.first or row.id
        pending.mismatch = True
        return
    if kind != "legacy":
        pending.covered, pending.first, pending.mismatch = [], None, False


def _hash_kind(stored_hash: object, stored_prev: object, row: ChainedRow,
               legacy: list[Covered]) -> str | None:
    """How the row hashes to its record_hash: with what it covers (``chained``), that and
    the seal of the legacy records before it (``seals``), as a record written before
    captures and snapshots were chained (``legacy``), or not at all (None)."""
    prev = stored_prev if isinstance(stored_prev, str) else GENESIS
    try:
        if record_hash(prev, row.check, row.change, row.covered) == stored_hash:
            return "chained"
        if record_hash(prev, row.check, row.change) == stored_hash:
            return "legacy"
        if legacy and record_hash(prev, row.check, row.change, row.covered,
                                  legacy_seal(legacy)) == stored_hash:
            return "seals"
    except (TypeError, ValueError):  # a value canonical JSON cannot hold: a blob, NaN
        pass
    return None


def _covers(row: ChainedRow) -> str:
    parts = []
    if row.covered.captures:
        parts.append("captures " + ", ".join(f"#{c['id']}" for c in row.covered.captures))
    if row.covered.snapshots:
        parts.append("snapshots " + ", ".join(short(s["hash"]) for s in row.covered.snapshots))
    return f" (it covers {'; '.join(parts)})" if parts else ""


def _verify_references(store: Store, report: VerifyReport) -> None:
    """Foreign keys a tamperer could have switched off: rows pointing at missing rows."""
    queries: tuple[tuple[str, str, str], ...] = (
        ("checks", "SELECT id, monitor_id, snapshot_hash FROM checks WHERE snapshot_hash "
         "IS NOT NULL AND snapshot_hash NOT IN (SELECT hash FROM snapshots)",
         "its snapshot {} is missing from snapshots"),
        ("checks", "SELECT id, monitor_id, served_snapshot_hash FROM checks WHERE "
         "served_snapshot_hash IS NOT NULL AND served_snapshot_hash NOT IN "
         "(SELECT hash FROM snapshots)",
         "the HTML its server sent ({}, rendered in a browser) is missing from snapshots"),
        ("checks", "SELECT id, monitor_id, content_hash FROM checks WHERE content_hash "
         "IS NOT NULL AND content_hash NOT IN (SELECT hash FROM contents)",
         "its content {} is missing from contents"),
        ("changes", "SELECT id, monitor_id, check_id FROM changes WHERE check_id "
         "NOT IN (SELECT id FROM checks)",
         "it belongs to check #{}, which is missing: the check was deleted"),
        ("captures", "SELECT captures.id, changes.monitor_id, captures.change_id FROM captures "
         "LEFT JOIN changes ON changes.id = captures.change_id WHERE changes.id IS NULL",
         "it belongs to change #{}, which is missing: the change was deleted"),
        ("captures", "SELECT captures.id, changes.monitor_id, captures.snapshot_hash FROM "
         "captures LEFT JOIN changes ON changes.id = captures.change_id WHERE "
         "captures.snapshot_hash IS NOT NULL AND captures.snapshot_hash NOT IN "
         "(SELECT hash FROM snapshots)",
         "its snapshot {} is missing from snapshots"),
    )
    for table, sql, message in queries:
        for row_id, monitor, ref in store.db.execute(sql).fetchall():
            shown = short(ref) if isinstance(ref, str) else repr(ref)
            report.add(table, f"#{row_id}", monitor, message.format(shown))


def _verify_against(store: Store, heads: Mapping[str, str], report: VerifyReport) -> None:
    for monitor, published in sorted(heads.items()):
        report.heads_checked += 1
        found: Any = store.db.execute(
            "SELECT id FROM checks WHERE monitor_id = ? AND record_hash = ?",
            [monitor, published],
        ).fetchone()
        if found is None:
            report.add("checks", "(published head)", monitor,
                       f"the published head {short(published)} is no longer in the monitor's "
                       "chain: checks recorded up to it were deleted or rewritten")
