"""Unattended operation: the daemon and the health check."""

from __future__ import annotations

import json
import logging

import click

from pipeline.cli.group import EXIT_FAILURE, Context, cli, pass_context
from pipeline.lock import RunLock
from storage.records import utc_now


@cli.command()
@pass_context
def daemon(context: Context) -> None:
    """Run every monitor on its own schedule until SIGTERM (SIGHUP reloads the config)."""
    import asyncio

    from pipeline.config import config_path, load_config
    from pipeline.daemon import run_daemon  # APScheduler: only the daemon needs it

    path = config_path(context.config_option)
    config = load_config(path).config
    if not context.verbose:
        logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    with RunLock(context.database(config), "daemon"), \
            context.store(config, create=True) as store:
        store.sync_monitors(config.organizations)
        asyncio.run(run_daemon(path, config, store))


@cli.command()
@click.option("--json", "as_json_output", is_flag=True, help="Print a JSON object.")
@pass_context
def health(context: Context, as_json_output: bool) -> None:
    """Exit 0 if the last run is recent and no alert is open, else 1, saying why."""
    from pipeline.health import as_json
    from pipeline.health import health as check_health
    from storage.runs import describe_run

    config = context.config()
    with context.store(config) as store:
        healthy, alerts, run = check_health(config, store, utc_now())
    if as_json_output:
        click.echo(json.dumps(as_json(healthy, alerts, run), indent=2))
    else:
        click.echo(describe_run(run))
        click.echo("healthy" if healthy else f"UNHEALTHY: {len(alerts)} alert(s)")
        for alert in alerts:
            click.echo(f"ALERT {alert.kind}: {alert.message}")
    if not healthy:
        raise click.exceptions.Exit(EXIT_FAILURE)
