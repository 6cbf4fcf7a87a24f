"""Cron mode: two concurrent `govwatch run`s on one database, and a stale lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.lock import lock_path
from storage.db import Store
from tests.integration.conftest import WAIT_SECONDS
from tests.integration.opsite import OpSite, serving

pytestmark = pytest.mark.integration


@pytest.fixture
def site() -> Iterator[OpSite]:
    with serving() as running:
        yield running

GOVWATCH = str(Path(sys.executable).parent / "govwatch")


def write_config(tmp_path: Path, site: OpSite) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(
        "defaults: {every: 1h}\n"
        "organizations:\n  - id: o\n    name: O\n    monitors:\n"
        f"      - {{id: slow, kind: page, url: '{site.url('/slow')}', robots: false}}\n",
        encoding="utf-8",
    )
    return config


def govwatch(config: Path, db: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [GOVWATCH, "--config", str(config), "--db", str(db), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=WAIT_SECONDS)


def test_a_second_concurrent_run_exits_75_at_once(tmp_path: Path, site: OpSite) -> None:
    slow = site.hold("/slow")  # answered only when the test says so
    config, db = write_config(tmp_path, site), tmp_path / "gw.db"
    first = govwatch(config, db, "run")
    try:
        slow.wait(lambda held: held.arrived == 1, "the first run fetches /slow (so it holds "
                  "the lock)")
        second = govwatch(config, db, "run")
        try:
            out, err = second.communicate(timeout=WAIT_SECONDS)
        finally:
            stop(second)
        assert second.returncode == 75, err
        # The loser did not wait for the winner: the winner's request is still held.
        assert (slow.arrived, slow.answered, slow.abandoned) == (1, 0, 0), \
            "the loser exited only once the winner's fetch had ended"
        assert first.poll() is None, "the winner is still running"
        assert "another govwatch is running on this database" in err
        assert f"pid {first.pid} cron" in err
        assert out == ""
        slow.release()
        first_out, first_err = first.communicate(timeout=WAIT_SECONDS)
    finally:
        stop(first)
    assert first.returncode == 0, first_err
    assert first_out.startswith("checked 1: new 1")
    # The winner's first check, and its copy (learning what changes by itself).
    assert site.count("/slow") == 2 and slow.answered == 2, "the second run fetched nothing"
    with Store(db) as store:
        runs = list(store.db.query("SELECT mode, checked, new FROM runs"))
    assert runs == [{"mode": "cron", "checked": 1, "new": 1}]


def test_a_stale_lock_of_a_killed_run_is_taken_over(tmp_path: Path, site: OpSite) -> None:
    slow = site.hold("/slow")
    config, db = write_config(tmp_path, site), tmp_path / "gw.db"
    victim = govwatch(config, db, "run")
    try:
        slow.wait(lambda held: held.arrived == 1, "the victim fetches /slow")
        os.kill(victim.pid, signal.SIGKILL)
        victim.communicate(timeout=WAIT_SECONDS)
    finally:
        stop(victim)
    slow.wait(lambda held: held.abandoned == 1, "the killed run's request is dropped")
    assert f"pid {victim.pid}" in lock_path(db).read_text(), "the killed run left its lock"
    site.set("/slow", "<p>fast now</p>")
    heir = govwatch(config, db, "run")
    try:
        out, err = heir.communicate(timeout=30)
    finally:
        stop(heir)
    assert heir.returncode == 0, err
    assert f"took over the stale lock {lock_path(db)} left by pid {victim.pid}" in err
    assert out.startswith("checked 1: new 1")
    assert lock_path(db).read_text() == "", "released cleanly"
