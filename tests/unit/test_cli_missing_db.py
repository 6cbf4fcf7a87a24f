"""Only `run` and `daemon` create a database; a missing config file is an error.

Every other command, given a database that does not exist, says so (naming the path),
exits 1 and creates nothing: no file, no directory, no -wal/-shm beside it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli.group import EXIT_CONFIG, EXIT_FAILURE, cli
from pipeline.config import parse_config
from storage.db import Store
from tests.unit.cli_support import CREATORS, config_text, invoke, required_args

NOT_CREATORS = sorted(set(cli.commands) - CREATORS)
# Commands that never open the history: they must still create nothing.
WITHOUT_DATABASE = frozenset({"kinds", "compare", "check-config", "preview"})
# Commands that read the config even when --db names the database (`site` reads it for
# its directory unless --output names one).
NEED_CONFIG = frozenset({"check-config", "run", "daemon", "health", "digest", "prune",
                         "preview", "site"})


def files_under(path: Path) -> set[Path]:
    return set(path.rglob("*"))


@pytest.mark.parametrize("parent_exists", [False, True], ids=["no-dir", "empty-dir"])
@pytest.mark.parametrize("given_by", ["--db", "config"])
@pytest.mark.parametrize("name", NOT_CREATORS)
def test_a_command_on_a_missing_database_creates_nothing(
    name: str, given_by: str, parent_exists: bool, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    missing = tmp_path / "data" / "gw.db"
    if parent_exists:
        missing.parent.mkdir()
    config = work / "config.yaml"
    config.write_text(config_text(missing), encoding="utf-8")
    args = required_args(name, work)
    before = files_under(tmp_path)
    db_args = ["--db", str(missing)] if given_by == "--db" else []
    result = invoke("--config", str(config), *db_args, name, *args)
    assert files_under(tmp_path) == before, result.output
    if name in WITHOUT_DATABASE:
        return
    assert result.exit_code == EXIT_FAILURE, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: database {missing} does not exist (`govwatch run` creates it)"]


def test_verify_of_a_missing_database_is_not_ok(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "gw.db"
    result = invoke("--db", str(missing), "verify")
    assert result.exit_code == EXIT_FAILURE
    assert "OK" not in result.output and f"{missing} does not exist" in result.stderr
    assert not missing.parent.exists()


@pytest.mark.parametrize("name", sorted(set(cli.commands) - {"kinds", "compare"}))
def test_a_missing_config_file_is_a_config_error(name: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = required_args(name, tmp_path)
    before = files_under(tmp_path)
    result = invoke("--config", "nope.yaml", name, *args)
    assert result.exit_code == EXIT_CONFIG, result.output
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("config error: nope.yaml")
    assert files_under(tmp_path) == before, "no govwatch.db fallback"


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_only_commands_that_need_the_config_read_it_when_given_db(
    name: str, tmp_path: Path
) -> None:
    db = tmp_path / "gw.db"
    with Store(db) as store:
        store.sync_monitors(parse_config(config_text(db)).organizations)
    result = invoke("--config", str(tmp_path / "nope.yaml"), "--db", str(db), name,
                    *required_args(name, tmp_path))
    if name in NEED_CONFIG:
        assert result.exit_code == EXIT_CONFIG, result.output
        assert result.stderr.startswith(f"config error: {tmp_path / 'nope.yaml'}")
    else:
        assert "nope.yaml" not in result.output
