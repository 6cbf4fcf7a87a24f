"""``kill -9`` of a govwatch in the middle of its work leaves no process behind.

A real ``govwatch run`` (or ``govwatch daemon``) starts in a session of its own, with a
worker pool of two, against a local server that holds every page back: once the server
has all the requests, the run is mid-cycle with its workers up. Then SIGKILL goes to the
govwatch process alone (nothing can clean up after it), and within a bounded wait no
process of its process group may be left: the parsing workers, the forkserver and the
resource tracker must all see that their parent is gone and exit.

``run`` starts its pool before it fetches anything, single-threaded, so its workers are
forked from it. The daemon starts its pool on the first body; by then a host name has been
resolved in a thread (``localhost``), and the workers come from the forkserver, or, with
only IP addresses (``127.0.0.1``), nothing started a thread and they are forked. All
three paths are covered, and each test checks which one it took.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from tests.conftest import QUICK_CONFIRM
from tests.integration.conftest import WAIT_SECONDS, Hold, eventually
from tests.integration.opsite import OpSite, serving

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(),
                       reason="finds a run's processes in /proc (Linux)"),
]

REPO = Path(__file__).resolve().parents[2]
ENTRY = "from pipeline.cli.main import main; main()"
WORKERS = 2
HELD = 6  # pages held back by the server: the run is mid-cycle while it holds them


@dataclass(frozen=True)
class Member:
    """A live process of the group: its pid, parent and command line."""

    pid: int
    ppid: int
    command: str

    @property
    def forked_server(self) -> bool:
        """The forkserver, or one of the workers it forked (they share its command)."""
        return "multiprocessing.forkserver" in self.command

    @property
    def tracker(self) -> bool:
        return "multiprocessing.resource_tracker" in self.command


def group(pgid: int) -> list[Member]:
    """Every process of process group ``pgid`` that has not exited (zombies are dead)."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            command = Path(entry.path, "cmdline").read_bytes()
        except OSError:  # it exited while we looked
            continue
        # After the command name in parentheses: state, ppid, pgrp, ...
        state, ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            members.append(Member(int(entry.name), int(ppid),
                                  command.replace(b"\0", b" ").decode(errors="replace")))
    return members


def pool_workers(pgid: int, method: str) -> list[Member]:
    """The workers of govwatch ``pgid``'s pool if it was started by ``method``, else none.

    "fork": children of govwatch itself, and no forkserver. "forkserver": the children
    of its one forkserver (a child of govwatch that runs multiprocessing.forkserver).
    Going by parents, not by commands alone: a child between fork and exec (how the
    forkserver and the resource tracker start) still shows govwatch's command.
    """
    members = group(pgid)
    servers = {m.pid for m in members if m.forked_server and m.ppid == pgid}
    if method == "fork":
        return [] if servers else [m for m in members if m.ppid == pgid and not m.tracker]
    return [m for m in members if m.ppid in servers] if len(servers) == 1 else []


def describe(members: list[Member]) -> str:
    return "; ".join(f"pid {m.pid} (parent {m.ppid}): {m.command[:120]}" for m in members)


class Govwatch:
    """One govwatch process in a new session, its output in files (an orphan holding a
    pipe would keep a reader waiting)."""

    def __init__(self, tmp_path: Path, site: OpSite, command: str, host: str) -> None:
        self.config, self.db = tmp_path / "config.yaml", tmp_path / "gw.db"
        self.out, self.err = tmp_path / f"{command}.out", tmp_path / f"{command}.err"

        def url(path: str) -> str:
            return site.url(path).replace("127.0.0.1", host, 1)

        lines = [f"      - {{id: held{n}, kind: page, url: '{url(f'/held/{n}')}', "
                 "robots: false}\n" for n in range(HELD)]
        lines.append(f"      - {{id: fast, kind: page, url: '{url('/fast')}', robots: false}}\n")
        self.config.write_text(
            f"defaults: {{every: 1h, jitter: 0s, workers: {WORKERS}, per_host: {HELD + 1}, "
            f"confirm_pause: {QUICK_CONFIRM}}}\n"
            "organizations:\n  - id: o\n    name: O\n    monitors:\n" + "".join(lines),
            encoding="utf-8")
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-c", ENTRY, "--config", str(self.config), "--db",
                 str(self.db), command],
                stdout=out, stderr=err, cwd=REPO, start_new_session=True)
        self.pid = self.process.pid

    def stderr(self) -> str:
        return self.err.read_text("utf-8", "replace")

    def kill_leftovers(self) -> None:
        """Teardown: no process this test started outlives it, whatever failed."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(WAIT_SECONDS)
        for member in group(self.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(member.pid, signal.SIGKILL)


@pytest.fixture
def site() -> Iterator[OpSite]:
    with serving() as running:
        running.set("/fast", "<p>answered at once</p>")
        yield running


class Launch(Protocol):
    def __call__(self, command: str, host: str = "127.0.0.1") -> Govwatch: ...


@pytest.fixture
def launch(tmp_path: Path, site: OpSite) -> Iterator[Launch]:
    """Start ``govwatch COMMAND`` over the site's pages (by HOST); none outlives the test."""
    started: list[Govwatch] = []

    def start(command: str, host: str = "127.0.0.1") -> Govwatch:
        started.append(Govwatch(tmp_path, site, command, host))
        return started[-1]

    yield start
    for gw in started:
        gw.kill_leftovers()


def hold_pages(site: OpSite) -> list[Hold]:
    return [site.hold(f"/held/{n}") for n in range(HELD)]


def held(holds: list[Hold], count: str) -> int:
    return sum(getattr(hold, count) for hold in holds)


def mid_cycle(gw: Govwatch, holds: list[Hold], site: OpSite, method: str,
              workers_up: int) -> None:
    """Wait until every held page was asked for and ``workers_up`` workers of a pool
    started by ``method`` are up."""
    eventually(lambda: held(holds, "arrived") == HELD and site.count("/fast") == 1,
               lambda: f"govwatch asks for all {HELD} held pages and /fast\n{gw.stderr()}")
    eventually(lambda: len(pool_workers(gw.pid, method)) >= workers_up,
               lambda: f"{workers_up} worker(s) of a pool started by {method}; the group "
                       f"has: {describe(group(gw.pid))}")
    assert gw.process.poll() is None, gw.stderr()


def assert_group_ends(gw: Govwatch) -> None:
    eventually(lambda: not group(gw.pid),
               f"every process of the killed govwatch (group {gw.pid}) exits; left: "
               f"{describe(group(gw.pid))}")


def test_kill_9_of_a_run_mid_cycle_leaves_no_process(site: OpSite, launch: Launch) -> None:
    holds = hold_pages(site)
    gw = launch("run")
    # The run starts its pool first, single-threaded: it forks the workers itself.
    mid_cycle(gw, holds, site, "fork", WORKERS)

    os.kill(gw.pid, signal.SIGKILL)
    assert gw.process.wait(WAIT_SECONDS) == -signal.SIGKILL
    assert_group_ends(gw)
    # It was mid-cycle: every held request lost its client, none was answered.
    for hold in holds:
        hold.wait(lambda h: h.abandoned == 1, "the killed run's request is dropped")
    assert held(holds, "answered") == 0


# The daemon's pool: forked when nothing started a thread yet, else from the forkserver.
DAEMON_PATHS = pytest.mark.parametrize(("host", "method"), [
    ("127.0.0.1", "fork"), ("localhost", "forkserver")])


def start_daemon(site: OpSite, launch: Launch, host: str, method: str
                 ) -> tuple[Govwatch, list[Hold]]:
    """A daemon whose pool is up and whose held pages were all asked for."""
    holds = hold_pages(site)
    gw = launch("daemon", host)
    # /fast is answered: its body goes to the pool, which starts on that first body (one
    # worker at least: the forkserver starts them one by one, as jobs come).
    mid_cycle(gw, holds, site, method, 1)
    return gw, holds


@DAEMON_PATHS
def test_kill_9_of_a_daemon_mid_check_leaves_no_process(
    site: OpSite, launch: Launch, host: str, method: str
) -> None:
    gw, holds = start_daemon(site, launch, host, method)
    os.kill(gw.pid, signal.SIGKILL)
    assert gw.process.wait(WAIT_SECONDS) == -signal.SIGKILL
    assert_group_ends(gw)
    for hold in holds:
        hold.wait(lambda h: h.abandoned == 1, "the killed daemon's request is dropped")
    assert held(holds, "answered") == 0


@DAEMON_PATHS
def test_sigterm_of_a_daemon_with_its_pool_up_leaves_no_process(
    site: OpSite, launch: Launch, host: str, method: str
) -> None:
    gw, holds = start_daemon(site, launch, host, method)
    gw.process.send_signal(signal.SIGTERM)
    # The held checks end within the daemon's grace period (their bodies go to the pool
    # while it stops) instead of being cancelled at its end.
    for hold in holds:
        hold.release()
    assert gw.process.wait(WAIT_SECONDS) == 0, gw.stderr()
    assert "daemon stopped" in gw.stderr()
    assert_group_ends(gw)
