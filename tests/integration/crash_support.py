"""Machinery of the crash campaign: the relay, the govwatch processes, the kill plans.

``Relay`` is an aiosmtpd server on loopback that keeps every message it was handed,
across stops and restarts on the same port, and can hold its reply to DATA (so a kill
lands while the client waits for the 250). ``Govwatch`` starts real ``govwatch``
processes, tagged through their environment so that every descendant (parsing workers,
their resource tracker) can be found in /proc and must be gone after a kill. A ``Plan``
says where a run is killed.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from storage.crashpoints import CRASH_AT
from tests.integration.crash_truth import ORGANIZATIONS, ROUTED_ORG, Truth
from tests.integration.digest_support import Received, free_port

GOVWATCH = str(Path(sys.executable).parent / "govwatch")
TAG = "GOVWATCH_CRASH_CAMPAIGN_TAG"
EVERYONE, DESK = "analyst@example.org", "beta-desk@example.org"
# Every wait is bounded: a run that hangs fails the campaign instead of the CI job.
RUN_TIMEOUT = 60.0


@dataclass
class Relay:
    """SMTP on 127.0.0.1 that survives ``stop``/``start`` with its messages kept."""

    port: int = field(default_factory=free_port)
    messages: list[Received] = field(default_factory=list)
    reply_delay: float = 0.0
    _controller: Controller | None = None

    async def handle_DATA(self, server: SMTPServer, session: Session,
                          envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content
        assert isinstance(data, bytes)
        # Kept as soon as it arrives: a real relay may deliver a message whose client
        # died before the 250, which is a duplicate window of SMTP itself.
        self.messages.append(Received(str(envelope.mail_from),
                                      tuple(str(r) for r in envelope.rcpt_tos), data))
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)
        return "250 Message accepted for delivery"

    @property
    def up(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        if self._controller is None:
            self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
            self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@dataclass(frozen=True)
class Finished:
    """A govwatch process that ended: how, and what it printed."""

    pid: int
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL


class Govwatch:
    """Starts tagged ``govwatch`` processes on one config and database."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.config = workdir / "config.yaml"
        self.db = workdir / "govwatch.db"
        self.tag = uuid.uuid4().hex
        self.started = 0

    def start(self, *args: str, env: dict[str, str] | None = None
              ) -> tuple[subprocess.Popen[bytes], Path]:
        self.started += 1
        out = self.workdir / f"run-{self.started:03d}"
        command = [GOVWATCH, "--config", str(self.config), "--db", str(self.db), *args]
        environment = {k: v for k, v in os.environ.items() if k != CRASH_AT}
        environment.update({TAG: self.tag, **(env or {})})
        with open(f"{out}.out", "wb") as stdout, open(f"{out}.err", "wb") as stderr:
            process = subprocess.Popen(command, stdout=stdout, stderr=stderr,
                                       cwd=self.workdir, env=environment)
        return process, out

    @staticmethod
    def finish(process: subprocess.Popen[bytes], out: Path, began: float) -> Finished:
        try:
            process.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            process.kill()
            process.wait(timeout=10)
            raise AssertionError(
                f"govwatch pid {process.pid} did not end in {RUN_TIMEOUT} s") from exc
        return Finished(process.pid, process.returncode,
                        Path(f"{out}.out").read_text("utf-8", "replace"),
                        Path(f"{out}.err").read_text("utf-8", "replace"),
                        time.monotonic() - began)

    def run(self, *args: str) -> Finished:
        began = time.monotonic()
        process, out = self.start(*args)
        return self.finish(process, out, began)

    # -- processes left behind ---------------------------------------------------------
    def tagged_pids(self) -> list[int]:
        """Every live process started by this campaign (they all carry its tag)."""
        marker = f"{TAG}={self.tag}".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z" and marker in environ.split(b"\0"):
                pids.append(int(entry.name))
        return pids

    def wait_no_descendants(self, seconds: float = 30.0) -> list[int]:
        """Wait for every tagged process to end; returns those still alive after ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            left = self.tagged_pids()
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.05)

    def kill_leftovers(self) -> None:
        """Teardown: no process of this campaign may outlive the test."""
        for pid in self.tagged_pids():
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# -- where a run is killed ---------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """``fetch``: once the site got ``nth`` requests (responses are delayed); ``timer``:
    after ``seconds``; ``hook``: at a crash point (GOVWATCH_TEST_CRASH_AT); ``smtp``: while
    the relay holds its reply to the ``nth`` message of the run."""

    kind: str
    nth: int = 1
    seconds: float = 0.0
    point: str = ""

    def __str__(self) -> str:
        if self.kind == "hook":
            return f"hook {self.point}:{self.nth}"
        if self.kind == "timer":
            return f"timer {self.seconds:.2f}s"
        return f"{self.kind} #{self.nth}"

    @property
    def family(self) -> str:
        return f"hook {self.point}" if self.kind == "hook" else self.kind

    @property
    def needs_relay(self) -> bool:
        return self.kind == "smtp" or self.point in ("message-accepted", "digest-opened")


CHECK_HOOKS = ("check-uncommitted", "check-recorded")
DIGEST_HOOKS = ("digest-opened", "message-accepted", "channel-published")
# The short campaign kills once in each family (``hook:digest``: one of the digest
# points); the full one draws the families at random.
SHORT_FORM = ("fetch", "timer", "hook:check-uncommitted", "hook:check-recorded",
              "hook:digest", "smtp")


def draw_plan(rng: random.Random, family: str, monitors: int, run_seconds: float) -> Plan:
    if family == "fetch":
        return Plan("fetch", nth=rng.randint(1, monitors))
    if family == "timer":
        return Plan("timer", seconds=rng.uniform(0.3, max(0.6, run_seconds * 0.9)))
    if family == "smtp":
        return Plan("smtp", nth=1)
    point = family.partition(":")[2] or rng.choice(CHECK_HOOKS + DIGEST_HOOKS)
    if point == "digest":
        point = rng.choice(DIGEST_HOOKS)
    if point.startswith("check-"):
        return Plan("hook", nth=rng.randint(1, monitors), point=point)
    return Plan("hook", nth=rng.randint(1, 2), point=point)


def draw_family(rng: random.Random) -> str:
    return rng.choices(["fetch", "timer", "hook", "smtp"], weights=[3, 3, 5, 1])[0]


def page_requests(truth: Truth) -> int:
    return sum(truth.site.hits(s.path) for s in truth.sources)


def kill_when(process: subprocess.Popen[bytes], ready: Callable[[], bool],
              settle: float = 0.0, seconds: float = 30.0) -> None:
    """SIGKILL ``process`` once ``ready()`` holds (and ``settle`` more seconds passed)."""
    deadline = time.monotonic() + seconds
    while process.poll() is None and not ready():
        if time.monotonic() > deadline:
            break
        time.sleep(0.005)
    if settle:
        time.sleep(settle)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)


# -- the config ---------------------------------------------------------------------------
def write_config(gw: Govwatch, truth: Truth, relay: Relay) -> None:
    lines = [
        "defaults: {every: 1h, per_host: 16, concurrency: 32, workers: 1, timeout: 20s}",
        "retention: {keep_versions: 3}",
        "organizations:",
    ]
    for org in ORGANIZATIONS:
        lines += [f"  - id: {org}", f"    name: Org {org.title()}", "    monitors:"]
        for source in (s for s in truth.sources if s.org == org):
            lines.append(f"      - {{id: {source.monitor_id}, kind: {source.kind}, "
                         f"url: '{truth.site.url(source.path)}'}}")
    lines += [
        "notifications:",
        "  email:",
        f"    smtp: {{host: 127.0.0.1, port: {relay.port}, security: none, timeout: 10s}}",
        "    from: govwatch@example.org",
        f"    to: [{EVERYONE}]",
        f"    routes: {{{ROUTED_ORG}: [{DESK}]}}",
        "  feed:",
        f"    directory: {gw.workdir / 'feeds'}",
        "    max_entries: 10000",
    ]
    gw.config.write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- what the mailbox shows -----------------------------------------------------------------
@dataclass(frozen=True)
class MailLedger:
    """Per recipient: change id -> the distinct Message-IDs that carried it."""

    carried: dict[str, dict[int, set[str]]]
    resent: int  # messages received again with a Message-ID already seen

    @classmethod
    def of(cls, messages: list[Received]) -> MailLedger:
        carried: dict[str, dict[int, set[str]]] = {}
        seen: dict[str, bytes] = {}
        resent = 0
        for received in messages:
            message_id = str(received.message["Message-ID"])
            if message_id in seen:
                # The duplicate window resends the stored message, byte for byte.
                assert seen[message_id] == received.data, f"{message_id} resent changed"
                resent += 1
            seen[message_id] = received.data
            for recipient in received.recipients:
                for change_id in received.change_ids():
                    carried.setdefault(recipient, {}).setdefault(change_id, set()).add(
                        message_id)
        return cls(carried, resent)

    def doubled(self) -> list[str]:
        return [f"{recipient}: change #{change_id} in {sorted(ids)}"
                for recipient, changes in self.carried.items()
                for change_id, ids in sorted(changes.items()) if len(ids) > 1]


def stale_lock_holder(gw: Govwatch) -> str:
    path = Path(f"{gw.db}.lock")
    return path.read_text().strip() if path.exists() else ""


def counts_line(stdout: str) -> dict[str, int]:
    match = re.search(r"checked (\d+): new (\d+), changed (\d+), unchanged (\d+), "
                      r"not-modified (\d+), blocked (\d+), errors (\d+)", stdout)
    assert match, f"no counts line in:\n{stdout}"
    names = ("checked", "new", "changed", "unchanged", "not-modified", "blocked", "errors")
    return dict(zip(names, map(int, match.groups()), strict=True))


def describe(finished: Finished) -> str:
    return (f"pid {finished.pid} exit {finished.returncode} after {finished.seconds:.2f}s\n"
            f"--- stdout\n{finished.stdout[-3000:]}\n--- stderr\n{_ends(finished.stderr)}")


def _ends(text: str, size: int = 3000) -> str:
    """The start (where a traceback begins) and the end of a long output."""
    if len(text) <= 2 * size:
        return text
    return f"{text[:size]}\n[... {len(text) - 2 * size} characters ...]\n{text[-size:]}"


def sql(db: Path, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as connection:
        return connection.execute(query, args).fetchall()
