"""The confirming copy waits ``defaults.confirm_pause`` (1.1 s unless set) after its
check, so that a clock ticking every second has ticked between the two copies.

Times are lower bounds only: a loaded machine can make the wait longer, never shorter.
"""

from __future__ import annotations

import time

import pytest
from aiohttp import web

from storage.db import Store
from tests.integration.conftest import Site
from tests.integration.cycle_support import cycle, make_config

pytestmark = pytest.mark.integration


def timed_page(site: Site, path: str) -> list[float]:
    """Serve one unchanging page at ``path``; the monotonic time of each request."""
    arrivals: list[float] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        arrivals.append(time.monotonic())
        return web.Response(text="<html><body><main><p>Same words.</p></main></body></html>",
                            content_type="text/html")

    site.route(path, handle)
    return arrivals


@pytest.mark.parametrize(("defaults", "pause"), [
    ({"every": "1h"}, 1.1),                           # the default
    ({"every": "1h", "confirm_pause": "2.5s"}, 2.5),  # longer than the default
])
async def test_the_confirming_copy_waits_the_confirm_pause(
    site: Site, store: Store, defaults: dict[str, str], pause: float,
) -> None:
    arrivals = timed_page(site, "/clock.html")
    config = make_config([{"id": "clock", "kind": "page", "url": site.url("/clock.html")}],
                         defaults=defaults)
    report = await cycle(config, store)
    assert [r.outcome for r in report.checks] == ["new"] and report.checks[0].confirmed
    assert len(arrivals) == 2, arrivals  # the check and its confirming copy
    assert arrivals[1] - arrivals[0] >= pause, arrivals
