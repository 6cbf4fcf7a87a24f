"""What ``render: browser`` costs: seconds and CPU per rendered page, and peak memory.

Two first cycles on fresh databases against one local server on 127.0.0.1: ``plain``
checks N plain pages; ``mixed`` checks the same N plus R pages of a JavaScript app (an
HTML shell whose script builds the page from a JSON endpoint) with ``render: browser``.
Per rendered page: the extra wall time and CPU of ``mixed`` over ``plain``, divided by R.
CPU counts govwatch and its children (the Playwright driver and Chromium, reaped when the
browser stops at the end of the cycle). Peak memory is the largest sum of the resident
memory (PSS) of govwatch's process tree, sampled every 50 ms (Chromium's processes, in a
session of their own, are found by ``GOVWATCH_BROWSER_OWNER`` in their environment).
``plain pages done`` is when the last plain page was recorded: whether rendering slows
the plain pages down.

    .venv/bin/python benchmarks/render.py --plain 1000 --rendered 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.config import parse_config
from pipeline.cycle import CheckReport, run_cycle, select_monitors
from pipeline.fetch.browser import OWNER_ENV
from storage.db import Store

SHELL = ('<!doctype html><html><head><title>App {i}</title></head><body>'
         '<div id="root"></div><img src="/logo.png"><script src="/app/{i}/app.js"></script>'
         '</body></html>')
APP = ("fetch('/app/{i}/data.json').then(r => r.json()).then(d => {{"
       "document.getElementById('root').innerHTML = '<h1>' + d.title + '</h1><ul>' + "
       "d.items.map(x => '<li>' + x + '</li>').join('') + '</ul>';}});")


def plain_page(i: int) -> str:
    rows = "".join(f"<li><a href='/doc/{i}/{n}'>Decision {i}-{n} on the budget</a></li>"
                   for n in range(40))
    return (f"<!doctype html><html><head><title>Page {i}</title></head><body><main>"
            f"<h1>Publications {i}</h1><ul>{rows}</ul></main></body></html>")


async def handle(request: web.Request) -> web.Response:
    parts = request.path.strip("/").split("/")
    if parts[0] == "p":
        return web.Response(text=plain_page(int(parts[1])), content_type="text/html")
    if parts[0] == "app":
        i = int(parts[1])
        if parts[2] == "app.html":
            return web.Response(text=SHELL.format(i=i), content_type="text/html")
        if parts[2] == "app.js":
            return web.Response(text=APP.format(i=i), content_type="application/javascript")
        data = {"title": f"Register {i}", "items": [f"Grant {i}-{n}: {n * 10} EUR"
                                                    for n in range(30)]}
        return web.Response(text=json.dumps(data), content_type="application/json")
    return web.Response(status=404)


def serve() -> str:
    ready = threading.Event()
    where: list[str] = []

    async def main() -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        where.append(f"http://127.0.0.1:{runner.addresses[0][1]}")
        ready.set()
        await asyncio.Event().wait()

    threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()
    ready.wait(10)
    return where[0]


def tree_rss(root: int) -> int:
    """Memory (PSS) of ``root``, its descendants and this run's browser processes."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    owned: set[int] = set()
    marker = f"{OWNER_ENV}={root}-".encode()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            pid = int(entry.name)
            parents[pid] = int(fields[1])
            rss[pid] = _pss(entry)
            if marker in (entry / "environ").read_bytes():
                owned.add(pid)
        except (OSError, ValueError, IndexError):
            continue
    ours = {root} | owned
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in ours} - ours
        ours |= more
        grew = bool(more)
    return sum(rss.get(pid, 0) for pid in ours)


def _pss(entry: Path) -> int:
    """Proportional set size: shared pages (Chromium's processes share most of theirs)
    counted once over the processes that share them."""
    for line in (entry / "smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class Result:
    wall: float
    cpu: float
    peak_rss: int
    plain_done: float
    outcomes: dict[str, int]


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(base: str, plain: int, rendered: int, directory: Path) -> Result:
    monitors = [{"id": f"p{i}", "kind": "page", "url": f"{base}/p/{i}", "robots": False}
                for i in range(plain)]
    monitors += [{"id": f"app{i}", "kind": "page", "url": f"{base}/app/{i}/app.html",
                  "render": "browser", "robots": False} for i in range(rendered)]
    config = parse_config(json.dumps({
        "defaults": {"every": "1h", "per_host": 32, "concurrency": 32},
        "organizations": [{"id": "o", "name": "O", "monitors": monitors}],
    }), "bench.yaml")
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], tree_rss(os.getpid()))

    sampler = threading.Thread(target=sample, daemon=True)
    plain_done = [0.0]
    start = time.perf_counter()

    def on_check(report: CheckReport) -> None:
        if report.monitor_id.startswith("p"):
            plain_done[0] = time.perf_counter() - start

    with Store(directory / f"{plain}-{rendered}.db") as store:
        store.sync_monitors(config.organizations)
        chosen = select_monitors(config, store, run_all=True)
        cpu = cpu_seconds()
        sampler.start()
        start = time.perf_counter()
        report = asyncio.run(run_cycle(config, store, chosen, on_check=on_check))
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        cpu = cpu_seconds() - cpu
    return Result(wall, cpu, peak[0], plain_done[0], dict(report.counts))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plain", type=int, default=1000)
    parser.add_argument("--rendered", type=int, default=20)
    args = parser.parse_args()
    base = serve()
    with tempfile.TemporaryDirectory(prefix="govwatch-render-bench-") as tmp:
        plain = measure(base, args.plain, 0, Path(tmp))
        mixed = measure(base, args.plain, args.rendered, Path(tmp))
    mib = 1024 * 1024
    print(f"{'run':<8} {'pages':>12} {'wall s':>8} {'CPU s':>8} {'peak MiB':>9} "
          f"{'plain pages done s':>19}  outcomes")
    for name, result, pages in (("plain", plain, f"{args.plain}"),
                                ("mixed", mixed, f"{args.plain}+{args.rendered}")):
        print(f"{name:<8} {pages:>12} {result.wall:>8.2f} {result.cpu:>8.2f} "
              f"{result.peak_rss / mib:>9.0f} {result.plain_done:>19.2f}  {result.outcomes}")
    if args.rendered:
        print(f"per rendered page: {(mixed.wall - plain.wall) / args.rendered:.3f} s wall, "
              f"{(mixed.cpu - plain.cpu) / args.rendered:.3f} s CPU; plain pages done "
              f"{(mixed.plain_done / plain.plain_done - 1) * 100:+.1f} % vs plain-only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
