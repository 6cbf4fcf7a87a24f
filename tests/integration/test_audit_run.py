"""Real cycles against a local HTTP server: the chain, heads, retention after a run, WARC."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import pipeline.cli.main  # noqa: F401  (registers the subcommands)
from pipeline.cli.group import cli

pytestmark = pytest.mark.integration

WARCIO = str(Path(sys.executable).parent / "warcio")


def govwatch(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)


def page(version: int) -> str:
    return f"<html><body><main><h1>Guidance</h1><p>Edition {version}</p></main></body></html>"


def test_runs_chain_prune_and_export(site: Any, tmp_path: Path) -> None:
    site.set("/guidance", page(1))
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: {tmp_path / 'gw.db'}\nretention:\n  keep_versions: 1\n"
        "organizations:\n  - id: aisi\n    name: AI Security Institute\n    monitors:\n"
        f"      - {{id: guidance, kind: page, url: '{site.url('/guidance')}', select: main}}\n"
    )
    first = govwatch(config, "run", "--all")
    assert first.exit_code == 0, first.output
    assert "pruned" not in first.stdout, "the current body is always kept"
    site.set("/guidance", page(2))
    assert "changed 1" in govwatch(config, "run", "--all").stdout
    heads = tmp_path / "heads.json"
    heads.write_text(govwatch(config, "heads", "--json").stdout)
    site.set("/guidance", page(3))
    third = govwatch(config, "run", "--all")
    assert "pruned 1 bodies" in third.stdout, third.stdout
    assert govwatch(config, "run", "--all").stdout.startswith(
        "checked 1: new 0, changed 0, unchanged 0, not-modified 1")

    verified = govwatch(config, "verify", "--against", str(heads))
    assert verified.exit_code == 0, verified.output
    assert "(2 pruned, reported as pruned)" in verified.output
    diff = govwatch(config, "diff", "guidance", "--from", "1")
    assert "-Edition 1" in diff.stdout and "+Edition 3" in diff.stdout

    warc = tmp_path / "guidance.warc.gz"
    exported = govwatch(config, "export", "--format", "warc", "--output", str(warc))
    # The two changed checks and the confirming copy of the first change: bodies pruned.
    # The last check was answered 304 (the first was not copied: its strong ETag vouches
    # for its bytes).
    assert "1 responses" in exported.stdout and "3 with pruned bodies" in exported.stdout
    assert "1 not-modified" in exported.stdout
    checked = subprocess.run([WARCIO, "check", str(warc)], capture_output=True, text=True,
                             timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
