"""`make run` installs only when pyproject.toml changed, and ends by saying where to look.

The real Makefile runs in a copy of the project whose environment links to this one
(its python, which refuses pip, and its govwatch), with a config of no monitors: offline and fast.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("make") is None, reason="needs make")]


def make(*args: str, cwd: Path, venv: Path) -> subprocess.CompletedProcess[str]:
    # Run as a user would, not as a sub-make of `make test` (which would print
    # "Entering directory" lines and pass its own flags down).
    inherited = {"GOVWATCH_CONFIG", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}
    env = {k: v for k, v in os.environ.items() if k not in inherited}
    return subprocess.run(["make", *args, f"VENV={venv}"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_make_run_uses_the_stamp_and_says_where_the_results_are(tmp_path: Path) -> None:
    work, venv = tmp_path / "work", tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    work.mkdir()
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(REPO / name, work / name)
    (work / "config.yaml").write_text(
        "notifications:\n  feed: {directory: feeds}\norganizations: []\n", encoding="utf-8")
    # pip is refused: an install here would point this environment at the copy.
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\ncase "$*" in *"pip install"*) echo "refused: $*" >&2; '
                      f'exit 3;; esac\nexec {sys.executable} "$@"\n', encoding="utf-8")
    python.chmod(0o755)
    (venv / "bin" / "govwatch").symlink_to(Path(sys.executable).parent / "govwatch")
    now = time.time()  # in the past only: make warns of times in the future
    os.utime(work / "pyproject.toml", (now - 100, now - 100))
    (venv / ".installed").touch()
    os.utime(venv / ".installed", (now - 50, now - 50))

    ran = make("run", cwd=work, venv=venv)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "install" not in ran.stdout and ran.stderr == ""
    lines = ran.stdout.splitlines()
    assert lines[0] == f"{venv}/bin/govwatch run --where"
    assert lines[1].startswith("checked 0: ")
    assert lines[-4:] == [
        f"database: {work.resolve() / 'govwatch.db'}",
        f"feeds:    {work.resolve() / 'feeds'} (atom, rss)",
        "next:     govwatch status | govwatch timeline | govwatch show ID",
        f"(govwatch is {venv}/bin/govwatch; or activate the environment: "
        f". {venv}/bin/activate)",
    ]
    assert (work / "govwatch.db").exists()

    os.utime(work / "pyproject.toml", (now - 10, now - 10))
    planned = make("-n", "run", cwd=work, venv=venv)
    assert f"{venv}/bin/python -m pip install -q -e . " in planned.stdout, planned.stdout
