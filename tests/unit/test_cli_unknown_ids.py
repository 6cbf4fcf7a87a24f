"""An unknown organization or monitor id is a usage error (exit 2) for every command.

The commands are found from their click parameters (``--org``, ``--monitor``, a
``MONITOR_ID`` argument), so a command added later is covered without editing this file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli.group import EXIT_USAGE, cli
from pipeline.config import parse_config
from storage.db import Store
from tests.unit.cli_support import (
    config_text,
    invoke,
    required_args,
    scope_options,
    takes_monitor_argument,
)

SCOPED = sorted(name for name in cli.commands
                if scope_options(name) or takes_monitor_argument(name))
CASES = [(name, way) for name in SCOPED
         for way in [*scope_options(name), *(["MONITOR_ID"] * takes_monitor_argument(name))]]
KIND = {"--org": "organization", "--monitor": "monitor", "MONITOR_ID": "monitor"}


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    """A config naming o/m and a database that also remembers o/old, since removed."""
    db = tmp_path / "gw.db"
    config = tmp_path / "config.yaml"
    config.write_text(config_text(db), encoding="utf-8")
    with Store(db) as store:
        for text in (config_text(db).replace("{id: m,", "{id: old,"), config_text(db)):
            store.sync_monitors(parse_config(text).organizations)
    return config, db


def test_every_command_that_names_ids_is_covered() -> None:
    assert {"run", "search", "timeline", "export", "history", "diff", "preview"} <= set(SCOPED)


@pytest.mark.parametrize(("name", "way"), CASES)
def test_an_unknown_id_is_a_usage_error(name: str, way: str, setup: tuple[Path, Path],
                                        tmp_path: Path) -> None:
    config, db = setup
    if way == "MONITOR_ID":
        args, unknown = required_args(name, tmp_path, monitor_id="nope"), "nope"
    else:
        args, unknown = [*required_args(name, tmp_path), way, "nope", way, "zilch"], "nope, zilch"
    result = invoke("--config", str(config), "--db", str(db), name, *args)
    assert result.exit_code == EXIT_USAGE, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"error: unknown {KIND[way]} id(s): {unknown}"]


@pytest.mark.parametrize(("name", "way"), CASES)
def test_known_ids_are_accepted(name: str, way: str, setup: tuple[Path, Path],
                                tmp_path: Path) -> None:
    config, db = setup
    args = required_args(name, tmp_path)
    if way != "MONITOR_ID":
        args += [way, "o" if way == "--org" else "m"]
    result = invoke("--config", str(config), "--db", str(db), name, *args)
    assert "unknown" not in result.output


def test_ids_come_from_the_history_for_readers_and_the_config_for_runs(
    setup: tuple[Path, Path]
) -> None:
    config, db = setup
    history = invoke("--config", str(config), "--db", str(db), "history", "old")
    assert history.exit_code == 0, history.output
    run = invoke("--config", str(config), "--db", str(db), "run", "--monitor", "old")
    assert run.exit_code == EXIT_USAGE
    assert run.stderr == "error: unknown monitor id(s): old\n"


def test_both_kinds_unknown_are_named_on_one_line(setup: tuple[Path, Path]) -> None:
    config, db = setup
    result = invoke("--config", str(config), "--db", str(db), "search", "x", "--org", "nope",
                    "--monitor", "zilch")
    assert result.exit_code == EXIT_USAGE
    assert result.stderr == ("error: unknown organization id(s): nope; "
                             "unknown monitor id(s): zilch\n")
