"""What a rendered page costs the plain pages of the same run: neither their turn nor CPU.

A plain page with a change is judged with its site's other pages once they are all
fetched (``pipeline.templates``); a rendered page is not one of them, or every plain
change of the host would wait for the browser. And the browser's processes run at a
lower priority than govwatch, so that on a busy machine it takes what the plain checks
leave instead of a share per process.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import Config, parse_config
from pipeline.cycle import CheckReport, run_cycle, select_monitors
from pipeline.fetch.browser import BROWSER_NICENESS, OWNER_ENV
from storage.db import Store
from tests.integration.conftest import Hold, Site, within
from tests.integration.jsapp_support import grants, needs_browser, serve_app

pytestmark = pytest.mark.integration


def make_config(monitors: list[dict[str, Any]]) -> Config:
    document = {
        "defaults": {"every": "1h", "timeout": "20s"},
        "organizations": [{"id": "ministry", "name": "Ministry", "monitors": monitors}],
    }
    return parse_config(json.dumps(document), "test-config.yaml")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "govwatch.db") as opened:
        yield opened


def notice(n: int, subject: str) -> str:
    return (f"<html><head><title>Notice {n}</title></head><body><main><h1>Notice {n}</h1>"
            f"<p>The ministry publishes notice {n} about {subject}, with the decision and "
            "its reasons, for anyone to read.</p></main></body></html>")


def monitors(site: Site, app_url: str) -> list[dict[str, Any]]:
    plain = [{"id": f"notice{n}", "kind": "page", "url": site.url(f"/notice{n}.html")}
             for n in (1, 2, 3)]
    return [*plain, {"id": "app", "kind": "page", "url": app_url, "render": "browser"}]


def browser_processes() -> dict[int, str]:
    """Processes of the browsers launched by this process and all they started: pid ->
    command line (the zygote clears the environment that marks the browser process)."""
    marker = f"{OWNER_ENV}={os.getpid()}-".encode()
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    roots = set()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            commands[int(entry.name)] = (entry / "cmdline").read_bytes().decode(
                errors="replace").replace("\0", " ")
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1]
                                           .split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if any(item.startswith(marker) for item in environ):
            roots.add(int(entry.name))
    found = set(roots)
    while more := {pid for pid, parent in parents.items() if parent in found} - found:
        found |= more
    return {pid: commands[pid] for pid in found}


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.05)


def autogroup(pid: int | str) -> tuple[str, int]:
    """The scheduling autogroup of ``pid`` and its nice value."""
    name, _, nice = Path(f"/proc/{pid}/autogroup").read_text().split()
    return name, int(nice)


@needs_browser
async def test_plain_pages_do_not_wait_for_a_rendered_page_of_their_site(
    site: Site, store: Store
) -> None:
    """notice1 changes while the rendered page of the same host is held mid-render: its
    change is judged and recorded all the same; meanwhile the browser's session (its
    renderers included) runs below govwatch's priority."""
    for n in (1, 2, 3):
        site.set(f"/notice{n}.html", notice(n, "the water board"))
    config = make_config(monitors(site, serve_app(site, grants(100))))
    store.sync_monitors(config.organizations)
    first = await run_cycle(config, store, select_monitors(config, store, run_all=True))
    assert {c.outcome for c in first.checks} == {"new"}, first.checks

    site.set("/notice1.html", notice(1, "the school meals programme"))
    held = Hold(json.dumps(grants(100)), content_type="application/json")
    site.route("/api/grants.json", held.handle)
    recorded = asyncio.Event()

    def on_check(report: CheckReport) -> None:
        if report.monitor_id == "notice1":
            recorded.set()

    running = asyncio.ensure_future(run_cycle(
        config, store, select_monitors(config, store, run_all=True), on_check=on_check))
    try:
        await within(recorded.wait(), "notice1 recorded while the rendered page is held")
        await within(until(lambda: held.arrived >= 1), "the rendered page asks for its data")
        assert held.answered == 0  # the page is still in the browser
        processes = browser_processes()
        renderers = [pid for pid, command in processes.items() if "--type=renderer" in command]
        assert renderers, processes
        if Path("/proc/self/autogroup").exists():  # scheduled by session (autogroup)
            own = autogroup("self")
            for pid in processes:
                group, nice = autogroup(pid)
                if group != own[0]:
                    assert nice == BROWSER_NICENESS, (pid, processes[pid], group, nice)
            assert {autogroup(pid)[0] for pid in renderers} != {own[0]}
            assert own[1] == 0  # govwatch's own session keeps its priority
    finally:
        held.release()
        report = await within(running, "the cycle ends once the page is answered")
    checks = {c.monitor_id: c for c in report.checks}
    assert checks["notice1"].outcome == "changed" and checks["notice1"].change_id is not None
    assert (checks["app"].outcome, checks["app"].error) == ("unchanged", None)
