"""`govwatch backup` while another connection keeps writing, and the Datasette views."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from core.records import Extracted
from storage.db import Store
from storage.records import Check, Snapshot
from tests.unit.audit_history import CONFIG, History, build_history, govwatch


@pytest.fixture
def history(store: Store) -> History:
    return build_history(store)


def write_until(path: Path, stop: threading.Event, written: list[int],
                begun: list[int]) -> None:
    """A second writer, like a run in another process: its own connection, its own thread.
    ``begun`` counts the checks whose commit may have happened, ``written`` those whose
    commit surely did."""
    with Store(path) as writer:
        n = 0
        while not stop.is_set() and n < 5000:
            n += 1
            begun.append(n)
            body = f"<p>concurrent version {n}</p>".encode()
            snapshot, content = Snapshot.of(body, "text/html"), Extracted(text=f"version {n}")
            writer.record(
                Check(monitor_id="ethics", started_at=f"2026-03-01T00:00:{n % 60:02d}.000+00:00",
                      duration_ms=1, url="https://unesco.org/ethics", outcome="changed",
                      status=200, snapshot_hash=snapshot.hash,
                      content_hash=content.content_hash),
                snapshot=snapshot, content=content)
            written.append(n)


def test_backup_while_another_connection_writes_passes_verify(
    history: History, store: Store, tmp_path: Path
) -> None:
    stop, written, begun = threading.Event(), [], []
    writer = threading.Thread(target=write_until, args=(store.path, stop, written, begun))
    writer.start()
    copies = []
    try:
        for _ in range(3000):  # at most 30 s for the writer's first 20 checks
            if len(written) >= 20 or not writer.is_alive():
                break
            threading.Event().wait(0.01)
        assert len(written) >= 20, "the second writer did not get going"
        for n in range(3):
            copy = tmp_path / f"copy-{n}.db"
            before = len(written)
            result = govwatch(store.path, "backup", str(copy))
            assert result.exit_code == 0, result.output
            assert f"backed up to {copy}" in result.stdout
            copies.append((copy, before, len(begun)))
    finally:
        stop.set()
        writer.join(30)
    assert not writer.is_alive()
    base = len(history.checks)
    for copy, written_before, written_after in copies:
        verified = govwatch(copy, "verify")
        assert verified.exit_code == 0, verified.output
        with sqlite3.connect(copy) as conn:
            count = conn.execute("SELECT count(*) FROM checks").fetchone()[0]
        conn.close()
        assert base + written_before <= count <= base + written_after
    assert govwatch(store.path, "verify").exit_code == 0
    assert not list(tmp_path.glob("*.partial"))


def test_backup_refuses_to_overwrite_or_copy_onto_itself(history: History, store: Store,
                                                         tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    copy.write_text("precious")
    refused = govwatch(store.path, "backup", str(copy))
    assert refused.exit_code == 1 and "pass --force" in refused.stderr
    assert copy.read_text() == "precious"
    assert govwatch(store.path, "backup", str(copy), "--force").exit_code == 0
    assert govwatch(copy, "verify").exit_code == 0
    itself = govwatch(store.path, "backup", str(store.path), "--force")
    assert itself.exit_code == 1 and "must not be the database itself" in itself.stderr
    missing_dir = govwatch(store.path, "backup", str(tmp_path / "no" / "such" / "x.db"))
    assert missing_dir.exit_code == 1 and "cannot write" in missing_dir.stderr


def test_datasette_views_have_readable_columns(history: History, store: Store) -> None:
    status = list(store.db.query("SELECT * FROM monitor_status"))
    assert [row["monitor"] for row in status] == ["principles", "wonk", "ethics"]
    principles = status[0]
    assert principles["organization"] == "OECD" and principles["enabled"] == "yes"
    assert principles["checks"] == len(history.ids_of("principles"))
    assert principles["last_outcome"] == history.checks[max(history.ids_of("principles"))][2]
    log = list(store.db.query("SELECT * FROM change_log"))
    assert len(log) == len(history.change_ids)
    assert log[0]["change_id"] == max(history.change_ids), "newest first"
    assert {"organization", "monitor", "url", "summary", "diff", "detected_at"} <= set(log[0])
    assert {org.name for org in CONFIG.organizations} == {row["organization"] for row in log}
