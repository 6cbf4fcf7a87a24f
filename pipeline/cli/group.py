"""The ``govwatch`` command group, its shared options and the errors-to-exit-codes rule.

Command modules (one per family) register on ``cli``; ``pipeline.cli.main`` imports them
all. Starting stays cheap: command modules import click and light modules only, and
each command imports the config, the store or the fetch layer when it runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from core.errors import ConfigError, DatabaseMissing, GovwatchError, LockHeld
from pipeline import VERSION
from pipeline.logs import FORMATS, setup_logging

if TYPE_CHECKING:
    from pipeline.config import Config
    from storage.db import Store

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2
EXIT_LOCKED = 75  # EX_TEMPFAIL: another govwatch holds the lock; try again later

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


pass_context = click.make_pass_decorator(Context)


class GovwatchGroup(click.Group):
    """Turns govwatch errors into one clear line and the documented exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"config error: {exc}", err=True)
            ctx.exit(EXIT_CONFIG)
        except DatabaseMissing as exc:
            click.echo(f"error: {exc} (`govwatch run` creates it)", err=True)
            ctx.exit(EXIT_FAILURE)
        except LockHeld as exc:
            click.echo(f"locked: {exc}", err=True)
            ctx.exit(EXIT_LOCKED)
        except GovwatchError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_FAILURE)


@click.group(cls=GovwatchGroup)
@click.option("--config", "config_option", metavar="PATH",
              help="Config file (default: $GOVWATCH_CONFIG, else ./config.yaml).")
@click.option("--db", "db_option", metavar="PATH", help="SQLite database (overrides config).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details to stderr.")
@click.option("--log-format", type=click.Choice(FORMATS), default="plain", show_default=True,
              help="Logs on stderr as plain lines or one JSON object per line.")
@click.version_option(VERSION, prog_name="govwatch")
@click.pass_context
def cli(ctx: click.Context, config_option: str | None, db_option: str | None,
        verbose: bool, log_format: str) -> None:
    """govwatch: watch official AI-governance sources and record every change."""
    setup_logging(logging.DEBUG if verbose else logging.WARNING, log_format)
    ctx.obj = Context(config_option, db_option, verbose)
