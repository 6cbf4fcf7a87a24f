"""Unattended operation: the daemon and the health check."""

from __future__ import annotations

import asyncio
import logging

from pipeline.cli import Context, cli, pass_context
from pipeline.config import config_path, load_config
from pipeline.daemon import run_daemon
from pipeline.lock import RunLock


@cli.command()
@pass_context
def daemon(context: Context) -> None:
    """Run every monitor on its own schedule until SIGTERM (SIGHUP reloads the config)."""
    path = config_path(context.config_option)
    config = load_config(path).config
    if not context.verbose:
        logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    with RunLock(context.db_option or config.database, "daemon"), \
            context.store(config) as store:
        store.sync_monitors(config.organizations)
        asyncio.run(run_daemon(path, config, store))
