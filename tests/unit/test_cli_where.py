"""`govwatch run --where` (what `make run` ends with): where the results are, what next."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.cli_support import invoke

NO_MONITORS = "organizations: []\n"


def test_the_run_ends_by_saying_where_the_results_are(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "my config.yaml"
    config.write_text(f"database: data/gw.db\nnotifications:\n  feed: {{directory: out}}\n"
                      f"{NO_MONITORS}", encoding="utf-8")
    result = invoke("--config", str(config), "run", "--where")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-3:] == [
        f"database: {tmp_path / 'data' / 'gw.db'}",
        f"feeds:    {tmp_path / 'out'} (atom, rss)",
        "next:     " + " | ".join(f"govwatch --config '{config}' {command}"
                                  for command in ("status", "timeline", "show ID")),
    ]
    assert (tmp_path / "data" / "gw.db").exists()


def test_without_a_feed_channel_it_says_so(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(NO_MONITORS, encoding="utf-8")
    db = tmp_path / "gw.db"
    result = invoke("--config", str(config), "--db", str(db), "run", "--where")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[-3] == f"database: {db}"
    assert lines[-2] == "feeds:    none (no feed channel is enabled)"
    assert lines[-1] == (f"next:     govwatch --config {config} --db {db} status | "
                         f"govwatch --config {config} --db {db} timeline | "
                         f"govwatch --config {config} --db {db} show ID")


def test_without_where_the_run_stays_terse(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(NO_MONITORS, encoding="utf-8")
    result = invoke("--config", str(config), "--db", str(tmp_path / "gw.db"), "run")
    assert result.exit_code == 0, result.output
    assert "database:" not in result.stdout and "next:" not in result.stdout


def test_where_in_json_is_one_object(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(NO_MONITORS, encoding="utf-8")
    db = tmp_path / "gw.db"
    result = invoke("--log-format", "json", "--config", str(config), "--db", str(db), "run",
                    "--where")
    assert result.exit_code == 0, result.output
    where = json.loads(result.stdout.splitlines()[-1])
    assert where["event"] == "where" and where["database"] == str(db)
    assert where["feeds"] is None
    assert where["next"] == [f"govwatch --config {config} --db {db} {command}"
                             for command in ("status", "timeline", "show ID")]
