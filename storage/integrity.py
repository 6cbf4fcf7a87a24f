"""``govwatch verify``: recompute every body hash, content hash and chain of the history.

Each problem names the table, the row ids and the monitor involved. Pruned bodies are
counted as pruned, not as problems: their hashes stay in the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.canonical import canonical_json
from core.errors import StorageError
from storage.chain import GENESIS, ChainedRow, chained_rows, record_hash
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

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, table: str, rows: str, monitor: str | None, message: str) -> None:
        self.problems.append(Problem(table, rows, monitor, message))


def short(digest: str | None) -> str:
    return (digest or "NULL")[:16]


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


def _verify_snapshots(store: Store, report: VerifyReport) -> None:
    cursor = store.db.execute(
        "SELECT hash, size, compression, body, base, pruned_at FROM snapshots ORDER BY hash"
    )
    for digest, size, compression, body, base, pruned_at in cursor:
        report.snapshots += 1
        if body is None:
            if pruned_at is not None:
                report.pruned += 1
                continue
            users, monitors = _snapshot_users(store, digest)
            report.add("snapshots", f"hash={short(digest)}", monitors,
                       f"body is missing and was not pruned; {users}")
            continue
        try:
            raw = store.bodies.decode(digest, body, compression, base)
        except StorageError as exc:
            users, monitors = _snapshot_users(store, digest)
            report.add("snapshots", f"hash={short(digest)}", monitors, f"{exc}; {users}")
            continue
        actual = hashlib.sha256(raw).hexdigest()
        if actual != digest:
            users, monitors = _snapshot_users(store, digest)
            altered = "the body or its base was altered" if base else "the body was altered"
            report.add("snapshots", f"hash={short(digest)}", monitors,
                       f"body hashes to {short(actual)}: {altered}; {users}")
        elif size != len(raw):
            users, monitors = _snapshot_users(store, digest)
            report.add("snapshots", f"hash={short(digest)}", monitors,
                       f"size column says {size} but the body has {len(raw)} bytes")


def _content_payload(store: Store, row: tuple[Any, ...]) -> bytes:
    digest, text, data, compression, base, packed = row
    if compression is None:  # stored before contents were compressed
        return canonical_json({"text": text or "", "data": json.loads(data or "{}")}).encode()
    return store.packed_contents.decode(digest, packed, compression, base)


def _verify_contents(store: Store, report: VerifyReport) -> None:
    for row in store.db.execute(
        "SELECT hash, text, data, compression, base, packed FROM contents"
    ):
        digest = row[0]
        report.contents += 1
        try:
            actual = hashlib.sha256(_content_payload(store, row)).hexdigest()
            problem = (None if actual == digest else
                       f"extracted text/data hash to {short(actual)}: the content was altered")
        except (StorageError, ValueError) as exc:
            problem = f"extracted text/data cannot be read: {exc}"
        if problem is not None:
            rows = store.db.execute(
                "SELECT group_concat(DISTINCT monitor_id) FROM checks WHERE content_hash = ?",
                [digest],
            ).fetchone()
            report.add("contents", f"hash={short(digest)}", rows[0], problem)


def _verify_chains(store: Store, report: VerifyReport) -> None:
    heads = dict(store.db.execute("SELECT id, chain_head FROM monitors").fetchall())
    last: dict[str, ChainedRow] = {}
    for row in chained_rows(store.db):
        report.checks += 1
        monitor = row.monitor_id
        previous = last.get(monitor)
        _verify_link(row, previous, report)
        last[monitor] = row
    report.chains = len(last)
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


def _verify_link(row: ChainedRow, previous: ChainedRow | None, report: VerifyReport) -> None:
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
    actual = record_hash(stored_prev or GENESIS, row.check, row.change)
    if actual != stored_hash:
        rows = f"#{row.id}" + (f" (with changes #{row.change['id']})" if row.change else "")
        report.add("checks", rows, monitor,
                   "record_hash does not match the stored row: the check or its change was "
                   "altered (or its change row deleted) after it was recorded")


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
    )
    for table, sql, message in queries:
        for row_id, monitor, ref in store.db.execute(sql).fetchall():
            shown = short(ref) if isinstance(ref, str) else ref
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
