"""The ``govwatch`` command group, its shared options and the errors-to-exit-codes rule.

Command modules (one per family) register on ``cli``; ``pipeline.cli.main`` imports them
all. Starting stays cheap: command modules import click and light modules only, and
each command imports the config, the store or the fetch layer when it runs.

Exit codes, the same for every command:

====  ==============================================================================
code  meaning
====  ==============================================================================
0     success
1     failure: an error govwatch reports on one line (the database does not exist,
      verify found a problem, health is not good, a digest was not delivered, an
      invalid ``search --fts`` query, ...)
2     usage: a bad command line, an unknown organization or monitor id (``--org``,
      ``--monitor``, ``MONITOR_ID``), or a config file that is missing or invalid
75    another govwatch holds the database's lock (EX_TEMPFAIL: try again later)
====  ==============================================================================

An error is one line on stderr (``config error: ...``, ``error: ...``, ``locked: ...``);
under ``--log-format json`` one object: ``{"event": "error", "kind": "config" | "usage" |
"locked" | "error" | "crash", "exit_code": N, "message": the plain line, ...}``.

Ids are checked before a command runs, in one place (:class:`GovwatchCommand`): a
parameter named ``org_ids``, ``monitor_ids`` or ``monitor_id`` names ids that must
exist, in the history for commands that read it, in the config for ``run`` and
``preview`` (``ids_from="config"``). The message names them all:
``unknown organization id(s): nope``.
"""

from __future__ import annotations

import logging
import sqlite3
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import click

from core.errors import ConfigError, DatabaseMissing, GovwatchError, LockHeld
from pipeline import VERSION
from pipeline.logs import FORMATS, emit, json_output, setup_logging

if TYPE_CHECKING:
    from pipeline.config import Config
    from storage.db import Store

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFIG = 2  # a config that cannot be used is a usage error too
EXIT_LOCKED = 75  # EX_TEMPFAIL: another govwatch holds the lock; try again later
SCOPE_PARAMETERS = {"org_ids": "organization", "monitor_ids": "monitor",
                    "monitor_id": "monitor"}


class UnknownIds(GovwatchError):
    """The command line names organizations or monitors that do not exist (exit 2)."""


@dataclass
class Context:
    config_option: str | None
    db_option: str | None
    verbose: bool = False
    _config: Config | None = field(default=None, repr=False)

    def config(self) -> Config:
        """The config (read once): a missing or invalid file raises :class:`ConfigError`."""
        from pipeline.config import config_path, load_config

        if self._config is None:
            self._config = load_config(config_path(self.config_option)).config
        return self._config

    def database(self, config: Config | None = None) -> str:
        """``--db``, else the config's database; readers given ``--db`` need no config."""
        if self.db_option:
            return self.db_option
        if config is not None:
            return config.database
        try:
            return self.config().database
        except ConfigError as exc:
            raise ConfigError(f"{exc} (--db PATH reads a database without a config)") from exc

    def store(self, config: Config | None = None, *, create: bool = False) -> Store:
        """The history; only ``run`` and ``daemon`` pass ``create`` (readers create nothing)."""
        from storage.db import Store

        return Store(self.database(config), create=create)

    def check_ids(self, params: dict[str, Any], ids_from: str) -> None:
        """Raise :class:`UnknownIds` naming every unknown id among a command's ids."""
        wanted: dict[str, list[str]] = {}
        for name, kind in SCOPE_PARAMETERS.items():
            value = params.get(name)
            ids = [value] if isinstance(value, str) else list(value or ())
            if ids:
                wanted.setdefault(kind, []).extend(dict.fromkeys(ids))
        if not wanted:
            return
        if ids_from == "config":
            config = self.config()
            known = {"organization": {org.id for org in config.organizations},
                     "monitor": {monitor.id for _, monitor in config.monitors()}}
            unknown = {kind: [i for i in ids if i not in known[kind]]
                       for kind, ids in wanted.items()}
        else:
            from storage.audit import organization_exists
            from storage.queries import monitor_exists

            exists = {"organization": organization_exists, "monitor": monitor_exists}
            with self.store() as store:
                unknown = {kind: [i for i in ids if not exists[kind](store, i)]
                           for kind, ids in wanted.items()}
        problems = [f"unknown {kind} id(s): {', '.join(ids)}"
                    for kind, ids in unknown.items() if ids]
        if problems:
            raise UnknownIds("; ".join(problems))


pass_context = click.make_pass_decorator(Context)


class GovwatchCommand(click.Command):
    """A command whose organization and monitor ids are checked before it runs."""

    def __init__(self, *args: Any, ids_from: str = "history", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ids_from = ids_from

    def invoke(self, ctx: click.Context) -> Any:
        context = ctx.find_object(Context)
        if context is not None:
            context.check_ids(ctx.params, self.ids_from)
        return super().invoke(ctx)


class GovwatchGroup(click.Group):
    """Turns govwatch errors into one clear line and the documented exit codes."""

    command_class = GovwatchCommand

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            _fail(ctx, "config", f"config error: {exc}", EXIT_CONFIG)
        except DatabaseMissing as exc:
            _fail(ctx, "error", f"error: {exc} (`govwatch run` creates it)", EXIT_FAILURE)
        except UnknownIds as exc:
            _fail(ctx, "usage", f"error: {exc}", EXIT_USAGE)
        except LockHeld as exc:
            _fail(ctx, "locked", f"locked: {exc}", EXIT_LOCKED)
        except GovwatchError as exc:
            _fail(ctx, "error", f"error: {exc}", EXIT_FAILURE)
        except sqlite3.OperationalError as exc:
            if "readonly database" not in str(exc):
                raise
            # A command that writes (search indexes, prune) on a database opened read-only.
            _fail(ctx, "error", f"error: cannot write database {self._database(ctx)}: {exc} "
                  "(a read-only file or file system?)", EXIT_FAILURE)
        except (click.exceptions.Exit, click.Abort):
            raise
        except click.ClickException as exc:
            if not json_output():
                raise  # click prints the usage with it
            _fail(ctx, "usage", f"error: {exc.format_message()}", exc.exit_code)
        except Exception as exc:
            if not json_output():
                raise
            # A bug: still one JSON line, the traceback in it, for whoever reads the logs.
            emit("error", f"error: unexpected {exc!r}", err=True, level="critical",
                 kind="crash", exit_code=EXIT_FAILURE, exception=traceback.format_exc())
            ctx.exit(EXIT_FAILURE)


    @staticmethod
    def _database(ctx: click.Context) -> str:
        context = ctx.find_object(Context)
        try:
            return context.database() if context is not None else "?"
        except GovwatchError:
            return "?"


def _fail(ctx: click.Context, kind: str, message: str, code: int) -> NoReturn:
    emit("error", message, err=True, level="error", kind=kind, exit_code=code)
    ctx.exit(code)


@click.group(cls=GovwatchGroup)
@click.option("--config", "config_option", metavar="PATH",
              help="Config file (default: $GOVWATCH_CONFIG, else ./config.yaml).")
@click.option("--db", "db_option", metavar="PATH", help="SQLite database (overrides config).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details to stderr.")
@click.option("--log-format", type=click.Choice(FORMATS), default="plain", show_default=True,
              help="Plain lines, or one JSON object per line for the logs (stderr) and "
                   "for run, daemon, digest and prune reports and errors.")
@click.version_option(VERSION, prog_name="govwatch")
@click.pass_context
def cli(ctx: click.Context, config_option: str | None, db_option: str | None,
        verbose: bool, log_format: str) -> None:
    """govwatch: watch official AI-governance sources and record every change."""
    setup_logging(logging.DEBUG if verbose else logging.WARNING, log_format)
    ctx.obj = Context(config_option, db_option, verbose)
