"""`govwatch run` over the shipped config with no network at all.

The run happens in a fresh network namespace (``unshare -n``): no interface but a downed
loopback, no DNS. This is the real "no network" condition, and it guarantees the test
itself cannot reach the internet.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import FailureKind
from pipeline.config import load_config

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GOVWATCH = str(Path(sys.executable).parent / "govwatch")


def _offline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["unshare", "-n", GOVWATCH, *args], capture_output=True, text=True, timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def can_unshare() -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {probe.stderr.decode().strip()}")


def test_run_without_network_records_every_source_as_an_error(
    can_unshare: None, tmp_path: Path
) -> None:
    config_file = REPO / "config.yaml"
    enabled = [m for _, m in load_config(config_file).config.monitors() if m.enabled]
    db = tmp_path / "offline.db"
    result = _offline("--config", str(config_file), "--db", str(db), "run")
    assert result.returncode == 0, result.stderr
    first_line = result.stdout.splitlines()[0]
    assert first_line == (
        f"checked {len(enabled)}: new 0, changed 0, unchanged 0, not-modified 0, "
        f"blocked 0, errors {len(enabled)}"
    )
    error_lines = [line for line in result.stdout.splitlines() if line.startswith("ERROR ")]
    assert len(error_lines) == len(enabled)
    # ERROR org/monitor: <error> <url>
    kinds = {FailureKind.of(line.split(": ", 1)[1]) for line in error_lines}
    assert kinds <= {FailureKind.CONNECT_FAILED, FailureKind.FETCH_TIMEOUT}, error_lines

    status = subprocess.run(
        [GOVWATCH, "--config", str(config_file), "--db", str(db), "status", "--json"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    rows = json.loads(status.stdout)
    checked = [row for row in rows if row["last_check_at"] is not None]
    assert len(checked) == len(enabled)
    assert {row["last_outcome"] for row in checked} == {"error"}
    assert all(row["consecutive_failures"] == 1 for row in checked)
