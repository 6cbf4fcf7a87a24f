"""The chain covers every stored fact the audit shows: a change's captures (url, title,
snapshot, fetched_at, ...) and the metadata of every snapshot a record names. `verify`
finds their edits and deletions, and reports rows of the wrong type instead of crashing,
naming the table, the row and the monitor."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlite_utils

from core.records import Change, Extracted
from pipeline.config import parse_config
from storage.chain import GENESIS, record_hash
from storage.db import Store
from storage.migrations import MIGRATIONS, _seal_legacy_records
from storage.records import Capture, Check, Snapshot
from tests.unit.audit_history import govwatch, tamper

CONFIG = parse_config(
    "organizations:\n  - id: oecd\n    name: OECD\n    monitors:\n"
    "      - {id: m, kind: page, url: 'https://oecd.ai/'}\n")
T0, T1, T2 = (f"2026-11-28T1{h}:00:00.000+00:00" for h in (0, 1, 2))


@dataclass
class Recorded:
    db: Path
    new_check: int
    changed_check: int
    change_id: int
    unchanged_check: int
    page: str  # the changed check's snapshot, also seen by the unchanged check
    document: str  # the first capture's snapshot, named by the changed check only
    captures: list[int]


def check(outcome: str, started_at: str, snapshot: Snapshot, content: Extracted) -> Check:
    return Check(monitor_id="m", started_at=started_at, duration_ms=12,
                 url="https://oecd.ai/", final_url="https://oecd.ai/", outcome=outcome,
                 status=200, snapshot_hash=snapshot.hash, content_hash=content.content_hash)


@pytest.fixture
def recorded(store: Store) -> Recorded:
    store.sync_monitors(CONFIG.organizations)
    v1, v2 = Snapshot.of(b"<p>v1</p>", "text/html"), Snapshot.of(b"<p>v2</p>", "text/html")
    c1, c2 = Extracted(text="v1"), Extracted(text="v2")
    document = Snapshot.of(b"%PDF-1.7 the new guidance", "application/pdf")
    first = store.record(check("new", T0, v1, c1), snapshot=v1, content=c1)
    changed = store.record(
        check("changed", T1, v2, c2), snapshot=v2, content=c2,
        change=Change(kind="text", summary="1 line(s) changed", diff="-v1\n+v2"),
        captures=[
            Capture(url="https://oecd.ai/guidance.pdf", title="New guidance", fetched_at=T1,
                    status=200, final_url="https://oecd.ai/guidance.pdf", snapshot=document),
            Capture(url="https://oecd.ai/gone", title="Gone", fetched_at=T1,
                    error="HTTPStatusFailed: 404"),
        ])
    unchanged = store.record(check("unchanged", T2, v2, c2), snapshot=v2, content=c2)
    assert changed.change_id is not None
    captures = [row[0] for row in store.db.execute("SELECT id FROM captures ORDER BY id")]
    store.close()
    return Recorded(store.path, first.check_id, changed.check_id, changed.change_id,
                    unchanged.check_id, v2.hash, document.hash, captures)


def problems(db: Path) -> list[str]:
    result = govwatch(db, "verify")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return [line for line in result.output.splitlines() if line.startswith("PROBLEM ")]


def test_a_history_with_captures_verifies(recorded: Recorded) -> None:
    result = govwatch(recorded.db, "verify")
    assert result.exit_code == 0, result.output
    assert "OK: the history is intact" in result.output
    assert "recorded before captures" not in result.output


@pytest.mark.parametrize(("column", "value"), [
    ("url", "https://evil.example/guidance.pdf"), ("title", "Old guidance"),
    ("fetched_at", "2020-01-01T00:00:00.000+00:00"), ("status", 500),
    ("final_url", "https://evil.example/"), ("error", "nothing"),
])
def test_an_edited_capture_is_found(recorded: Recorded, column: str, value: object) -> None:
    tamper(recorded.db, (f"UPDATE captures SET {column} = ? WHERE id = ?",
                         [value, recorded.captures[0]]))
    found = problems(recorded.db)
    assert len(found) == 1, found
    assert found[0].startswith(f"PROBLEM checks #{recorded.changed_check} (with changes "
                               f"#{recorded.change_id}) (monitor m): record_hash does not "
                               "match the stored rows")
    assert f"captures #{recorded.captures[0]}, #{recorded.captures[1]}" in found[0]


def test_a_capture_pointed_at_another_snapshot_is_found(recorded: Recorded) -> None:
    tamper(recorded.db, ("UPDATE captures SET snapshot_hash = ? WHERE id = ?",
                         [recorded.page, recorded.captures[0]]))
    found = problems(recorded.db)
    assert [p.split(":")[0] for p in found] == [
        f"PROBLEM checks #{recorded.changed_check} (with changes #{recorded.change_id}) "
        "(monitor m)"]


def test_a_deleted_capture_is_found(recorded: Recorded) -> None:
    tamper(recorded.db, ("DELETE FROM captures WHERE id = ?", [recorded.captures[1]]))
    found = problems(recorded.db)
    assert len(found) == 1 and f"checks #{recorded.changed_check}" in found[0]


@pytest.mark.parametrize(("column", "value"), [
    ("content_type", "text/plain"), ("first_seen_at", "2020-01-01T00:00:00.000+00:00"),
])
def test_edited_snapshot_metadata_is_found_by_every_record_naming_it(
    recorded: Recorded, column: str, value: str,
) -> None:
    tamper(recorded.db, (f"UPDATE snapshots SET {column} = ? WHERE hash = ?",
                         [value, recorded.page]))
    found = problems(recorded.db)
    assert [p.split(" (")[0] for p in found] == [
        f"PROBLEM checks #{recorded.changed_check}",
        f"PROBLEM checks #{recorded.unchanged_check}"]
    assert all("it covers" in p and recorded.page[:16] in p.split("it covers")[1]
               for p in found)


def test_edited_metadata_of_a_captured_document_is_found(recorded: Recorded) -> None:
    tamper(recorded.db, ("UPDATE snapshots SET content_type = 'text/html' WHERE hash = ?",
                         [recorded.document]))
    found = problems(recorded.db)
    assert len(found) == 1 and f"checks #{recorded.changed_check}" in found[0]


def test_a_deleted_captured_snapshot_is_found_and_named(recorded: Recorded) -> None:
    tamper(recorded.db, ("DELETE FROM snapshots WHERE hash = ?", [recorded.document]))
    found = problems(recorded.db)
    assert any(p.startswith(f"PROBLEM captures #{recorded.captures[0]} (monitor m): its "
                            f"snapshot {recorded.document[:16]} is missing") for p in found)
    assert any(f"checks #{recorded.changed_check}" in p for p in found), found


def test_a_capture_of_a_deleted_change_is_named(recorded: Recorded) -> None:
    tamper(recorded.db, ("DELETE FROM changes WHERE id = ?", [recorded.change_id]))
    found = problems(recorded.db)
    assert any(p.startswith(f"PROBLEM captures #{recorded.captures[0]}: it belongs to change "
                            f"#{recorded.change_id}, which is missing") for p in found), found


@pytest.mark.parametrize(("table", "column", "value", "where"), [
    ("snapshots", "body", "text, not zstd", "page"),
    ("snapshots", "body", 12345, "page"),
    ("snapshots", "size", "large", "page"),
    ("snapshots", "compression", 3, "page"),
    ("snapshots", "base", 7, "page"),
    ("contents", "packed", "text, not zstd", "content"),
    ("contents", "packed", 42, "content"),
    ("checks", "url", b"\x00blob", "check"),
    ("checks", "record_hash", 99, "check"),
    ("checks", "prev_hash", 1.5, "check"),
    ("changes", "check_id", "one", "change"),
    ("changes", "summary", b"blob", "change"),
    ("captures", "title", b"blob", "capture"),
    ("captures", "change_id", "x", "capture"),
    ("monitors", "chain_head", 5, "monitor"),
])
def test_type_confused_tampering_is_reported_not_a_crash(
    recorded: Recorded, table: str, column: str, value: object, where: str,
) -> None:
    key, target = {
        "page": ("hash", recorded.page),
        "content": ("hash", "(SELECT content_hash FROM checks WHERE id = "
                    f"{recorded.changed_check})"),
        "check": ("id", recorded.changed_check), "change": ("id", recorded.change_id),
        "capture": ("id", recorded.captures[0]), "monitor": ("id", "m"),
    }[where]
    if isinstance(target, str) and target.startswith("(SELECT"):
        tamper(recorded.db, (f"UPDATE {table} SET {column} = ? WHERE {key} = {target}",
                             [value]))
    else:
        tamper(recorded.db, (f"UPDATE {table} SET {column} = ? WHERE {key} = ?",
                             [value, target]))
    found = problems(recorded.db)
    assert found, "the tampering is found"
    assert all("(monitor m)" in p for p in found if not p.startswith("PROBLEM captures")), found
    named = {"page": f"snapshots hash={recorded.page[:16]}", "content": "contents hash=",
             "check": f"checks #{recorded.changed_check}",
             "change": f"#{recorded.changed_check}", "capture": f"#{recorded.changed_check}",
             "monitor": "monitors id=m"}[where]
    assert any(named in p for p in found), found


def as_before_coverage(db: Path, tmp_path: Path) -> Path:
    """A copy of ``db`` as a govwatch from before captures and snapshot facts were chained
    left it: every record hashed over its check and change rows only, one schema version
    back (the upgrade seals the legacy records when the copy is opened)."""
    old = tmp_path / "old.db"
    shutil.copy(db, old)
    with sqlite_utils.Database(old) as legacy, legacy.atomic():
        prev = GENESIS
        for row in legacy.query("SELECT * FROM checks ORDER BY id"):
            change = next(legacy.query("SELECT * FROM changes WHERE check_id = ?",
                                       [row["id"]]), None)
            digest = record_hash(prev, row, change)
            legacy.execute("UPDATE checks SET prev_hash = ?, record_hash = ? WHERE id = ?",
                           [prev, digest, row["id"]])
            prev = digest
        legacy.execute("UPDATE monitors SET chain_head = ?, legacy_seal = NULL", [prev])
        legacy.execute(f"PRAGMA user_version = {MIGRATIONS.index(_seal_legacy_records)}")
    return old


def record_another(db: Path) -> int:
    with Store(db) as store:
        v3, c3 = Snapshot.of(b"<p>v3</p>", "text/html"), Extracted(text="v3")
        return store.record(check("changed", "2026-11-28T13:00:00.000+00:00", v3, c3),
                            snapshot=v3, content=c3,
                            change=Change(kind="text", summary="s", diff="d")).check_id


def test_records_of_an_older_govwatch_still_verify_and_are_sealed(
    recorded: Recorded, tmp_path: Path,
) -> None:
    """Records hashed before captures and snapshot metadata were chained keep their hashes
    (heads published from them stay valid); the upgrade seals what they cover, and the
    monitor's next record chains the seal."""
    old = as_before_coverage(recorded.db, tmp_path)
    heads_before = govwatch(old, "heads", "--json").stdout
    result = govwatch(old, "verify")
    assert result.exit_code == 0, result.output
    assert "3 checks were recorded before captures and snapshot metadata were chained: a " \
           "seal covers those" in result.output
    assert govwatch(old, "heads", "--json").stdout == heads_before, "the chain is not rewritten"
    with sqlite_utils.Database(old) as db:
        seal = db.execute("SELECT legacy_seal FROM monitors WHERE id = 'm'").fetchone()[0]
    assert seal is not None and len(seal) == 64
    new_check = record_another(old)
    with sqlite_utils.Database(old) as db:
        assert db.execute("SELECT legacy_seal FROM monitors").fetchone()[0] is None, "consumed"
    result = govwatch(old, "verify")
    assert result.exit_code == 0, result.output
    assert "3 checks were recorded before" in result.output
    # The seal, now in the chain, covers the legacy captures.
    tamper(old, ("UPDATE captures SET title = 'forged' WHERE id = ?", [recorded.captures[0]]))
    found = problems(old)
    assert len(found) == 1, found
    assert found[0].startswith(f"PROBLEM checks #{new_check} (with changes ")
    assert "or the captures and snapshot facts of the 3 check(s) from #1 before it, which it " \
           "seals" in found[0]


@pytest.mark.parametrize("tampering", [
    ("UPDATE captures SET url = 'https://evil.example/' WHERE id = ?", "capture"),
    ("DELETE FROM captures WHERE id = ?", "capture"),
    ("UPDATE snapshots SET first_seen_at = '2020-01-01T00:00:00.000+00:00' WHERE hash = ?",
     "document"),
    ("UPDATE monitors SET legacy_seal = NULL WHERE ? IS NOT NULL", "capture"),
])
def test_legacy_rows_are_covered_by_their_seal_before_the_next_check(
    recorded: Recorded, tmp_path: Path, tampering: tuple[str, str],
) -> None:
    old = as_before_coverage(recorded.db, tmp_path)
    assert govwatch(old, "verify").exit_code == 0  # opened: upgraded and sealed
    sql, target = tampering
    tamper(old, (sql, [recorded.captures[0] if target == "capture" else recorded.document]))
    found = problems(old)
    assert found == [
        "PROBLEM monitors id=m (monitor m): legacy_seal does not match the captures and "
        "snapshot facts of the 3 check(s) from #1 recorded before those were chained: one of "
        "them was altered or deleted since"]


def test_the_upgrade_seals_nothing_in_a_fully_chained_history(recorded: Recorded) -> None:
    with sqlite_utils.Database(recorded.db) as db:
        assert db.execute("SELECT legacy_seal FROM monitors").fetchone()[0] is None
