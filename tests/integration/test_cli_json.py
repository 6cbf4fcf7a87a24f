"""`--log-format json`: every line govwatch writes, on stdout and stderr, is one JSON object.

The run's report keeps its streams (the report on stdout, failures on stderr); each line
carries the same facts as its plain form, named.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import QUICK_CONFIRM
from tests.integration.conftest import Site

pytestmark = pytest.mark.integration
GOVWATCH = str(Path(sys.executable).parent / "govwatch")


def govwatch(*args: str, cwd: Path) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
    """Run govwatch; every line of stdout and of stderr parsed as JSON."""
    env = {k: v for k, v in os.environ.items() if k != "GOVWATCH_CONFIG"}
    result = subprocess.run([GOVWATCH, "--log-format", "json", *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    stdout = [json.loads(line) for line in result.stdout.splitlines()]
    stderr = [json.loads(line) for line in result.stderr.splitlines()]
    assert all(isinstance(line, dict) for line in stdout + stderr)
    return result.returncode, stdout, stderr


def events(lines: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("event") == name]


@pytest.fixture
def config(site: Site, tmp_path: Path) -> Path:
    site.set("/page", "<main><p>first version</p></main>")
    site.fail("/gone", 500)
    path = tmp_path / "config.yaml"
    path.write_text(f"""\
database: {tmp_path / "gw.db"}
defaults: {{jitter: 0s, confirm_pause: {QUICK_CONFIRM}}}
retention: {{keep_versions: 1}}
notifications:
  feed: {{directory: {tmp_path / "feeds"}}}
  alert_after_failures: 1
organizations:
  - id: o
    name: O
    monitors:
      - {{id: page, kind: page, url: "{site.url('/page')}"}}
      - {{id: gone, kind: page, url: "{site.url('/gone')}"}}
""", encoding="utf-8")
    return path


def test_a_run_writes_only_json_lines(config: Path, site: Site, tmp_path: Path) -> None:
    code, stdout, stderr = govwatch("--config", str(config), "-v", "run", cwd=tmp_path)
    assert code == 0, stderr
    assert stderr, "-v logs debug records, as JSON"
    assert all({"time", "level", "logger", "message"} <= set(line) for line in stderr)
    [checked] = events(stdout, "checked")
    assert checked["message"].startswith("checked 2: new 1, changed 0")
    assert (checked["checked"], checked["new"], checked["errors"]) == (2, 1, 1)
    [alerts] = events(stdout, "alerts")  # alert_after_failures: 1
    assert alerts["recorded"] == 1 and alerts["message"] == "failure alerts recorded: 1"

    site.set("/page", "<main><p>second version</p></main>")
    code, stdout, stderr = govwatch("--config", str(config), "run", "--all", cwd=tmp_path)
    assert code == 0, stderr
    [checked] = events(stdout, "checked")
    assert (checked["checked"], checked["changed"], checked["errors"]) == (2, 1, 1)
    [change] = events(stdout, "change")
    assert (change["organization"], change["monitor"]) == ("o", "page")
    assert change["url"] == site.url("/page") and isinstance(change["change_id"], int)
    assert change["message"].startswith(f"CHANGE #{change['change_id']} o/page: ")
    [failed] = events(stdout, "check-error")
    assert failed["monitor"] == "gone" and "500" in failed["error"]
    [feed] = [e for e in events(stdout, "digest") if e["channel"] == "feed"]
    assert feed["delivered"] >= 1 and feed["error"] is None
    [pruned] = events(stdout, "prune")
    assert pruned["pruned"] == 1 and pruned["dry_run"] is False
    assert [line["event"] for line in stdout] == [
        "checked", "change", "check-error", "digest", "prune"]


def test_commands_and_errors_write_json_lines(config: Path, tmp_path: Path) -> None:
    assert govwatch("--config", str(config), "run", cwd=tmp_path)[0] == 0
    code, stdout, _ = govwatch("--config", str(config), "digest", cwd=tmp_path)
    assert code == 0 and [e["channel"] for e in events(stdout, "digest")] == ["feed"]
    code, stdout, _ = govwatch("--config", str(config), "digest", "--dry-run", cwd=tmp_path)
    assert code == 0 and events(stdout, "digest-preview")[0]["channel"] == "feed"
    code, stdout, _ = govwatch("--config", str(config), "prune", "--dry-run", cwd=tmp_path)
    assert code == 0 and events(stdout, "prune")[0]["dry_run"] is True

    code, stdout, stderr = govwatch("--config", str(tmp_path / "nope.yaml"), "run",
                                    cwd=tmp_path)
    assert code == 2 and stdout == []
    [error] = stderr
    assert error["event"] == "error" and error["kind"] == "config"
    assert error["exit_code"] == 2 and "nope.yaml" in error["message"]
    code, _, stderr = govwatch("--config", str(config), "run", "--org", "nope", cwd=tmp_path)
    assert code == 2 and stderr[0]["message"] == "error: unknown organization id(s): nope"
    code, _, stderr = govwatch("--db", str(tmp_path / "none.db"), "status", cwd=tmp_path)
    assert code == 1 and stderr[0]["kind"] == "error"
    code, _, stderr = govwatch("--config", str(config), "run", "--bogus", cwd=tmp_path)
    assert code == 2 and stderr[0]["kind"] == "usage" and "--bogus" in stderr[0]["message"]


def test_the_daemon_writes_only_json_lines(config: Path, site: Site, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GOVWATCH_CONFIG"}
    daemon = subprocess.Popen([GOVWATCH, "--log-format", "json", "--config", str(config),
                               "daemon"], cwd=tmp_path, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not (site.hits("/page") and site.hits("/gone")):
            assert time.monotonic() < deadline and daemon.poll() is None, "no check in time"
            time.sleep(0.05)
        daemon.send_signal(signal.SIGTERM)
        stdout, stderr = daemon.communicate(timeout=30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
    assert daemon.returncode == 0, stderr
    lines = [json.loads(line) for line in (stdout + stderr).splitlines()]
    messages = [line["message"] for line in lines]
    assert any(m.startswith("daemon started") for m in messages)
    assert "daemon stopped" in messages
