"""The site command: write the static archive site from the history."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from core.errors import ConfigError
from pipeline.cli.group import Context, cli, pass_context
from pipeline.logs import emit

if TYPE_CHECKING:
    from notifications.site.build import SiteReport
    from pipeline.config import Config


@cli.command()
@click.option("--output", metavar="DIR",
              help="Directory to write (default: the config's site.directory).")
@click.option("--full", is_flag=True,
              help="Write every page, not only what changed since the last build.")
@pass_context
def site(context: Context, output: str | None, full: bool) -> None:
    """Write the static archive site: organizations, monitors, every change with its diff."""
    from pipeline.site import write_site

    try:
        config: Config | None = context.config()
    except ConfigError:
        if not (context.db_option and output):
            raise
        config = None  # a database and a directory are enough: the default settings
    with context.store(config) as store:
        if output is None and (config is None or config.site is None):
            raise ConfigError("no site: section in the config; give --output DIR")
        report = write_site(config, store, output, full=full)
    print_site(report)


def print_site(report: SiteReport) -> None:
    kind = "full build" if report.full else "update"
    emit("site", f"site {report.directory}: {kind}, {report.changes} new change page(s), "
                 f"{report.written} file(s) written, {report.unchanged} unchanged",
         directory=str(report.directory), full=report.full, changes=report.changes,
         written=report.written, unchanged=report.unchanged)
