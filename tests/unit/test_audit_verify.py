"""The tamper-evident chain: `govwatch verify` and `govwatch heads` over a long history."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import sqlite_utils
import zstandard

from storage.chain import GENESIS, SNAPSHOT_FACTS, Covered, rechain_all, record_hash
from storage.db import Store
from storage.migrations import MIGRATIONS
from tests.unit.audit_history import History, copy_as_before_audit, govwatch, tamper


def problems(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("PROBLEM ")]


def save_heads(db: Path, tmp_path: Path) -> Path:
    result = govwatch(db, "heads", "--json")
    assert result.exit_code == 0, result.output
    path = tmp_path / "heads.json"
    path.write_text(result.stdout)
    return path


def principles_ids(history: History, outcome: str | None = None) -> list[int]:
    return [i for i, (m, _, o) in history.checks.items()
            if m == "principles" and (outcome is None or o == outcome)]


def test_a_clean_history_of_more_than_50_versions_verifies(history: History, db: Path) -> None:
    assert len(history.versions) >= 50
    result = govwatch(db, "verify")
    assert result.exit_code == 0, result.output
    assert problems(result.output) == []
    assert f"checked {len(history.checks)} checks in 3 chains" in result.output
    assert "OK: the history is intact" in result.output


def test_every_check_is_linked_to_its_predecessor(history: History, store: Store) -> None:
    rows = list(store.db.query(
        "SELECT * FROM checks WHERE monitor_id = 'principles' ORDER BY id"))
    assert rows[0]["prev_hash"] == GENESIS
    for before, after in itertools.pairwise(rows):
        assert after["prev_hash"] == before["record_hash"]
    # The hash covers the check's metadata: recomputing with another time differs.
    first = rows[0]
    snapshot = store.db.execute(
        "SELECT hash, size, content_type, first_seen_at FROM snapshots WHERE hash = ?",
        [first["snapshot_hash"]]).fetchone()
    covered = Covered((), (dict(zip(SNAPSHOT_FACTS, snapshot, strict=True)),))
    assert record_hash(GENESIS, first, None, covered) == first["record_hash"]
    moved = {**first, "started_at": "2026-01-01T00:00:01.000+00:00"}
    assert record_hash(GENESIS, moved, None, covered) != first["record_hash"]
    assert record_hash(GENESIS, first, None) != first["record_hash"], "covers the snapshot"
    head = store.db.execute("SELECT chain_head FROM monitors WHERE id = 'principles'").fetchone()
    assert head[0] == rows[-1]["record_hash"]


def test_an_altered_body_is_reported_with_its_snapshot_and_checks(
    history: History, db: Path, store: Store
) -> None:
    check_id, body = history.versions[20]
    snapshot_hash = store.db.table("checks").get(check_id)["snapshot_hash"]
    forged = zstandard.ZstdCompressor().compress(body.replace(b"Revision 20", b"Revision 99"))
    tamper(db, ("UPDATE snapshots SET body = ?, compression = 'zstd', base = NULL "
                "WHERE hash = ?", [forged, snapshot_hash]))
    result = govwatch(db, "verify")
    assert result.exit_code == 1
    found = problems(result.output)
    assert len(found) == 1, result.output
    assert f"snapshots hash={snapshot_hash[:16]} (monitor principles)" in found[0]
    assert "the body was altered" in found[0] and f"#{check_id}" in found[0]
    assert "verify found 1 problem(s)" in result.stderr


def test_an_altered_base_is_reported_with_every_version_stored_against_it(
    history: History, db: Path, store: Store
) -> None:
    dependents = store.db.execute(
        "SELECT base, group_concat(hash) FROM snapshots WHERE base IS NOT NULL GROUP BY base "
        "ORDER BY count(*) DESC LIMIT 1").fetchone()
    assert dependents is not None, "successive versions are stored as deltas"
    base, hashes = dependents[0], dependents[1].split(",")
    original = store.load_body(base)
    forged = zstandard.ZstdCompressor().compress(original.replace(b"Revision", b"Revisions"))
    assert forged != original
    tamper(db, ("UPDATE snapshots SET body = ? WHERE hash = ?", [forged, base]))
    found = problems(govwatch(db, "verify").output)
    assert any(f"hash={base[:16]}" in p and "the body was altered" in p for p in found), found
    for digest in hashes:
        assert any(f"hash={digest[:16]}" in p for p in found), (digest, found)
    assert len(found) == 1 + len(hashes)


def test_an_altered_timestamp_is_reported_with_its_check(history: History, db: Path) -> None:
    target = principles_ids(history, "unchanged")[3]
    tamper(db, ("UPDATE checks SET started_at = '2025-12-31T00:00:00.000+00:00' WHERE id = ?",
                [target]))
    result = govwatch(db, "verify")
    assert result.exit_code == 1
    found = problems(result.output)
    assert len(found) == 1
    assert found[0].startswith(
        f"PROBLEM checks #{target} (monitor principles): record_hash does not match the "
        "stored rows: the check, its change, its captures or its snapshots' metadata were "
        "altered (or one of them deleted) after it was recorded (it covers snapshots ")


def test_an_altered_change_is_reported_with_its_check(
    history: History, db: Path, store: Store
) -> None:
    change_id = history.change_ids[10]
    check_id = store.db.table("changes").get(change_id)["check_id"]
    tamper(db, ("UPDATE changes SET summary = 'nothing happened' WHERE id = ?", [change_id]))
    found = problems(govwatch(db, "verify").output)
    assert len(found) == 1
    assert found[0].startswith(f"PROBLEM checks #{check_id} (with changes #{change_id})")


def test_a_row_deleted_in_the_middle_names_its_neighbours(history: History, db: Path) -> None:
    ids = principles_ids(history)
    victim = principles_ids(history, "unchanged")[2]
    before, after = ids[ids.index(victim) - 1], ids[ids.index(victim) + 1]
    tamper(db, ("DELETE FROM checks WHERE id = ?", [victim]))
    result = govwatch(db, "verify")
    assert result.exit_code == 1
    found = problems(result.output)
    assert len(found) == 1, result.output
    assert found[0].startswith(f"PROBLEM checks #{before} -> #{after} (monitor principles)")
    assert "a check between them was deleted" in found[0]


def test_a_deleted_changed_check_is_also_named_by_its_orphan_change(
    history: History, db: Path, store: Store
) -> None:
    change_id = history.change_ids[5]
    victim = store.db.table("changes").get(change_id)["check_id"]
    tamper(db, ("DELETE FROM checks WHERE id = ?", [victim]))
    found = problems(govwatch(db, "verify").output)
    assert any(f"changes #{change_id}" in p and f"check #{victim}, which is missing" in p
               for p in found), found
    assert any("a check between them was deleted" in p for p in found)


def test_deleting_the_newest_row_is_caught(history: History, db: Path, tmp_path: Path) -> None:
    newest = principles_ids(history)[-1]
    tamper(db, ("DELETE FROM changes WHERE check_id = ?", [newest]),
           ("DELETE FROM checks WHERE id = ?", [newest]))
    found = problems(govwatch(db, "verify").output)
    assert len(found) == 1
    assert found[0].startswith("PROBLEM monitors id=principles (monitor principles)")
    assert "the newest checks were deleted" in found[0]


def test_deleting_the_newest_rows_and_fixing_the_head_is_caught_against_published_heads(
    history: History, db: Path, tmp_path: Path
) -> None:
    published = save_heads(db, tmp_path)
    heads = json.loads(published.read_text())
    newest = principles_ids(history)[-2:]
    tamper(db,
           ("DELETE FROM changes WHERE check_id IN (?, ?)", newest),
           ("DELETE FROM checks WHERE id IN (?, ?)", newest),
           ("UPDATE monitors SET chain_head = (SELECT record_hash FROM checks WHERE "
            "monitor_id = 'principles' ORDER BY id DESC LIMIT 1) WHERE id = 'principles'", []))
    # Without the published heads the shortened chain looks whole...
    assert govwatch(db, "verify").exit_code == 0
    # ...against them the missing head is reported.
    result = govwatch(db, "verify", "--against", str(published))
    assert result.exit_code == 1
    found = problems(result.output)
    assert found == [
        f"PROBLEM checks (published head) (monitor principles): the published head "
        f"{heads['principles'][:16]} is no longer in the monitor's chain: checks recorded up "
        "to it were deleted or rewritten"]
    assert "3 published heads" in result.output


def test_a_rewritten_chain_is_caught_against_published_heads(
    history: History, db: Path, tmp_path: Path
) -> None:
    published = save_heads(db, tmp_path)
    target = principles_ids(history, "changed")[4]
    tamper(db, ("UPDATE checks SET started_at = '2025-06-01T00:00:00.000+00:00' WHERE id = ?",
                [target]))
    with sqlite_utils.Database(db) as forger, forger.atomic():
        rechain_all(forger)
    assert govwatch(db, "verify").exit_code == 0, "a full rewrite is consistent in itself"
    result = govwatch(db, "verify", "--against", str(published))
    assert result.exit_code == 1
    assert [p.split(":")[0] for p in problems(result.output)] == [
        "PROBLEM checks (published head) (monitor principles)"]


def test_older_published_heads_are_ancestors_and_verify(history: History, db: Path,
                                                        store: Store, tmp_path: Path) -> None:
    ids = principles_ids(history)
    old_head = store.db.table("checks").get(ids[30])["record_hash"]
    path = tmp_path / "digest.json"
    path.write_text(json.dumps({"generated_at": "x", "heads": {"principles": old_head}}))
    result = govwatch(db, "verify", "--against", str(path))
    assert result.exit_code == 0, result.output
    assert "1 published heads" in result.output


def test_a_missing_snapshot_row_is_reported(history: History, db: Path, store: Store) -> None:
    check_id, _ = history.versions[7]
    snapshot_hash = store.db.table("checks").get(check_id)["snapshot_hash"]
    tamper(db, ("DELETE FROM snapshots WHERE hash = ?", [snapshot_hash]))
    found = problems(govwatch(db, "verify").output)
    assert f"PROBLEM checks #{check_id} (monitor principles): its snapshot " \
           f"{snapshot_hash[:16]} is missing from snapshots" in found


def test_bad_heads_file_is_a_usage_error(history: History, db: Path, tmp_path: Path) -> None:
    path = tmp_path / "heads.json"
    path.write_text('{"principles": "not a hash"}')
    result = govwatch(db, "verify", "--against", str(path))
    assert result.exit_code == 2
    assert "64-hex head hash" in result.output


def test_heads_prints_every_chain_head(history: History, db: Path, store: Store) -> None:
    heads = json.loads(govwatch(db, "heads", "--json").stdout)
    assert set(heads) == {"principles", "wonk", "ethics"}
    for monitor, head in heads.items():
        newest = store.db.execute(
            "SELECT id, record_hash FROM checks WHERE monitor_id = ? ORDER BY id DESC LIMIT 1",
            [monitor]).fetchone()
        assert head == newest[1]
    text = govwatch(db, "heads").stdout
    principles_line = next(line for line in text.splitlines() if line.startswith("principles"))
    assert f"check #{principles_ids(history)[-1]}" in principles_line
    assert heads["principles"] in principles_line


def test_the_migration_chains_existing_rows_like_live_recording(
    history: History, store: Store, tmp_path: Path
) -> None:
    """A database from before the chain gets the same hashes the live path computes."""
    old = copy_as_before_audit(store, tmp_path / "before-audit.db")
    assert len(MIGRATIONS) >= 2
    with Store(old) as migrated:
        assert migrated.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        ours = dict(store.db.execute("SELECT id, record_hash FROM checks").fetchall())
        theirs = dict(migrated.db.execute("SELECT id, record_hash FROM checks").fetchall())
        assert theirs == ours and len(theirs) == len(history.checks)
    result = govwatch(old, "verify")
    assert result.exit_code == 0, result.output
