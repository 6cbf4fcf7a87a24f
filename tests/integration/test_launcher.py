"""The shard launcher (pipeline/launcher.py): forked as ``govwatch run`` starts, it forks
the fetch shards, so the run's own process never loads the HTTP client or the parsers.

Every run here is a real ``govwatch`` process against the real local site: this test
process has other threads (the site's server), and nothing may be forked from it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage.db import Store
from storage.integrity import verify as verify_store
from tests.integration.conftest import Site
from tests.integration.test_shards import GOVWATCH, PER_HOST, counts, publish, write_config
from tests.unit.test_startup import loaded_by

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif((os.cpu_count() or 1) < 2 or not sys.platform.startswith("linux"),
                       reason="the launcher is forked on Linux hosts with two cores or more"),
]

RUN = "from pipeline.cli import main; main()"
# Loaded by whoever fetches and parses; with a launcher, only the shards do.
FETCHING = {"aiohttp", "pipeline.fetch", "pipeline.shard_process", "selectolax"}


def test_a_sharded_run_fetches_and_parses_only_in_the_shards_its_launcher_forked(
    site: Site, tmp_path: Path
) -> None:
    publish(site)
    config = write_config(tmp_path, site)
    modules, stdout = loaded_by(RUN, "--config", str(config), "run")
    assert counts(stdout) == (2 * PER_HOST, 2 * PER_HOST, 0, 0, 0, 0, 0)
    assert "pipeline.launcher" in modules and "pipeline.shards" in modules
    assert modules.isdisjoint(FETCHING), sorted(modules & FETCHING)
    with Store(tmp_path / "gw.db", readonly=True) as store:
        assert verify_store(store).ok
        assert store.db.execute("SELECT count(*) FROM snapshots").fetchone()[0] == PER_HOST
    assert site.hits("/robots.txt") == 2


def test_a_cycle_too_small_for_shards_lets_the_launcher_go_and_fetches_itself(
    site: Site, tmp_path: Path
) -> None:
    publish(site)
    config = write_config(tmp_path, site, workers=0)
    started = time.monotonic()
    modules, stdout = loaded_by(RUN, "--config", str(config), "run")
    assert counts(stdout) == (2 * PER_HOST, 2 * PER_HOST, 0, 0, 0, 0, 0)
    assert {"aiohttp", "pipeline.fetch"} <= modules
    assert "pipeline.shard_process" not in modules
    assert time.monotonic() - started < 30  # the run did not wait on its launcher


# A cycle in a fresh interpreter, with a launcher that ``sys.argv[2]`` kills: "before"
# the cycle (it is a zombie, not yet reaped, when the cycle starts) or "during" it, once
# it has forked both shards.
LAUNCHER_KILLED = """
import asyncio, collections, logging, os, signal, sys, threading, time
logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="%(message)s")
from pipeline.config import load_config
from pipeline.launcher import ShardLauncher
from pipeline.run import run_cycle, select_monitors
from storage.db import Store

def stat(pid):
    return open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()

def state(pid):
    return stat(pid)[0]

def kill_once_it_has_forked_the_shards():
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = 0
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                children += int(stat(entry)[1]) == launcher.pid
            except OSError:
                pass
        if children >= 2:
            break
        time.sleep(0.02)
    launcher.kill()

loaded = load_config(sys.argv[1])
with ShardLauncher.forked() as launcher, Store(loaded.config.database) as store:
    assert launcher is not None
    monitors = select_monitors(loaded.config, store, run_all=True)
    if sys.argv[2] == "before":
        launcher.kill()
        while state(launcher.pid) != "Z":
            time.sleep(0.01)
    else:
        threading.Thread(target=kill_once_it_has_forked_the_shards, daemon=True).start()
    started = time.monotonic()
    report = asyncio.run(run_cycle(loaded.config, store, monitors, launcher=launcher))
    print("OUTCOMES", dict(collections.Counter(c.outcome for c in report.checks)))
    print("ERRORS", sorted({c.error for c in report.checks if c.error}))
    print("SECONDS", time.monotonic() - started)
"""


def cycle_with_launcher_killed(config: Path, when: str) -> str:
    result = subprocess.run([sys.executable, "-c", LAUNCHER_KILLED, str(config), when],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_when_the_launcher_is_gone_the_run_forks_its_shards_itself(
    site: Site, tmp_path: Path
) -> None:
    publish(site)
    stdout = cycle_with_launcher_killed(write_config(tmp_path, site), "before")
    assert "the shard launcher did not start the fetch shards" in stdout
    assert "the run starts them itself" in stdout
    assert f"OUTCOMES {{'new': {2 * PER_HOST}}}" in stdout, stdout
    with Store(tmp_path / "gw.db", readonly=True) as store:
        assert verify_store(store).ok


def test_a_launcher_killed_mid_cycle_leaves_failed_checks_that_say_so(
    site: Site, tmp_path: Path
) -> None:
    """Its shards see it go and exit; the writer records every check they owed as failed,
    and the next run checks them again."""
    publish(site)
    for n in range(PER_HOST):
        site.slow(f"/p/{n}", 20)
    config = write_config(tmp_path, site)
    stdout = cycle_with_launcher_killed(config, "during")
    assert f"OUTCOMES {{'error': {2 * PER_HOST}}}" in stdout, stdout
    errors = stdout.split("ERRORS ")[1].splitlines()[0]
    assert errors.count("ended without a report of why (its launcher died)") == 2, errors
    assert "localhost" in errors and "127.0.0.1" in errors
    assert float(stdout.split("SECONDS ")[1].split()[0]) < 10  # not the pages' 20 s
    publish(site)
    again = loaded_by(RUN, "--config", str(config), "run", "--all")[1]
    assert counts(again) == (2 * PER_HOST, 2 * PER_HOST, 0, 0, 0, 0, 0)


def state(pid: int) -> str | None:
    """A process's state letter (Z: ended, not yet reaped), None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return None


def living_descendants(root: int) -> set[int]:
    """Processes under ``root`` that have not ended."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def test_a_run_killed_mid_cycle_takes_its_launcher_and_shards_with_it(
    site: Site, tmp_path: Path
) -> None:
    publish(site)
    for n in range(PER_HOST):
        site.slow(f"/p/{n}", 20)
    config = write_config(tmp_path, site)
    run = subprocess.Popen([str(GOVWATCH), "--config", str(config), "run"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        below: set[int] = set()
        while len(below) < 3 and time.monotonic() < deadline:  # the launcher, 2 shards
            time.sleep(0.05)
            below = living_descendants(run.pid)
        assert len(below) == 3, below
        os.kill(run.pid, signal.SIGKILL)
        run.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(state(pid) not in (None, "Z")
                                                  for pid in below):
            time.sleep(0.05)
        alive = {pid for pid in below if state(pid) not in (None, "Z")}
        assert not alive, f"left behind: {alive}"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
