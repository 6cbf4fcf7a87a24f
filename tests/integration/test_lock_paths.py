"""One lock per database file, whatever path names it: the same database reached through a
symbolic link or a hard link cannot run two cycles at once (the second exits 75 as in cron
mode)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.errors import LockHeld, StorageError
from pipeline.lock import RunLock, lock_path
from storage.db import Store
from storage.records import CONFIRM
from tests.integration.conftest import WAIT_SECONDS
from tests.integration.opsite import OpSite, serving
from tests.integration.test_cron_lock import govwatch, stop, write_config

pytestmark = pytest.mark.integration


@pytest.fixture
def site() -> Iterator[OpSite]:
    with serving() as running:
        yield running


def refused_through(tmp_path: Path, site: OpSite, alias: Callable[[Path, Path], None],
                    *holder: str) -> Path:
    """A run on ``gw.db`` holds the lock while a second run reaches the same file through
    the other name that ``alias(db, other)`` makes: the second exits 75, naming the
    holder, and fetches nothing; the first ends well. Returns the other name."""
    slow = site.hold("/slow")
    config, db = write_config(tmp_path, site), tmp_path / "gw.db"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    other = elsewhere / "alias.db"
    first = govwatch(config, db, "run")
    try:
        slow.wait(lambda held: held.arrived == 1, "the first run holds the lock")
        alias(db, other)
        second = govwatch(config, other, "run")
        try:
            out, err = second.communicate(timeout=WAIT_SECONDS)
        finally:
            stop(second)
        assert second.returncode == 75, err
        assert "another govwatch is running on this database" in err
        assert all(part.format(pid=first.pid, lock=lock_path(db)) in err for part in holder)
        assert "database is locked" not in err and "Traceback" not in err
        assert out == ""
        assert (slow.arrived, slow.answered) == (1, 0), "the second run fetched nothing"
        slow.release()
        first_out, first_err = first.communicate(timeout=WAIT_SECONDS)
    finally:
        stop(first)
    assert first.returncode == 0, first_err
    assert first_out.startswith("checked 1: new 1")
    return other


def test_a_run_through_a_symlink_to_a_running_database_exits_75(tmp_path: Path,
                                                                 site: OpSite) -> None:
    refused_through(tmp_path, site, lambda db, other: other.symlink_to(db),
                    "pid {pid} cron", "{lock}")
    assert not (tmp_path / "elsewhere" / "alias.db.lock").exists()


def test_the_lock_is_keyed_on_the_resolved_file(tmp_path: Path) -> None:
    db = tmp_path / "data" / "gw.db"
    db.parent.mkdir()
    db.touch()
    (tmp_path / "link.db").symlink_to(db)
    (tmp_path / "linkdir").symlink_to(db.parent, target_is_directory=True)
    names = [db, tmp_path / "link.db", tmp_path / "linkdir" / "gw.db",
             tmp_path / "data" / ".." / "data" / "gw.db"]
    assert {lock_path(name) for name in names} == {db.with_name("gw.db.lock")}
    with RunLock(db, "cron"):
        for name in names[1:]:
            with pytest.raises(LockHeld), RunLock(name, "daemon"):
                pass


def test_a_lock_file_that_is_a_symlink_is_not_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    db = tmp_path / "gw.db"
    lock_path(db).symlink_to(victim)
    with pytest.raises(StorageError, match="cannot open the lock file"), RunLock(db, "cron"):
        pass
    assert victim.read_text() == "precious"


def test_a_run_through_a_hard_link_to_a_running_database_exits_75(tmp_path: Path,
                                                                   site: OpSite) -> None:
    # os.link: another name of the same inode, not a link to a path.
    alias = refused_through(tmp_path, site, lambda db, other: os.link(db, other),
                            "pid {pid}, through another name of this file (a hard link)")
    with Store(alias, create=False) as store:  # one history, written by one run
        assert [(row["monitor_id"], row["outcome"]) for row in store.db.query(
            "select monitor_id, outcome from checks where outcome != ?", [CONFIRM])
        ] == [("slow", "new")]


def test_the_lock_is_keyed_on_the_file_not_its_names(tmp_path: Path) -> None:
    db = tmp_path / "data" / "gw.db"
    db.parent.mkdir()
    db.touch()
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    os.link(db, other_dir / "same.db")
    with RunLock(db, "cron"):
        with pytest.raises(LockHeld, match="hard link"), RunLock(other_dir / "same.db", "daemon"):
            pass
        assert lock_path(db).read_text().startswith(f"pid {os.getpid()} cron")
    # Released: any name takes it, and holds it against the others.
    with RunLock(other_dir / "same.db", "daemon"), pytest.raises(LockHeld), \
            RunLock(db, "cron"):
        pass
    copy = tmp_path / "copy.db"
    copy.write_bytes(db.read_bytes())  # another file: another lock
    with RunLock(db, "cron"), RunLock(copy, "cron"):
        pass


def test_a_database_that_does_not_exist_yet_is_created_empty_and_locked(
        tmp_path: Path) -> None:
    db = tmp_path / "new" / "gw.db"
    with RunLock(db, "cron"):
        assert db.stat().st_size == 0, "an empty file: SQLite reads it as a new database"
        with pytest.raises(LockHeld), RunLock(db, "cron"):
            pass
        with Store(db, create=True) as store:
            store.db.execute("create table probe (x)")
    with Store(db, create=False) as store:
        assert "probe" in store.db.table_names()


def test_the_flock_leaves_sqlite_free_in_other_processes(tmp_path: Path) -> None:
    """On Linux ``flock`` and SQLite's POSIX record locks are independent: a reader or a
    writer in another process never waits for the run's lock (timeout 0: no retry)."""
    db = tmp_path / "gw.db"
    with sqlite3.connect(db) as connection:
        connection.execute("pragma journal_mode=wal")
        connection.execute("create table t (x)")
    connection.close()
    script = ("import sqlite3, sys\n"
              "c = sqlite3.connect(sys.argv[1], timeout=0)\n"
              "c.execute('insert into t values (1)'); c.commit()\n"
              "print(c.execute('select count(*) from t').fetchone()[0])\n")
    with RunLock(db, "cron"):
        done = subprocess.run([sys.executable, "-c", script, str(db)], capture_output=True,
                              text=True, timeout=WAIT_SECONDS, check=False)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "1", "")
