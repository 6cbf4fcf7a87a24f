"""Browsing the history: history --since/--until, show SNAPSHOT, diff, timeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitors.diffing import unified_text_diff
from pipeline.cli.timespec import BadTime, parse_when
from storage.db import Store
from tests.unit.audit_history import START, STEP, History, govwatch


def test_history_since_until_bounds_the_checks(history: History, db: Path) -> None:
    result = govwatch(db, "history", "principles", "--since", "2026-01-03",
                      "--until", "2026-01-04", "--json", "--limit", "1000")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    expected = [i for i, (m, t, _) in history.checks.items()
                if m == "principles" and "2026-01-03" <= t[:10] <= "2026-01-04"]
    assert sorted(r["check_id"] for r in rows) == expected
    assert len(expected) == 8, "two whole days of checks every 6 hours, --until inclusive"
    text = govwatch(db, "history", "principles", "--since", "2026-01-20T06:00",
                    "--until", "2026-01-20T12:00").stdout.splitlines()
    assert [line.split()[2] for line in text] == [
        "2026-01-20T12:00:00.000+00:00", "2026-01-20T06:00:00.000+00:00"]


def test_history_relative_since_and_bad_times(history: History, db: Path) -> None:
    # Every check is in 2026; "7d" ago from now finds the ones at most 7 days old.
    now = datetime.now(UTC)
    result = govwatch(db, "history", "principles", "--since", "7d", "--json")
    expected = [i for i, (m, t, _) in history.checks.items()
                if m == "principles" and datetime.fromisoformat(t) >= now - timedelta(days=7)]
    assert sorted(r["check_id"] for r in json.loads(result.stdout)) == expected
    bad = govwatch(db, "history", "principles", "--since", "last tuesday")
    assert bad.exit_code == 2
    assert "bad time 'last tuesday'" in bad.output


def test_parse_when_forms() -> None:
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    assert parse_when("7d", now=now) == datetime(2026, 3, 3, 12, tzinfo=UTC)
    assert parse_when("2026-03-01", now=now) == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_when("2026-03-01", end_of_day=True) == datetime(
        2026, 3, 1, 23, 59, 59, 999000, tzinfo=UTC)
    assert parse_when("2026-03-01T10:00+02:00") == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert parse_when("2026-03-01T10:00Z") == datetime(2026, 3, 1, 10, tzinfo=UTC)
    with pytest.raises(BadTime):
        parse_when("yesterday-ish")


def test_show_a_snapshot_by_prefix(history: History, db: Path, store: Store) -> None:
    check_id, body = history.versions[30]
    snapshot_hash = store.db.table("checks").get(check_id)["snapshot_hash"]
    result = govwatch(db, "show", snapshot_hash[:10])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(f"snapshot {snapshot_hash}\n")
    assert f"size:       {len(body)} B (text/html; charset=utf-8)" in out
    assert f"seen by oecd/principles: 1 check(s), #{check_id}" in out
    assert "Revision 30 of the principles." in out
    assert "Accountability applies to all AI actors." in out
    assert "Menu" not in out, "the extracted text (select: main), not the raw body"
    stored = store.db.execute("SELECT length(body), compression, base FROM snapshots "
                              "WHERE hash = ?", [snapshot_hash]).fetchone()
    assert stored[1:] != ("zstd", None), "version 30 is a delta of an earlier version"
    assert f"body:       {stored[0]} B stored (zstd-delta against base {stored[2][:16]})" in out
    raw = govwatch(db, "show", snapshot_hash, "--raw")
    assert raw.stdout_bytes == body


def test_show_still_shows_a_change_and_refuses_unknown_targets(
    history: History, db: Path
) -> None:
    change_id = history.change_ids[-1]
    result = govwatch(db, "show", str(change_id))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"change #{change_id} [")
    missing = govwatch(db, "show", "deadbeefdeadbeef")
    assert missing.exit_code == 1
    assert "neither a change id nor a snapshot hash" in missing.stderr
    assert govwatch(db, "show", "99999").exit_code == 1


def test_diff_two_versions_far_apart_by_check_id(history: History, db: Path,
                                                 store: Store) -> None:
    old_check, _ = history.versions[3]
    new_check, _ = history.versions[40]
    result = govwatch(db, "diff", "principles", "--from", str(old_check),
                      "--to", str(new_check))
    assert result.exit_code == 0, result.output
    old_text = store.load_content(store.db.table("checks").get(old_check)["content_hash"]).text
    new_text = store.load_content(store.db.table("checks").get(new_check)["content_hash"]).text
    expected = unified_text_diff(old_text, new_text)
    assert expected in result.stdout
    assert "-Revision 3 of the principles." in result.stdout
    assert "+Revision 40 of the principles." in result.stdout
    assert "+Accountability applies to all AI actors." in result.stdout
    assert f"from check #{old_check}" in result.stdout and f"to check #{new_check}" in result.stdout


def test_diff_by_time_and_snapshot_prefix(history: History, db: Path, store: Store) -> None:
    # At START + 17 steps (phase 7: an error check) the current version is the one
    # first seen at step 16; a time picks the version current then.
    at = (START + 17 * STEP + timedelta(minutes=30)).isoformat()
    expected_check = max(i for i, (m, t, o) in history.checks.items()
                         if m == "principles" and t <= at and o != "error")
    new_check, _ = history.versions[50]
    snapshot = store.db.table("checks").get(new_check)["snapshot_hash"]
    result = govwatch(db, "diff", "principles", "--from", at, "--to", snapshot[:12])
    assert result.exit_code == 0, result.output
    assert f"from check #{expected_check}" in result.stdout
    assert "+Revision 50 of the principles." in result.stdout
    same = govwatch(db, "diff", "principles", "--from", str(new_check), "--to", snapshot[:8])
    assert "no difference in the extracted text" in same.stdout


def test_diff_errors_are_clear(history: History, db: Path) -> None:
    error_check = next(i for i, (m, _, o) in history.checks.items()
                       if m == "principles" and o == "error")
    result = govwatch(db, "diff", "principles", "--from", str(error_check))
    assert result.exit_code == 1
    assert f"check #{error_check} of principles has no extracted version" in result.stderr
    early = govwatch(db, "diff", "principles", "--from", "2025-01-01")
    assert early.exit_code == 1 and "had no version at" in early.stderr
    assert govwatch(db, "diff", "nobody", "--from", "1").exit_code == 2
    nonsense = govwatch(db, "diff", "principles", "--from", "banana")
    assert nonsense.exit_code == 2


def test_timeline_across_an_organization(history: History, db: Path, store: Store) -> None:
    result = govwatch(db, "timeline", "--org", "oecd", "--json", "--limit", "1000")
    rows = json.loads(result.stdout)
    expected = [r["id"] for r in store.db.query(
        "SELECT changes.id FROM changes JOIN monitors ON monitors.id = changes.monitor_id "
        "WHERE org_id = 'oecd' ORDER BY detected_at, changes.id")]
    assert [r["change_id"] for r in rows] == expected
    assert {r["monitor_id"] for r in rows} == {"principles", "wonk"}
    text = govwatch(db, "timeline", "--since", "2026-01-07", "--until", "2026-01-07").stdout
    lines = text.splitlines()
    assert lines[0] == "== 2026-01-07"
    assert all(" change #" in line for line in lines[1:]) and len(lines) > 1
    assert any("unesco/ethics" in line for line in lines)
    unknown = govwatch(db, "timeline", "--org", "nasa")
    assert unknown.exit_code == 2 and "unknown organization id(s): nasa" in unknown.stderr


def test_timeline_limit_keeps_the_newest(history: History, db: Path) -> None:
    rows = json.loads(govwatch(db, "timeline", "--json", "--limit", "5").stdout)
    assert [r["change_id"] for r in rows] == sorted(history.change_ids)[-5:]
