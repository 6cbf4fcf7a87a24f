"""Retention: `govwatch prune` drops old raw bodies and keeps hashes, text and the chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.errors import ConfigError, StorageError
from pipeline.cli.group import cli
from pipeline.config import parse_config
from storage.db import Store
from storage.records import Check, Snapshot
from storage.retention import prune_bodies
from tests.unit.audit_history import CONFIG, History, govwatch, principles_body


def bodies(store: Store) -> dict[str, bool]:
    """snapshot hash -> body still stored."""
    return {row[0]: row[1] is not None
            for row in store.db.execute("SELECT hash, body FROM snapshots")}


def newest_snapshots(store: Store, monitor: str, n: int) -> list[str]:
    rows = store.db.execute(
        "SELECT snapshot_hash, max(id) FROM checks WHERE monitor_id = ? AND snapshot_hash "
        "IS NOT NULL GROUP BY snapshot_hash ORDER BY 2 DESC LIMIT ?", [monitor, n])
    return [row[0] for row in rows]


def test_keep_versions_prunes_older_bodies_and_verify_says_pruned(
    history: History, db: Path, store: Store
) -> None:
    before = govwatch(db, "heads", "--json").stdout
    result = govwatch(db, "prune", "--keep-versions", "5")
    assert result.exit_code == 0, result.output
    stored = bodies(store)
    kept = {h for h, present in stored.items() if present}
    expected = set()
    for monitor in ("principles", "wonk", "ethics"):
        expected |= set(newest_snapshots(store, monitor, 5))
    assert kept == expected
    # A kept version stored against a pruned base was stored whole first.
    assert store.db.execute(
        "SELECT count(*) FROM snapshots AS kept JOIN snapshots AS base ON base.hash = kept.base "
        "WHERE kept.body IS NOT NULL AND base.body IS NULL").fetchone()[0] == 0
    pruned = len(stored) - len(kept)
    assert pruned > 40
    assert f"pruned {pruned} bodies" in result.stdout
    verified = govwatch(db, "verify")
    assert verified.exit_code == 0, verified.output
    assert f"({pruned} pruned, reported as pruned)" in verified.output
    assert "PROBLEM" not in verified.output
    assert govwatch(db, "heads", "--json").stdout == before, "the chain is untouched"
    # Extracted text stays: old versions can still be diffed and searched.
    first, _ = history.versions[1]
    assert "-Revision 1 of" in govwatch(db, "diff", "principles", "--from", str(first)).stdout
    assert json.loads(govwatch(db, "search", "sandbox", "--json").stdout)


def test_a_pruned_body_is_shown_as_pruned_and_refused_as_raw(
    history: History, db: Path, store: Store
) -> None:
    govwatch(db, "prune", "--keep-versions", "2")
    check_id, _ = history.versions[3]
    snapshot = store.db.table("checks").get(check_id)["snapshot_hash"]
    shown = govwatch(db, "show", snapshot[:12])
    assert "body:       pruned at " in shown.stdout
    assert "Revision 3 of the principles." in shown.stdout
    raw = govwatch(db, "show", snapshot[:12], "--raw")
    assert raw.exit_code == 1 and "was pruned" in raw.stderr
    with pytest.raises(StorageError, match="was pruned"):
        store.load_body(snapshot)


def test_a_body_deleted_without_pruning_is_still_a_problem(
    history: History, db: Path, store: Store
) -> None:
    check_id, _ = history.versions[4]
    snapshot = store.db.table("checks").get(check_id)["snapshot_hash"]
    store.db.execute("UPDATE snapshots SET body = NULL WHERE hash = ?", [snapshot])
    store.db.conn.commit()
    result = govwatch(db, "verify")
    assert result.exit_code == 1
    assert f"snapshots hash={snapshot[:16]} (monitor principles): body is missing and was " \
           "not pruned" in result.output


def test_keep_days_uses_the_last_time_a_body_was_seen(history: History, store: Store) -> None:
    now = datetime(2026, 1, 16, tzinfo=UTC)
    report = prune_bodies(store, keep_days=5, keep_versions=None, now=now, dry_run=True)
    assert report.dry_run and all(bodies(store).values()), "a dry run changes nothing"
    prune_bodies(store, keep_days=5, keep_versions=None, now=now)
    seen = dict(store.db.execute(
        "SELECT snapshot_hash, max(started_at) FROM checks WHERE snapshot_hash IS NOT NULL "
        "GROUP BY snapshot_hash").fetchall())
    current = {row[0] for row in store.db.execute("SELECT last_snapshot_hash FROM monitors")}
    for digest, present in bodies(store).items():
        assert present == (seen[digest] >= "2026-01-11" or digest in current), digest


def test_both_rules_keep_what_either_keeps(history: History, store: Store) -> None:
    now = datetime(2026, 1, 16, tzinfo=UTC)
    only_days = prune_bodies(store, keep_days=5, keep_versions=None, now=now, dry_run=True)
    both = prune_bodies(store, keep_days=5, keep_versions=30, now=now, dry_run=True)
    assert both.pruned < only_days.pruned


def test_a_pruned_body_seen_again_is_stored_again(history: History, store: Store) -> None:
    prune_bodies(store, keep_days=None, keep_versions=1, now=datetime.now(UTC))
    body = principles_body(2)
    snapshot = Snapshot.of(body, "text/html")
    assert not bodies(store)[snapshot.hash]
    store.record(Check(monitor_id="principles", started_at="2026-02-01T00:00:00.000+00:00",
                       duration_ms=5, url="https://oecd.ai/principles", outcome="error",
                       status=200, error="ExtractError: test", snapshot_hash=snapshot.hash),
                 snapshot=snapshot)
    assert store.load_body(snapshot.hash) == body
    assert store.db.table("snapshots").get(snapshot.hash)["pruned_at"] is None


def test_prune_uses_the_config_policy_or_asks_for_one(history: History, db: Path,
                                                      store: Store, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {db}\nretention:\n  keep_versions: 3\norganizations: []\n")
    ran = CliRunner().invoke(cli, ["--config", str(config), "prune", "--dry-run"])
    assert ran.exit_code == 0, ran.output
    assert ran.stdout.startswith("would prune ")
    assert all(bodies(store).values()), "a dry run changes nothing"
    bare = tmp_path / "bare.yaml"
    bare.write_text(f"database: {db}\norganizations: []\n")
    refused = CliRunner().invoke(cli, ["--config", str(bare), "prune"])
    assert refused.exit_code == 2 and "no retention policy" in refused.output


def test_retention_config_is_validated() -> None:
    config = parse_config("retention: {keep_days: 90, keep_versions: 10}\norganizations: []\n")
    assert config.retention is not None and config.retention.keep_days == 90
    assert CONFIG.retention is None
    with pytest.raises(ConfigError, match="keep_days, keep_versions or both"):
        parse_config("retention: {}\norganizations: []\n")
    with pytest.raises(ConfigError, match="unknown key 'keep'"):
        parse_config("retention: {keep: 3}\norganizations: []\n")
