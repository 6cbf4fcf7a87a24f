"""No Chromium outlives govwatch: after a run, a daemon's SIGTERM, or ``kill -9``.

A real govwatch process (in a session of its own) renders a JavaScript app whose data the
server holds back, so the browser is mid-page when govwatch is stopped. Chromium runs in
a process group of its own (Playwright starts it so), so it is found by what its main
process carries in its environment: ``GOVWATCH_BROWSER_OWNER=<govwatch pid>-<n>``; its
other processes (zygotes, renderers, the GPU process) descend from it, and every one seen
while the page rendered must be gone too.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.fetch.browser import OWNER_ENV
from tests.integration.conftest import WAIT_SECONDS, Hold, Site, eventually
from tests.integration.jsapp_support import grants, needs_browser, serve_app

pytestmark = [
    pytest.mark.integration, needs_browser,
    pytest.mark.skipif(not Path("/proc/self/environ").exists(),
                       reason="finds the browser's processes in /proc (Linux)"),
]

REPO = Path(__file__).resolve().parents[2]
ENTRY = "from pipeline.cli.main import main; main()"


def browser_of(pid: int) -> list[str]:
    """Live processes of the browsers govwatch ``pid`` launched, described."""
    mine = f"{OWNER_ENV}={pid}-".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            continue
        if any(item.startswith(mine) for item in environ):
            shown = command.replace(b"\0", b" ")[:100].decode(errors="replace")
            found.append(f"{entry.name}: {shown}")
    return found


def session_of(pid: int) -> list[str]:
    """Live processes of the session govwatch ``pid`` leads (its Playwright driver...)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == pid and fields[0] != "Z":
            found.append(entry.name)
    return found


def browser_tree(pid: int) -> dict[int, str]:
    """Every process of the browsers govwatch ``pid`` launched, and every process those
    started (Chromium's zygotes clear the environment of the renderers they start)."""
    marker = f"{OWNER_ENV}={pid}-".encode()
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    found: set[int] = set()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            parents[int(entry.name)] = int(
                (entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            commands[int(entry.name)] = (entry / "cmdline").read_bytes().decode(
                errors="replace")
            environ = (entry / "environ").read_bytes().split(b"\0")
            if any(item.startswith(marker) for item in environ):
                found.add(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    while more := {child for child, parent in parents.items() if parent in found} - found:
        found |= more
    return {child: commands.get(child, "") for child in found}


def still_running(seen: dict[int, str]) -> list[str]:
    """Which of the processes ``seen`` earlier still run (the same command line: a pid
    taken again by another program is not one of them)."""
    left = []
    for pid, command in seen.items():
        entry = Path(f"/proc/{pid}")
        try:
            alive = (entry / "cmdline").read_bytes().decode(errors="replace") == command \
                and (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            continue
        if alive:
            left.append(f"{pid}: {command.replace(chr(0), ' ')[:100]}")
    return left


class Govwatch:
    def __init__(self, tmp_path: Path, url: str, command: str) -> None:
        config = tmp_path / "config.yaml"
        config.write_text(json.dumps({
            "defaults": {"every": "1h", "jitter": "0s", "timeout": "60s"},
            "organizations": [{"id": "o", "name": "O", "monitors": [
                {"id": "app", "kind": "page", "url": url, "render": "browser",
                 "robots": False}]}],
        }), encoding="utf-8")
        self.err = tmp_path / f"{command}.err"
        with self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-c", ENTRY, "--config", str(config), "--db",
                 str(tmp_path / "gw.db"), command],
                stdout=subprocess.DEVNULL, stderr=err, cwd=REPO, start_new_session=True)
        self.pid = self.process.pid
        #: The browser's processes seen while it rendered (renderers included).
        self.seen: dict[int, str] = {}

    def stderr(self) -> str:
        return self.err.read_text("utf-8", "replace")

    def rendering(self, data: Hold) -> None:
        """Wait until the browser is up and its page asked for the held data."""
        data.wait(lambda h: h.arrived >= 1, f"the page in the browser asks for its data\n"
                  f"{self.stderr()}")
        assert browser_of(self.pid), "a browser of this govwatch is running"
        self.seen = browser_tree(self.pid)
        assert any("--type=renderer" in c for c in self.seen.values()), self.seen

    def assert_nothing_left(self) -> None:
        eventually(lambda: not browser_of(self.pid) and not session_of(self.pid)
                   and not still_running(self.seen),
                   lambda: f"no browser process of govwatch {self.pid} is left: "
                           f"{browser_of(self.pid)}; session: {session_of(self.pid)}; "
                           f"seen while rendering: {still_running(self.seen)}")

    def cleanup(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(WAIT_SECONDS)
        for described in browser_of(self.pid):
            with contextlib.suppress(OSError):
                os.kill(int(described.split(":")[0]), signal.SIGKILL)


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[list[Govwatch]]:
    started: list[Govwatch] = []
    yield started
    for gw in started:
        gw.cleanup()


def held_app(site: Site) -> tuple[str, Hold]:
    url = serve_app(site, grants(100))
    return url, site.hold("/api/grants.json", json.dumps(grants(100)))


def test_a_run_leaves_no_browser(site: Site, tmp_path: Path,
                                 launched: list[Govwatch]) -> None:
    url = serve_app(site, grants(100))
    gw = Govwatch(tmp_path, url, "run")
    launched.append(gw)
    assert gw.process.wait(WAIT_SECONDS * 2) == 0, gw.stderr()
    assert site.hits("/api/grants.json") >= 1  # it did render the page
    gw.assert_nothing_left()


@pytest.mark.parametrize("command", ["run", "daemon"])
def test_kill_9_mid_render_leaves_no_browser(
    site: Site, tmp_path: Path, launched: list[Govwatch], command: str
) -> None:
    url, data = held_app(site)
    gw = Govwatch(tmp_path, url, command)
    launched.append(gw)
    gw.rendering(data)
    os.kill(gw.pid, signal.SIGKILL)
    assert gw.process.wait(WAIT_SECONDS) == -signal.SIGKILL
    gw.assert_nothing_left()


def test_sigterm_of_a_daemon_mid_render_leaves_no_browser(
    site: Site, tmp_path: Path, launched: list[Govwatch]
) -> None:
    url, data = held_app(site)
    gw = Govwatch(tmp_path, url, "daemon")
    launched.append(gw)
    gw.rendering(data)
    gw.process.send_signal(signal.SIGTERM)
    assert gw.process.wait(WAIT_SECONDS) == 0, gw.stderr()
    assert "daemon stopped" in gw.stderr()
    gw.assert_nothing_left()
