"""What the crash campaign found, pinned by focused tests: a process killed with SIGKILL
must leave no parsing worker and no temporary feed file behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from notifications.feeds import atomic_write
from storage.crashpoints import crash_point
from tests.integration.conftest import WAIT_SECONDS, eventually

pytestmark = pytest.mark.integration

# A parent that parses one page in a worker process, prints the worker's pid, then waits.
PARENT = """
import asyncio, os, sys, threading, time
from monitors import build_monitor
from monitors.config import MonitorConfig
from core.records import FetchResult
from pipeline.pool import Extractor
from storage.records import MonitorState

async def main():
    if sys.argv[1] == "forkserver":  # a parent with a second thread uses the forkserver
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
    monitor = build_monitor(MonitorConfig(id="m", kind="page", url="https://example.org/"), "o")
    fetched = FetchResult("m", "https://example.org/", "2026-11-28T10:00:00.000+00:00", 5,
                          status=200, headers={"content-type": "text/html"},
                          body=b"<p>hello</p>")
    extractor = Extractor(1)
    state = MonitorState("m", None, None, None, None, None, None, 0)
    outcome = await extractor.evaluate(monitor, fetched, state, lambda digest: None)
    assert outcome.check.outcome == "new", outcome
    assert extractor.start_method == sys.argv[1], extractor.start_method
    print(extractor.worker_pids()[0], flush=True)
    time.sleep(60)

asyncio.run(main())
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_a_parsing_worker_exits_when_its_parent_is_killed(method: str) -> None:
    # fork: a single-threaded parent forks its workers; forkserver: the server forks them.
    parent = subprocess.Popen([sys.executable, "-c", PARENT, method], stdout=subprocess.PIPE,
                              text=True, cwd=Path(__file__).resolve().parents[2])
    worker = 0
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        assert alive(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=WAIT_SECONDS)
        # The worker looks at its parent every 0.25 s; the deadline is for a loaded machine.
        eventually(lambda: not alive(worker), "the worker exits after its parent was killed")
    finally:
        if worker and alive(worker):  # first: an orphan holds the parent's stdout open
            os.kill(worker, signal.SIGKILL)
        parent.kill()
        parent.communicate(timeout=10)


def test_a_feed_write_removes_the_temporaries_a_killed_writer_left(tmp_path: Path) -> None:
    feed = tmp_path / "govwatch.atom"
    stale = tmp_path / ".govwatch.atom.k1ll3d.tmp"
    stale.write_bytes(b"<feed>half")
    other = tmp_path / ".heads.json.k1ll3d.tmp"  # another file's temporary stays for it
    other.write_bytes(b"{")
    atomic_write(feed, b"<feed/>")
    assert feed.read_bytes() == b"<feed/>"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".heads.json.k1ll3d.tmp",
                                                          "govwatch.atom"]


def test_a_crash_point_kills_the_process_only_where_and_when_named(tmp_path: Path) -> None:
    script = ("from storage.crashpoints import crash_point\n"
              "for n in range(3):\n"
              "    crash_point('check-recorded'); print(n, flush=True)\n")
    root = Path(__file__).resolve().parents[2]

    def run(value: str | None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "GOVWATCH_TEST_CRASH_AT"}
        if value is not None:
            env["GOVWATCH_TEST_CRASH_AT"] = value
        return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env=env, cwd=root, timeout=30, check=False)

    assert run(None).stdout.split() == ["0", "1", "2"]
    assert run("digest-opened").stdout.split() == ["0", "1", "2"]
    third = run("check-recorded:3")
    assert third.returncode == -signal.SIGKILL and third.stdout.split() == ["0", "1"]
    first = run("check-recorded")
    assert first.returncode == -signal.SIGKILL and first.stdout == ""
    crash_point("check-recorded")  # unset here: a no-op in the test process itself
