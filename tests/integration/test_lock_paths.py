"""One lock per database file, whatever path names it: the same database reached through a
symbolic link cannot run two cycles at once (the second exits 75 as in cron mode)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import LockHeld, StorageError
from pipeline.lock import RunLock, lock_path
from tests.integration.conftest import WAIT_SECONDS
from tests.integration.opsite import OpSite, serving
from tests.integration.test_cron_lock import govwatch, stop, write_config

pytestmark = pytest.mark.integration


@pytest.fixture
def site() -> Iterator[OpSite]:
    with serving() as running:
        yield running


def test_a_run_through_a_symlink_to_a_running_database_exits_75(tmp_path: Path,
                                                                 site: OpSite) -> None:
    slow = site.hold("/slow")
    config, db = write_config(tmp_path, site), tmp_path / "gw.db"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = elsewhere / "alias.db"
    link.symlink_to(db)
    first = govwatch(config, db, "run")
    try:
        slow.wait(lambda held: held.arrived == 1, "the first run holds the lock")
        second = govwatch(config, link, "run")
        try:
            out, err = second.communicate(timeout=WAIT_SECONDS)
        finally:
            stop(second)
        assert second.returncode == 75, err
        assert "another govwatch is running on this database" in err
        assert f"pid {first.pid} cron" in err and str(lock_path(db)) in err
        assert "database is locked" not in err and "Traceback" not in err
        assert out == ""
        assert (slow.arrived, slow.answered) == (1, 0), "the second run fetched nothing"
        slow.release()
        first_out, first_err = first.communicate(timeout=WAIT_SECONDS)
    finally:
        stop(first)
    assert first.returncode == 0, first_err
    assert first_out.startswith("checked 1: new 1")
    assert not (elsewhere / "alias.db.lock").exists()


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
