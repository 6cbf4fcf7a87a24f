"""What an unattended run prints: JSON logs on stderr; a progress bar only on a terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import QUICK_CONFIRM
from tests.integration.opsite import OpSite, serving

pytestmark = pytest.mark.integration
GOVWATCH = str(Path(sys.executable).parent / "govwatch")


@pytest.fixture
def config(tmp_path: Path) -> Iterator[tuple[Path, OpSite]]:
    with serving() as site:
        for i in range(3):
            site.set(f"/p{i}", f"<p>{i}</p>")
        monitors = "".join(f"      - {{id: p{i}, kind: page, url: '{site.url(f'/p{i}')}'}}\n"
                           for i in range(3))
        path = tmp_path / "config.yaml"
        path.write_text(f"database: {tmp_path / 'gw.db'}\n"
                        f"defaults: {{confirm_pause: {QUICK_CONFIRM}}}\norganizations:\n  - id: o\n"
                        f"    name: O\n    monitors:\n{monitors}", encoding="utf-8")
        yield path, site


def test_piped_run_has_json_logs_and_no_bar(config: tuple[Path, OpSite]) -> None:
    path, _ = config
    result = subprocess.run([GOVWATCH, "--config", str(path), "--log-format", "json", "-v",
                             "run"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    report = [json.loads(line) for line in result.stdout.splitlines()]
    assert report[0]["event"] == "checked" and report[0]["new"] == 3
    assert "\x1b" not in result.stdout + result.stderr
    assert "checking" not in result.stderr and "#" not in result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert records, "-v logs debug records"
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)


def test_interactive_run_shows_a_progress_bar(config: tuple[Path, OpSite]) -> None:
    path, _ = config
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen([GOVWATCH, "--config", str(path), "run"],
                                   stdout=follower, stderr=follower, close_fds=True)
        os.close(follower)
        output = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: the process is gone
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(timeout=60) == 0
    finally:
        os.close(leader)
    text = output.decode("utf-8", "replace")
    assert "checking" in text and "3/3" in text
    assert "checked 3: new 3" in text
