"""Whole cycles in-process, as `govwatch run --all` runs them: shared by the tests that
drive ``run_cycle`` against a local server and read back what the store recorded."""

from __future__ import annotations

import json
from typing import Any

from pipeline.config import Config, parse_config
from pipeline.cycle import CycleReport, run_cycle, select_monitors
from storage.db import Store


def make_config(monitors: list[dict[str, Any]], **top: Any) -> Config:
    """A config with one organization (``ministry``) checked hourly with a 5 s timeout;
    JSON is valid YAML, so the real parser reads it. ``top`` adds top-level keys."""
    document = {
        "defaults": {"every": "1h", "timeout": "5s"},
        "organizations": [{"id": "ministry", "name": "Ministry", "monitors": monitors}],
        **top,
    }
    return parse_config(json.dumps(document), "test-config.yaml")


async def cycle(config: Config, store: Store) -> CycleReport:
    """One cycle of every monitor of ``config``, the config synced into the store first."""
    store.sync_monitors(config.organizations)
    return await run_cycle(config, store, select_monitors(config, store, run_all=True))
