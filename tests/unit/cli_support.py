"""Invoking every govwatch command generically: the tests that must cover each command
(a database that does not exist, unknown ids) build its required arguments from its
click parameters, so a command added later is covered without editing them."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner, Result

import pipeline.cli.main  # noqa: F401  (registers the subcommands)
from pipeline.cli.group import cli

# Commands that create the database; every other one must leave a missing one missing.
CREATORS = frozenset({"run", "daemon"})
SCOPE_OPTIONS = {"org_ids": "--org", "monitor_ids": "--monitor"}


def config_text(database: Path, url: str = "http://127.0.0.1:9/") -> str:
    """A valid config: organization ``o`` with one page monitor ``m`` (port 9: discard)."""
    return (f"database: '{database}'\nretention: {{keep_versions: 3}}\n"
            "organizations:\n  - id: o\n    name: O\n    monitors:\n"
            f"      - {{id: m, kind: page, url: '{url}'}}\n")


def command(name: str) -> click.Command:
    return cli.commands[name]


def takes_monitor_argument(name: str) -> bool:
    return any(isinstance(p, click.Argument) and p.name == "monitor_id"
               for p in command(name).params)


def scope_options(name: str) -> list[str]:
    """The ``--org``/``--monitor`` options the command takes."""
    return [SCOPE_OPTIONS[p.name] for p in command(name).params if p.name in SCOPE_OPTIONS]


def required_args(name: str, workdir: Path, *, monitor_id: str = "m") -> list[str]:
    """The command's required arguments and options, filled with plausible values."""
    args: list[str] = []
    for param in command(name).params:
        if not param.required:
            continue
        value = _value(param, workdir, monitor_id)
        if isinstance(param, click.Option):
            args += [param.opts[0], value]
        else:
            args.append(value)
    return args


def _value(param: click.Parameter, workdir: Path, monitor_id: str) -> str:
    if param.name == "monitor_id":
        return monitor_id
    kind = param.type
    if isinstance(kind, click.Choice):
        return str(kind.choices[0])
    if isinstance(kind, click.Path):
        path = workdir / f"arg-{param.name}"
        if kind.exists:
            path.write_text("<p>x</p>", encoding="utf-8")
        return str(path)
    if isinstance(kind, click.types.IntParamType):
        return "1"
    return "x"


def invoke(*args: str) -> Result:
    """Run govwatch in-process; a crash is re-raised, never mistaken for an exit code."""
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result
