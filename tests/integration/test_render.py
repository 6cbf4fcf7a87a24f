"""``render: browser``: pages built by JavaScript, rendered in the system's Chromium.

A real app on the test site (tests/integration/jsapp_support.py) builds its page from a
JSON endpoint the test changes between cycles; real cycles render it in a real browser
and record into a real SQLite file. Nothing of govwatch is mocked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import Config, parse_config
from pipeline.cycle import CycleReport, run_cycle, select_monitors
from storage.db import Store
from tests.integration.jsapp_support import grants, needs_browser, serve_app, set_data

pytestmark = [pytest.mark.integration, needs_browser]


def make_config(monitors: list[dict[str, Any]], **top: Any) -> Config:
    document = {
        "defaults": {"every": "1h", "timeout": "20s"},
        "organizations": [{"id": "ministry", "name": "Ministry", "monitors": monitors}],
        **top,
    }
    return parse_config(json.dumps(document), "test-config.yaml")


async def cycle(config: Config, store: Store) -> CycleReport:
    store.sync_monitors(config.organizations)
    return await run_cycle(config, store, select_monitors(config, store, run_all=True))


def row(store: Store, sql: str, params: list[Any]) -> dict[str, Any]:
    rows = list(store.db.query(sql, params))
    assert len(rows) == 1, f"{sql} {params}: {len(rows)} rows"
    return rows[0]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "govwatch.db") as opened:
        yield opened


async def test_first_cycle_records_the_rendered_text(site: Any, store: Store) -> None:
    url = serve_app(site, grants(100))
    config = make_config([{"id": "grants", "kind": "page", "url": url, "render": "browser"}])

    report = await cycle(config, store)

    [check] = report.checks
    assert (check.outcome, check.error) == ("new", None)
    stored = row(store, "SELECT * FROM checks WHERE id = ?", [check.check_id])
    content = store.load_content(stored["content_hash"])
    assert "Water board: 100 EUR" in content.text
    assert "School meals: 40 EUR" in content.text
    assert content.data["title"] == "Grants register"
    assert [site.url("/grants/1"), "Water board: 100 EUR"] in content.data["links"]
    # Both bodies are in the audit trail: the DOM that was compared, the HTML served.
    dom = store.load_body(stored["snapshot_hash"]).decode()
    served = store.load_body(stored["served_snapshot_hash"]).decode()
    assert "Water board: 100 EUR" in dom and "Water board" not in served
    assert '<div id="root"></div>' in served
    # The document was fetched once (by govwatch), its data by the page; no image.
    assert site.hits("/app.html") == 1
    assert site.hits("/api/grants.json") == 1
    assert site.hits("/logo.png") == 0
