"""README.md's "five-minute tour", replayed for real against docs/tour/.

The README says its console output is real; this test keeps that true. Every ``$ command``
of the tour's console blocks is run (govwatch through its console script, the shell steps
in Python) against a copy of docs/tour/ whose ``site/`` a real HTTP server on 127.0.0.1
serves, and the output must match the README's line for line once what varies from run to
run is normalised: timestamps, pids, durations, the port, hashes and ``ls`` columns.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GOVWATCH = str(Path(sys.executable).parent / "govwatch")
README_PORT = "8765"
# The README's setup steps that the fixtures below stand in for.
SETUP_STEPS = ("export PATH=", "cp -r docs/tour ", "python3 -m http.server ", "kill ")
# A fixed Last-Modified per version, so the server's 304s do not depend on how fast the
# test copies files (http.server dates them by mtime, to the second).
FIRST_MTIME, SECOND_MTIME = 1_764_580_500, 1_765_116_120
VARYING = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?"), "<time>"),
    (re.compile(r"\bpid \d+"), "pid <n>"),
    (re.compile(r"\b\d+ ms\b"), "<n> ms"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
    (re.compile(r"\b[0-9a-f]{16,}(\.\.\.)?"), "<hash>"),
]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""


def tour_steps(readme: str) -> list[tuple[str, list[str]]]:
    """Each ``$ command`` of the tour's console blocks with the output lines shown after it."""
    section = readme.split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    steps: list[tuple[str, list[str]]] = []
    for block in re.findall(r"^```console\n(.*?)^```$", section, re.M | re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
    return steps


def normalised(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        for pattern, replacement in VARYING:
            line = pattern.sub(replacement, line)
        out.append(line.rstrip())
    return out


def listing(lines: list[str]) -> list[str]:
    """``ls`` output as one sorted line per directory: columns depend on the terminal."""
    names: dict[str, set[str]] = {}
    heading = ""
    for line in lines:
        if line.endswith(":"):
            heading = line[:-1]
            names[heading] = set()
        elif line.strip():
            names[heading].update(line.split())
    return [f"{heading}: {' '.join(sorted(found))}" for heading, found in sorted(names.items())]


@pytest.fixture
def tour(tmp_path: Path) -> Iterator[Path]:
    """A copy of docs/tour/ whose ``site/`` is served on 127.0.0.1, its config's port."""
    root = tmp_path / "govwatch-tour"
    shutil.copytree(REPO / "docs" / "tour", root)
    for page in (root / "site").iterdir():
        os.utime(page, (FIRST_MTIME, FIRST_MTIME))
    handler = partial(QuietHandler, directory=str(root / "site"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="tour-site", daemon=True)
    thread.start()
    try:
        config = root / "config.yaml"
        port = str(server.server_address[1])
        config.write_text(config.read_text(encoding="utf-8").replace(
            f"127.0.0.1:{README_PORT}/", f"127.0.0.1:{port}/"), encoding="utf-8")
        yield root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def replay(command: str, root: Path) -> list[str]:
    """What ``command`` prints when run in ``root``, as the README's reader would see it."""
    words = shlex.split(command)
    if command == "cp v2/* site/":
        for page in (root / "v2").iterdir():
            shutil.copy(page, root / "site" / page.name)
            os.utime(root / "site" / page.name, (SECOND_MTIME, SECOND_MTIME))
        return []
    if words[0] == "ls":
        return [line for directory in words[1:] for line in
                (f"{directory}:", *sorted(p.name for p in (root / directory).iterdir()), "")]
    if words[0] != "govwatch":
        raise AssertionError(f"the tour has a step this test cannot replay: $ {command}")
    env = {k: v for k, v in os.environ.items() if k != "GOVWATCH_CONFIG"}
    done = subprocess.run([GOVWATCH, *words[1:]], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    return (done.stdout.splitlines() + [f"stderr: {line}" for line in done.stderr.splitlines()]
            + ([f"[exit {done.returncode}]"] if done.returncode else []))


def test_readme_tour_output_is_what_govwatch_prints(tour: Path) -> None:
    steps = [(command, shown) for command, shown in
             tour_steps((REPO / "README.md").read_text(encoding="utf-8"))
             if not command.startswith(SETUP_STEPS)]
    commands = [command.split()[:2] for command, _ in steps]
    for expected in (["govwatch", "run"], ["govwatch", "history"], ["govwatch", "verify"]):
        assert expected in commands, f"README's tour lost its `{' '.join(expected)}` step"
    shown_lines: list[str] = []
    real_lines: list[str] = []
    for command, shown in steps:
        real = replay(command, tour)
        if command.startswith("ls "):
            shown, real = listing(shown), listing(real)
        shown_lines += [f"$ {command}", *normalised(shown)]
        real_lines += [f"$ {command}", *normalised(real)]
    diff = "\n".join(difflib.unified_diff(shown_lines, real_lines, "README.md", "govwatch",
                                          lineterm=""))
    assert shown_lines == real_lines, f"README's tour differs from the real output:\n{diff}"
