"""Cron mode: two concurrent `govwatch run`s on one database, and a stale lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.lock import lock_path
from storage.db import Store
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
    process.communicate(timeout=10)


def wait_for(predicate: object, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_a_second_concurrent_run_exits_75_at_once(tmp_path: Path, site: OpSite) -> None:
    site.set("/slow", delay=2.0)
    config, db = write_config(tmp_path, site), tmp_path / "gw.db"
    first = govwatch(config, db, "run")
    try:
        wait_for(lambda: site.count("/slow") == 1)  # the first run holds the lock now
        started = time.monotonic()
        second = govwatch(config, db, "run")
        try:
            out, err = second.communicate(timeout=30)
        finally:
            stop(second)
        assert second.returncode == 75, err
        assert time.monotonic() - started < 1.5, "the loser must not wait for the winner"
        assert "another govwatch is running on this database" in err
        assert f"pid {first.pid} cron" in err
        assert out == ""
        first_out, first_err = first.communicate(timeout=30)
    finally:
        stop(first)
    assert first.returncode == 0, first_err
    assert first_out.startswith("checked 1: new 1")
    assert site.count("/slow") == 1, "the second run fetched nothing"
    with Store(db) as store:
        runs = list(store.db.query("SELECT mode, checked, new FROM runs"))
    assert runs == [{"mode": "cron", "checked": 1, "new": 1}]


def test_a_stale_lock_of_a_killed_run_is_taken_over(tmp_path: Path, site: OpSite) -> None:
    site.set("/slow", delay=5.0)
    config, db = write_config(tmp_path, site), tmp_path / "gw.db"
    victim = govwatch(config, db, "run")
    try:
        wait_for(lambda: site.count("/slow") == 1)
        os.kill(victim.pid, signal.SIGKILL)
        victim.communicate(timeout=10)
    finally:
        stop(victim)
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
