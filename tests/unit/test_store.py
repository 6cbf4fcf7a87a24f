"""The SQLite store: schema, WAL, content addressing and one transaction per check."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from core.errors import StorageError
from core.records import Change, Extracted
from pipeline.config import parse_config
from storage.db import Store
from storage.migrations import MIGRATIONS, schema_version
from storage.records import Check, Snapshot

CONFIG = parse_config(
    "organizations:\n  - id: oecd\n    name: OECD\n    monitors:\n"
    "      - {id: m, kind: page, url: 'https://oecd.ai/'}\n"
    "      - {id: n, kind: feed, url: 'https://oecd.ai/rss'}\n"
)


@pytest.fixture
def synced(store: Store) -> Store:
    store.sync_monitors(CONFIG.organizations)
    return store


def check(outcome: str, **fields: object) -> Check:
    base: dict[str, object] = {
        "monitor_id": "m", "started_at": "2026-11-28T10:00:00.000+00:00", "duration_ms": 12,
        "url": "https://oecd.ai/", "outcome": outcome, "status": 200,
    }
    base.update(fields)
    return Check(**base)  # type: ignore[arg-type]


def test_schema_is_migrated_and_wal_is_on(store: Store) -> None:
    assert schema_version(store.db) == len(MIGRATIONS)
    assert store.db.journal_mode == "wal"
    assert {"organizations", "monitors", "snapshots", "contents", "checks", "changes"} <= set(
        store.db.table_names()
    )


def test_reopening_does_not_migrate_twice(tmp_path: Path) -> None:
    with Store(tmp_path / "a.db") as first:
        first.sync_monitors(CONFIG.organizations)
    with Store(tmp_path / "a.db") as again:
        assert again.db.table("monitors").count == 2


def test_unopenable_database_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StorageError, match="cannot open database"):
        Store(tmp_path / "dir.db")


def test_sync_keeps_state_when_settings_change(synced: Store) -> None:
    synced.record(check("error", error="boom"), every=timedelta(hours=1))
    synced.sync_monitors(CONFIG.organizations)
    assert synced.monitor_state("m").consecutive_failures == 1


def test_identical_bodies_are_stored_once(synced: Store) -> None:
    body = b"<p>same bytes</p>" * 100
    snapshot = Snapshot.of(body, "text/html")
    content = Extracted(text="same bytes")
    for outcome in ("new", "unchanged"):
        synced.record(
            check(outcome, snapshot_hash=snapshot.hash, content_hash=content.content_hash),
            snapshot=snapshot, content=content,
        )
    assert synced.db.table("checks").count == 2
    assert synced.db.table("snapshots").count == 1
    assert synced.db.table("contents").count == 1
    assert synced.load_body(snapshot.hash) == body
    stored_size = synced.db.execute("SELECT length(body) FROM snapshots").fetchone()[0]
    assert stored_size < len(body) / 5, "bodies are compressed"
    assert synced.load_content(content.content_hash) == content


def test_change_row_links_previous_and_new_versions(synced: Store) -> None:
    old, new = Snapshot.of(b"v1"), Snapshot.of(b"v2")
    old_content, new_content = Extracted(text="v1"), Extracted(text="v2")
    synced.record(check("new", snapshot_hash=old.hash, content_hash=old_content.content_hash),
                  snapshot=old, content=old_content)
    recorded = synced.record(
        check("changed", snapshot_hash=new.hash, content_hash=new_content.content_hash),
        snapshot=new, content=new_content,
        change=Change(kind="text", summary="1 line(s) added", diff="-v1\n+v2"),
    )
    assert recorded.change_id is not None
    row = synced.db.table("changes").get(recorded.change_id)
    assert (row["from_snapshot"], row["to_snapshot"]) == (old.hash, new.hash)
    assert (row["from_content"], row["to_content"]) == (
        old_content.content_hash, new_content.content_hash)
    assert row["check_id"] == recorded.check_id
    assert synced.monitor_state("m").last_snapshot_hash == new.hash


def test_validators_are_kept_only_from_successful_checks(synced: Store) -> None:
    snapshot, content = Snapshot.of(b"x"), Extracted(text="x")
    synced.record(
        check("new", headers={"etag": '"v1"', "last-modified": "Mon", "set-cookie": "s=1"},
              snapshot_hash=snapshot.hash, content_hash=content.content_hash),
        snapshot=snapshot, content=content,
    )
    synced.record(check("error", headers={"etag": '"bad"'}, error="ExtractError: broken"))
    state = synced.monitor_state("m")
    assert (state.etag, state.last_modified) == ('"v1"', "Mon")
    assert state.consecutive_failures == 1
    synced.record(check("not-modified", status=304, snapshot_hash=snapshot.hash))
    assert synced.monitor_state("m").consecutive_failures == 0
    headers = synced.db.execute("SELECT headers FROM checks ORDER BY id LIMIT 1").fetchone()[0]
    assert json.loads(headers) == {"etag": '"v1"', "last-modified": "Mon"}


def test_next_due_time_follows_the_interval(synced: Store) -> None:
    synced.record(check("error", error="x"), every=timedelta(hours=6))
    state = synced.monitor_state("m")
    assert state.next_due_at == "2026-11-28T16:00:00.000+00:00"


def test_a_failing_write_leaves_no_half_check(synced: Store) -> None:
    snapshot, content = Snapshot.of(b"body"), Extracted(text="body")
    # An unknown monitor violates the foreign key after the snapshot and content rows
    # were written in the same transaction: all of it must roll back.
    with pytest.raises(StorageError, match="cannot record check of ghost"):
        synced.record(
            check("new", monitor_id="ghost", snapshot_hash=snapshot.hash,
                  content_hash=content.content_hash),
            snapshot=snapshot, content=content,
        )
    assert synced.db.table("snapshots").count == 0
    assert synced.db.table("contents").count == 0
    assert synced.db.table("checks").count == 0


def test_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown check outcome"):
        check("maybe")


def test_missing_content_is_reported(synced: Store) -> None:
    with pytest.raises(StorageError, match="missing"):
        synced.load_content("0" * 64)


def test_database_is_plain_sqlite(synced: Store, tmp_path: Path) -> None:
    synced.record(check("error", error="x"))
    with sqlite3.connect(tmp_path / "govwatch.db") as conn:
        assert conn.execute("SELECT outcome, error FROM checks").fetchall() == [("error", "x")]
    conn.close()


def _config_with(**monitor: object) -> object:
    options = ", ".join(f"{k}: {v!r}" for k, v in monitor.items())
    return parse_config(
        "organizations:\n  - id: oecd\n    name: OECD\n    monitors:\n"
        f"      - {{id: m, kind: page, url: 'https://oecd.ai/', {options}}}\n"
    )


@pytest.mark.parametrize(
    ("change", "rebased"),
    [({"select": "main"}, True), ({"exclude": "footer"}, True), ({"every": "1h"}, False),
     ({"name": "Renamed"}, False)],
)
def test_changing_what_is_extracted_starts_a_new_baseline(
    store: Store, change: dict[str, str], rebased: bool
) -> None:
    store.sync_monitors(_config_with().organizations)  # type: ignore[attr-defined]
    snapshot, content = Snapshot.of(b"x"), Extracted(text="x")
    store.record(check("new", headers={"etag": '"v1"'}, snapshot_hash=snapshot.hash,
                       content_hash=content.content_hash), snapshot=snapshot, content=content,
                 every=timedelta(hours=6))
    store.sync_monitors(_config_with(**change).organizations)  # type: ignore[attr-defined]
    state = store.monitor_state("m")
    if rebased:
        assert (state.etag, state.last_content_hash, state.next_due_at) == (None, None, None)
    else:
        assert state.etag == '"v1"' and state.last_content_hash == content.content_hash


def test_syncing_the_same_organizations_again_reads_nothing(tmp_path: Path) -> None:
    # `govwatch run` syncs, then its cycle syncs the very same list: the second is free,
    # while another list (a reloaded config) is compared row by row as always.
    from pipeline.config import parse_config

    text = ("organizations:\n  - id: o\n    name: O\n    monitors:\n"
            "      - {id: m, kind: page, url: 'https://example.org/'}\n")
    first = parse_config(text, "config.yaml")
    with Store(tmp_path / "gw.db") as store:
        store.sync_monitors(first.organizations)
        statements: list[str] = []
        store.db.conn.set_trace_callback(statements.append)
        store.sync_monitors(first.organizations)
        assert statements == []
        renamed = parse_config(text.replace("name: O", "name: Office"), "config.yaml")
        store.sync_monitors(renamed.organizations)
        store.db.conn.set_trace_callback(None)
        assert statements
        assert store.db.execute("SELECT name FROM organizations").fetchone() == ("Office",)
