"""One command run and measured as a process tree, for benchmarks/peers.py and versus.py.

``run_measured`` runs the command in a session of its own and gives wall time, CPU time
(the child's rusage from wait4, which includes the descendants it reaped, such as
govwatch's parsing workers, plus whatever it left running) and peak memory (the largest
sum of PSS over the child's process tree, sampled every 0.2 s, or the wait4 maximum RSS
if that is larger).
"""

from __future__ import annotations

import ctypes
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measured:
    wall: float
    cpu: float
    rss_mb: float
    returncode: int | None  # None: killed at the deadline
    stdout: str
    stderr: str



def child_env(home: Path) -> dict[str, str]:
    """The user's environment without proxies (everything is on 127.0.0.1), HOME in a temp dir
    so that no tool reads or writes the real user's configuration, and bytecode caching on
    as in any installation (with PYTHONDONTWRITEBYTECODE set, an editable install such as
    govwatch's recompiles its modules on every run, while pip compiled the peers' once)."""
    env = {k: v for k, v in os.environ.items()
           if "proxy" not in k.lower() and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_CACHE_HOME=str(home / ".cache"), XDG_DATA_HOME=str(home / ".local"),
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
               PYTHONUNBUFFERED="1", COLUMNS="100")
    return env


def session_pids(session: int) -> list[int]:
    """Every process (zombies included) in that session: the tool and what it started."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            # fields after the ")" of the command name: state ppid pgrp session ...
            if int(stat.rsplit(")", 1)[1].split()[3]) == session:
                pids.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def tree_memory_kb(session: int) -> int:
    """Memory of every process in that session: the sum of their PSS (proportional set
    size), which splits each shared page between the processes that share it. Summing RSS
    would count the libraries govwatch's worker processes share with their parent once
    per process. Falls back to RSS where smaps_rollup is missing."""
    return sum(process_memory_kb(pid) for pid in session_pids(session))


def process_memory_kb(pid: int) -> int:
    """One process's PSS (its RSS where smaps_rollup is missing), 0 once it is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        field = "Pss"
    except OSError:
        try:
            text, field = Path(f"/proc/{pid}/status").read_text(), "VmRSS"
        except OSError:
            return 0
    match = re.search(rf"^{field}:\s+(\d+)", text, re.MULTILINE)
    return int(match[1]) if match else 0


def become_subreaper() -> None:
    """Processes a tool leaves orphaned become our children (Linux PR_SET_CHILD_SUBREAPER),
    so their CPU time can be collected. A process that a tool never waits for (govwatch's
    daemon starts its parsing workers from a multiprocessing fork server) would otherwise
    be missed by wait4 on the tool."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)


def reap_orphans(session: int, patience: float = 5.0) -> float:
    """CPU seconds of the tool's processes that outlived it, reaped as they end."""
    cpu, end = 0.0, time.monotonic() + patience
    while True:
        left = session_pids(session)
        for pid in left:
            try:
                reaped, _, usage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:  # not ours (yet): its parent will wait for it
                continue
            if reaped:
                cpu += usage.ru_utime + usage.ru_stime
        if not left or time.monotonic() > end:
            return cpu
        time.sleep(0.02)


def trusted_maxrss(maxrss_kb: int) -> int:
    """wait4's maximum RSS of a tool, or 0 when it may be this process's own peak.

    Linux carries the spawning process's peak RSS into the child across exec (Python
    spawns with vfork), so once this benchmark held a large output (800 diffs from a noise
    cycle), every later tool reported at least that much: 198 MB for a urlwatch cycle that
    used 93. A figure not above this process's own peak is left to the PSS samples.
    """
    return maxrss_kb if maxrss_kb > resource.getrusage(resource.RUSAGE_SELF).ru_maxrss else 0


class PeakSampler:
    """The largest value ``measure()`` returns, sampled every 0.2 s in a thread while the
    ``with`` block runs (a process tree's memory, while the benchmark waits for it)."""

    def __init__(self, measure: Callable[[], int]) -> None:
        self.measure = measure
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.2):
            self.peak = max(self.peak, self.measure())

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def run_measured(command: list[str], home: Path, timeout: float) -> Measured:
    """Runs one command in its own session; kills the whole session at the deadline.

    CPU is the tool's own, that of the children it waited for, and that of whatever it
    left running, collected once it ends (``reap_orphans``).
    """
    become_subreaper()
    out_path, err_path = home / "stdout.txt", home / "stderr.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=home, env=child_env(home), stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = start + timeout
    status, usage = 0, None
    with PeakSampler(lambda: tree_memory_kb(proc.pid)) as sampler:
        try:
            while usage is None:
                pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    usage = rusage
                elif time.perf_counter() > deadline:
                    break
                else:
                    time.sleep(0.02)
        finally:
            wall = time.perf_counter() - start
            if usage is None:  # timed out (or interrupted): stop the whole tree, then reap
                stop_session(proc.pid)
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                code: int | None = None
            else:
                code = proc.returncode = os.waitstatus_to_exitcode(status)
            orphans = reap_orphans(proc.pid)
            stop_session(proc.pid)  # anything the tool left behind in its session
            orphans += reap_orphans(proc.pid, patience=1.0)
    peak_kb = sampler.peak
    return Measured(wall, usage.ru_utime + usage.ru_stime + orphans,
                    max(peak_kb, trusted_maxrss(usage.ru_maxrss)) / 1024, code,
                    out_path.read_text(errors="replace"), err_path.read_text(errors="replace"))


def stop_session(session: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(session, sig)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.5)
