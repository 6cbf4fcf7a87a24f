"""`govwatch daemon` as a real subprocess against a local server, with schedules of seconds.

Nothing here times the daemon: it waits for what the server or the database shows (with
a deadline only a hang reaches), and "it did not wait for X" is X still pending when the
daemon was done.
"""

from __future__ import annotations

import itertools
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import QUICK_CONFIRM
from tests.integration.conftest import WAIT_SECONDS, eventually
from tests.integration.opsite import OpSite, serving

pytestmark = pytest.mark.integration

GOVWATCH = str(Path(sys.executable).parent / "govwatch")


@pytest.fixture
def site() -> Iterator[OpSite]:
    with serving() as running:
        for path in ("/fast", "/slow", "/later", "/hang"):
            running.set(path, f"<p>{path}</p>")
        yield running


def write_config(path: Path, site: OpSite, monitors: dict[str, str],
                 workers: int | None = None) -> None:
    lines = "".join(
        f"      - {{id: {name}, kind: page, url: '{site.url('/' + name)}', every: {every}}}\n"
        for name, every in monitors.items())
    pool = f", workers: {workers}" if workers is not None else ""
    path.write_text(f"defaults: {{jitter: 0s, expect_run_every: 2s, per_host: 4{pool}, "
                    f"confirm_pause: {QUICK_CONFIRM}}}\n"
                    f"organizations:\n  - id: o\n    name: O\n    monitors:\n{lines}",
                    encoding="utf-8")


class Daemon:
    def __init__(self, config: Path, db: Path) -> None:
        self.process = subprocess.Popen(
            [GOVWATCH, "--config", str(config), "--db", str(db), "daemon"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr = ""

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Signal the daemon and wait (bounded) for it to exit; its exit code."""
        self.process.send_signal(signum)
        try:
            _, self.stderr = self.process.communicate(timeout=WAIT_SECONDS)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.communicate()
        return self.process.returncode


@pytest.fixture
def daemons() -> Iterator[Callable[[Path, Path], Daemon]]:
    started: list[Daemon] = []

    def start(config: Path, db: Path) -> Daemon:
        started.append(Daemon(config, db))
        return started[-1]

    yield start
    for daemon in started:
        if daemon.process.poll() is None:
            daemon.stop(signal.SIGKILL)


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        result = conn.execute(sql).fetchall()
    conn.close()
    return result


@pytest.mark.parametrize("workers", [None, 1], ids=["in-process", "worker-process"])
def test_jobs_run_when_due_stop_cleanly_and_resume_without_refetching(
    tmp_path: Path, site: OpSite, daemons: Callable[[Path, Path], Daemon], workers: int | None
) -> None:
    config, db = tmp_path / "config.yaml", tmp_path / "gw.db"
    write_config(config, site, {"fast": "2s", "slow": "1h"}, workers)
    daemon = daemons(config, db)
    eventually(lambda: site.count("/fast") >= 4,
               "the daemon checks /fast three times (and copies its first check)")
    assert daemon.stop() == 0, daemon.stderr
    assert "SIGTERM received: stopping" in daemon.stderr and "daemon stopped" in daemon.stderr
    # Never before it is due: each check starts at least 2 s after the one before (as the
    # daemon recorded them; a loaded machine may make it late, never early).
    fast = [datetime.fromisoformat(str(started)) for (started,) in rows(
        db, "SELECT started_at FROM checks WHERE monitor_id = 'fast' "
            "AND outcome != 'confirm' ORDER BY id")]
    gaps = [b - a for a, b in itertools.pairwise(fast)]
    assert len(fast) >= 3 and all(gap >= timedelta(seconds=2) for gap in gaps), \
        f"every 2s, never early: {gaps}"
    # A first check fetches twice: the check, and the copy that learns what changes by
    # itself (recorded as a check of its own).
    assert site.count("/slow") == 2
    checks = rows(db, "SELECT monitor_id, count(*) FROM checks GROUP BY monitor_id")
    assert dict(checks) == {"fast": site.count("/fast"), "slow": 2}, "one row per fetch"
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    heartbeats = rows(db, "SELECT mode, sum(checked) FROM runs GROUP BY mode")
    assert heartbeats == [("daemon", site.count("/fast"))], "copies are not checks"

    # While it was down, 'later' is new (never checked) and 'slow' is not due for an hour.
    write_config(config, site, {"fast": "2s", "slow": "1h", "later": "1h"}, workers)
    fast_before = site.count("/fast")
    daemon = daemons(config, db)
    # Two fetches of 'fast' after the restart: the daemon has run 2 s past its start,
    # when anything it wrongly thought due would have been fetched.
    eventually(lambda: site.count("/later") == 2 and site.count("/fast") >= fast_before + 2,
               "after the restart, 'later' once (and its copy) and 'fast' twice")
    assert daemon.stop() == 0, daemon.stderr
    assert site.count("/slow") == 2, "not due: not refetched after the restart"
    assert site.count("/later") == 2, "due (never checked): run once at start"


def test_a_monitor_that_fell_due_while_down_runs_once_at_start(
    tmp_path: Path, site: OpSite, daemons: Callable[[Path, Path], Daemon]
) -> None:
    config, db = tmp_path / "config.yaml", tmp_path / "gw.db"
    # 'fast' is the clock: its fetches show how long the daemon has been running.
    write_config(config, site, {"slow": "1h", "later": "1h", "fast": "2s"})
    daemon = daemons(config, db)
    eventually(lambda: site.count("/slow") == 2 and site.count("/later") == 2,
               "the first daemon checks 'slow' and 'later' (each with its first copy)")
    assert daemon.stop() == 0
    with sqlite3.connect(db) as conn:  # an hour went by for 'slow' only
        conn.execute("UPDATE monitors SET next_due_at = '2000-01-01T00:00:00.000+00:00' "
                     "WHERE id = 'slow'")
    conn.close()
    fast_before = site.count("/fast")
    daemon = daemons(config, db)
    # Two fetches of 'fast' after the restart: 2 s past the start, when a wrong fetch of
    # 'later' (or a second one of 'slow') would have happened.
    eventually(lambda: site.count("/slow") == 3 and site.count("/fast") >= fast_before + 2,
               "after the restart, 'slow' once more and 'fast' twice")
    assert daemon.stop() == 0
    assert (site.count("/slow"), site.count("/later")) == (3, 2)


@pytest.mark.parametrize("workers", [None, 1], ids=["in-process", "worker-process"])
def test_sigterm_during_a_hanging_fetch_cancels_it_without_half_rows(
    tmp_path: Path, site: OpSite, daemons: Callable[[Path, Path], Daemon], workers: int | None
) -> None:
    hang = site.hold("/hang")  # never answered while the daemon runs
    config, db = tmp_path / "config.yaml", tmp_path / "gw.db"
    write_config(config, site, {"fast": "1h", "hang": "1h"}, workers)
    daemon = daemons(config, db)
    eventually(lambda: hang.arrived == 1 and site.count("/fast") == 2,
               "the daemon fetches /fast (and its first copy) and /hang")
    eventually(lambda: rows(db, "SELECT 1 FROM checks WHERE monitor_id = 'fast' "
                                "AND outcome = 'confirm'"),
               "the check of /fast and then its copy are recorded")
    assert daemon.stop() == 0, daemon.stderr
    assert "cancelled 1 check(s)" in daemon.stderr
    # It stopped without the answer: the server saw the client give up, and never answered.
    hang.wait(lambda held: held.abandoned == 1, "the stopped daemon hangs up on /hang")
    assert hang.answered == 0
    # A first check is stored before its copy is taken (it is new whatever the copy shows).
    assert rows(db, "SELECT monitor_id, outcome FROM checks ORDER BY id") == [
        ("fast", "new"), ("fast", "confirm")]
    assert rows(db, "SELECT last_check_at IS NULL FROM monitors WHERE id = 'hang'") == [(1,)]
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]


def test_sighup_reloads_and_reports_what_changed_and_cron_run_is_locked_out(
    tmp_path: Path, site: OpSite, daemons: Callable[[Path, Path], Daemon]
) -> None:
    config, db = tmp_path / "config.yaml", tmp_path / "gw.db"
    write_config(config, site, {"fast": "1h", "slow": "1h"})
    daemon = daemons(config, db)
    eventually(lambda: site.count("/fast") == 2 and site.count("/slow") == 2,
               "the daemon checks /fast and /slow (each with its first copy)")
    locked = subprocess.run([GOVWATCH, "--config", str(config), "--db", str(db), "run"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert locked.returncode == 75
    assert "daemon since" in locked.stderr

    write_config(config, site, {"fast": "2h", "later": "1h"})
    daemon.process.send_signal(signal.SIGHUP)
    eventually(lambda: site.count("/later") == 2, "the reloaded daemon checks /later")
    assert daemon.stop() == 0
    assert ("added ['later'], removed ['slow'], changed ['fast']" in daemon.stderr), \
        daemon.stderr
