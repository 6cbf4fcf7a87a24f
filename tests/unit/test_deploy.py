"""The deployment files: systemd units pass `systemd-analyze verify`, the crontab line parses."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.schedule import crontab_trigger

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = ("govwatch-run.service", "govwatch-run.timer", "govwatch-daemon.service")


def test_daemon_unit_stops_with_sigterm_within_15s() -> None:
    unit = (DEPLOY / "govwatch-daemon.service").read_text()
    for line in ("Type=simple", "Restart=on-failure", "KillSignal=SIGTERM",
                 "TimeoutStopSec=15", "ExecReload=/bin/kill -HUP $MAINPID"):
        assert line in unit.splitlines()
    assert "SuccessExitStatus=75" in (DEPLOY / "govwatch-run.service").read_text()


def test_crontab_line_is_a_valid_schedule_running_govwatch() -> None:
    lines = [line for line in (DEPLOY / "crontab").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert len(lines) == 1
    fields = lines[0].split(maxsplit=5)
    crontab_trigger(" ".join(fields[:5]))
    assert "govwatch" in fields[5] and " run " in fields[5] + " "


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    govwatch = Path(sys.executable).parent / "govwatch"
    for name in UNITS:
        # The units name /srv/govwatch; point them at this checkout so paths exist.
        text = (DEPLOY / name).read_text().replace("/srv/govwatch/.venv/bin/govwatch",
                                                   str(govwatch))
        (tmp_path / name).write_text(text.replace("/srv/govwatch", str(tmp_path)))
    result = subprocess.run(
        [analyze, "verify", *(str(tmp_path / name) for name in UNITS)],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )
    # verify exits 0 even for keys it ignores ("Failed to parse ..."), so read its output.
    problems = [line for line in result.stderr.splitlines()
                if str(tmp_path) in line or "govwatch-" in line]
    assert result.returncode == 0, result.stderr
    assert problems == [], result.stderr


SERVICES = ("govwatch-run.service", "govwatch-daemon.service")


@pytest.mark.parametrize("name", SERVICES)
def test_services_are_sandboxed_to_an_ok_exposure(name: str) -> None:
    """`systemd-analyze security` rates each shipped service 3.0 or less (OK)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    result = subprocess.run(
        [analyze, "security", "--offline=true", "--no-pager", str(DEPLOY / name)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    if "--offline" in result.stderr and "unrecognized" in result.stderr:
        pytest.skip("this systemd-analyze has no --offline (systemd < 250)")
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", result.stdout)
    assert match, result.stdout + result.stderr
    score, verdict = float(match.group(1)), match.group(2)
    assert score <= 3.0 and verdict == "OK", result.stdout


@pytest.mark.parametrize("name", SERVICES)
def test_secrets_come_from_a_private_environment_file(name: str) -> None:
    lines = (DEPLOY / name).read_text().splitlines()
    assert "EnvironmentFile=-/etc/govwatch/govwatch.env" in lines
    assert not [line for line in lines if line.startswith("Environment=")], \
        "a unit is readable by every user: no secret (and no variable) in it"
    for directive in ("ProtectSystem=strict", "ReadWritePaths=/srv/govwatch",
                      "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectHome=yes",
                      "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                      "SystemCallFilter=@system-service", "CapabilityBoundingSet="):
        assert directive in lines, directive
