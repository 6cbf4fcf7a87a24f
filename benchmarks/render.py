"""What ``render: browser`` costs: seconds and CPU per rendered page, and peak memory.

Two variants of a first cycle on a fresh database against one local site on 127.0.0.1 (a
process of its own): ``plain`` checks N plain pages; ``mixed`` checks the same N plus R
pages of a JavaScript app (an HTML shell whose script builds the page from a JSON
endpoint) with ``render: browser``. Each measurement runs in a new process; the variants
are interleaved, their order alternating, ``--runs`` times each (the machine is shared:
medians and ranges are reported).

Per rendered page: the extra wall time and CPU of ``mixed`` over the ``plain`` run next to
it, divided by R. CPU is the measured process's and its children's (the Playwright driver
and Chromium, reaped when the browser stops at the end of the cycle). Peak memory is the
largest sum over the measured process and its descendants (worker processes, the
Playwright driver, Chromium and its zygote and renderers), sampled from the orchestrating
process: RSS every 0.2 s (shared pages counted in every process), PSS every second
(counted once).
``plain pages done`` is when the last plain page was recorded: whether rendering slows the
plain pages down; ``their CPU`` is govwatch's own CPU (main process) by then, the work the
plain pages took. Until then the event loop's thread was on a core, waiting for one (the
machine's other work), or idle (waiting on the site, the workers or a copy's pause: where
something holding the plain pages back would show); /proc/thread-self/schedstat tells the
three apart.

``--until-plain`` stops each cycle once its plain pages are recorded (nothing is rendered:
many pairs quickly); with ``--rendered 0`` both variants are the same plain run, an A/A
comparison that shows how far two identical runs differ on this machine.

    .venv/bin/python benchmarks/render.py --plain 1000 --rendered 20 --runs 3
    .venv/bin/python benchmarks/render.py --until-plain --runs 10 [--rendered 0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitors.base import Monitor
from pipeline.config import parse_config
from pipeline.cycle import CheckReport, run_cycle, select_monitors
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


def serve(port_file: Path) -> None:
    """The site, in a process of its own: its CPU and memory are not govwatch's, and it
    does not share govwatch's interpreter lock."""

    async def main() -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_file.write_text(f"http://127.0.0.1:{runner.addresses[0][1]}")
        await asyncio.Event().wait()

    asyncio.run(main())


def tree_memory(root: int, with_pss: bool) -> tuple[int, int]:
    """Summed RSS (and PSS, when asked: it costs a walk of each process's page tables) of
    ``root`` and its descendants: the worker processes, the Playwright driver and the
    browser it started (the zygote and renderers descend from it)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            parents[int(entry.name)] = int(
                (entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    ours = {root}
    while more := {pid for pid, parent in parents.items() if parent in ours} - ours:
        ours |= more
    rss = pss = 0
    for pid in ours:
        try:
            rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
            if with_pss:
                pss += _pss(Path(f"/proc/{pid}"))
        except (OSError, ValueError, IndexError):  # gone meanwhile
            continue
    return rss, pss


PAGE = os.sysconf("SC_PAGE_SIZE")


def _pss(entry: Path) -> int:
    """Proportional set size: the pages Chromium's processes share counted once over the
    processes that share them (RSS counts them in each)."""
    for line in (entry / "smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class Result:
    variant: str
    wall: float
    cpu: float
    plain_done: float
    outcomes: dict[str, int]
    #: govwatch's own CPU (its main process) by the time the last plain page was recorded:
    #: the plain pages' work, whatever the machine's load made of their wall time.
    plain_cpu: float = 0.0
    #: The parsing workers' CPU by then (live children of the measured process).
    workers_cpu: float = 0.0
    #: The event loop's thread by then (/proc/thread-self/schedstat): time on a core, and
    #: time ready to run but waiting for one (what the machine's other work took of the
    #: plain pages' wall time). The rest of ``plain_done`` the loop was idle: waiting on
    #: the site, the workers or a copy's pause.
    loop_cpu: float = 0.0
    loop_waiting: float = 0.0
    peak_rss: int = 0
    peak_pss: int = 0


def _own_cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def _thread_times() -> tuple[float, float]:
    """This thread's time on a core and time waiting for one, in seconds."""
    on_cpu, waiting, _ = Path("/proc/thread-self/schedstat").read_text().split()
    return int(on_cpu) / 1e9, int(waiting) / 1e9


def _children_cpu() -> float:
    """CPU of this process's live children (the worker pool), from /proc."""
    me, ticks, total = os.getpid(), os.sysconf("SC_CLK_TCK"), 0
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(base: str, plain: int, rendered: int, directory: Path, variant: str,
            until_plain: bool = False) -> Result:
    """One first cycle, in this process (a fresh one per measurement); ``until_plain``:
    cancelled once the last plain page is recorded (no page is then ever rendered)."""
    monitors = [{"id": f"p{i}", "kind": "page", "url": f"{base}/p/{i}", "robots": False}
                for i in range(plain)]
    monitors += [{"id": f"app{i}", "kind": "page", "url": f"{base}/app/{i}/app.html",
                  "render": "browser", "robots": False} for i in range(rendered)]
    config = parse_config(json.dumps({
        "defaults": {"every": "1h", "per_host": 32, "concurrency": 32},
        "organizations": [{"id": "o", "name": "O", "monitors": monitors}],
    }), "bench.yaml")
    plain_left = plain
    plain_done = plain_cpu = workers_cpu = loop_cpu = loop_waiting = 0.0
    start = time.perf_counter()
    own_cpu = 0.0
    thread_times = (0.0, 0.0)
    plain_recorded = asyncio.Event()

    def on_check(report: CheckReport) -> None:  # called on the event loop's thread
        nonlocal plain_left, plain_done, plain_cpu, workers_cpu, loop_cpu, loop_waiting
        if report.monitor_id.startswith("p"):
            plain_left -= 1
            plain_done = time.perf_counter() - start
            plain_cpu = _own_cpu() - own_cpu
            if not plain_left:
                workers_cpu = _children_cpu()
                on_cpu, waiting = _thread_times()
                loop_cpu, loop_waiting = on_cpu - thread_times[0], waiting - thread_times[1]
                plain_recorded.set()

    async def cycle(store: Store, chosen: list[Monitor]) -> dict[str, int]:
        running = asyncio.ensure_future(run_cycle(config, store, chosen, on_check=on_check))
        if until_plain:
            await plain_recorded.wait()
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            return {}
        return dict((await running).counts)

    with Store(directory / f"{plain}-{rendered}.db") as store:
        store.sync_monitors(config.organizations)
        chosen = select_monitors(config, store, run_all=True)
        cpu = cpu_seconds()
        own_cpu, thread_times = _own_cpu(), _thread_times()
        start = time.perf_counter()
        outcomes = asyncio.run(cycle(store, chosen))
        wall = time.perf_counter() - start
        cpu = cpu_seconds() - cpu
    return Result(variant, wall, cpu, plain_done, outcomes, plain_cpu, workers_cpu, loop_cpu,
                  loop_waiting)


def run_one(base: str, plain: int, rendered: int, variant: str, until_plain: bool) -> Result:
    """One measurement in a new process, its memory sampled from here: RSS every 0.2 s,
    PSS every second (cheap enough not to slow the measured run down)."""
    command = [sys.executable, __file__, "--measure", base, "--plain", str(plain),
               "--rendered", str(rendered), "--variant", variant]
    if until_plain:
        command.append("--until-plain")
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak = [0, 0]
    samples = 0
    while child.poll() is None:
        rss, pss = tree_memory(child.pid, with_pss=samples % 5 == 0)
        peak = [max(peak[0], rss), max(peak[1], pss)]
        samples += 1
        time.sleep(0.2)
    out, _ = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"measurement failed ({child.returncode}): {command}")
    result = Result(**json.loads(out.strip().splitlines()[-1]))
    result.peak_rss, result.peak_pss = peak
    return result


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plain", type=int, default=1000)
    parser.add_argument("--rendered", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3, help="of each variant, interleaved")
    parser.add_argument("--until-plain", action="store_true",
                        help="stop each cycle once its last plain page is recorded; with "
                             "--rendered 0, both variants are the same plain run (A/A)")
    parser.add_argument("--measure", metavar="BASE", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="plain", help=argparse.SUPPRESS)
    parser.add_argument("--serve", metavar="PORT_FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve))
        return 0
    if args.measure:
        with tempfile.TemporaryDirectory(prefix="govwatch-render-bench-") as tmp:
            result = measure(args.measure, args.plain, args.rendered, Path(tmp), args.variant,
                             args.until_plain)
        print(json.dumps(asdict(result)))
        return 0
    with tempfile.TemporaryDirectory(prefix="govwatch-render-site-") as tmp:
        port_file = Path(tmp) / "base"
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file)])
        try:
            for _ in range(200):
                if port_file.exists() and port_file.read_text():
                    break
                time.sleep(0.05)
            base = port_file.read_text()
            results: list[Result] = []
            for run in range(args.runs):
                # Interleaved, the order alternating: a slow spell of the shared machine
                # falls on both variants.
                other = ("mixed", args.rendered) if args.rendered else ("again", 0)
                order = [("plain", 0), other] if run % 2 == 0 else [other, ("plain", 0)]
                for variant, rendered in order:
                    result = run_one(base, args.plain, rendered, variant, args.until_plain)
                    results.append(result)
                    print(f"run {run + 1} {result.variant}: {json.dumps(asdict(result))}",
                          flush=True)
        finally:
            server.terminate()
            server.wait()
    report(results, args.plain, args.rendered, args.until_plain)
    return 0


def report(results: list[Result], plain: int, rendered: int, until_plain: bool) -> None:
    mib = 1024 * 1024
    other = "mixed" if rendered else "again"
    variants = {name: [r for r in results if r.variant == name] for name in ("plain", other)}
    print("\nmedian (min-max) of", len(variants["plain"]), "runs each",
          "(each cycle stopped once its plain pages were recorded)" if until_plain else "")
    print("| run | pages | wall s | CPU s | plain pages done s | their CPU s | peak RSS MiB "
          "| peak PSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for name, runs in variants.items():
        if not runs:
            continue
        pages = f"{plain} + {rendered} rendered" if name == "mixed" else f"{plain}"
        print(f"| {name} | {pages} | {spread([r.wall for r in runs])} | "
              f"{spread([r.cpu for r in runs])} | {spread([r.plain_done for r in runs])} | "
              f"{spread([r.plain_cpu for r in runs])} | "
              f"{spread([r.peak_rss / mib for r in runs])} | "
              f"{spread([r.peak_pss / mib for r in runs])} |")
    # Each run measured the two variants back to back: compared within a run.
    pairs = list(zip(variants["plain"], variants[other], strict=False))
    if not pairs:
        return
    if rendered and not until_plain:
        wall = [(m.wall - p.wall) / rendered for p, m in pairs]
        cpu = [(m.cpu - p.cpu) / rendered for p, m in pairs]
        print(f"per rendered page (paired runs): wall {spread(wall)} s, CPU {spread(cpu)} s")
    print(f"\n{other} against plain, paired: plain pages done "
          f"{spread([(m.plain_done / p.plain_done - 1) * 100 for p, m in pairs])} % "
          f"(later in {sum(m.plain_done > p.plain_done for p, m in pairs)} of {len(pairs)}); "
          f"their CPU {spread([(m.plain_cpu / p.plain_cpu - 1) * 100 for p, m in pairs])} %; "
          f"the loop on a core {spread([(m.loop_cpu / p.loop_cpu - 1) * 100 for p, m in pairs])}"
          f" %, waiting for one {spread([m.loop_waiting - p.loop_waiting for p, m in pairs])} s,"
          f" idle {spread([_idle(m) - _idle(p) for p, m in pairs])} s")
    print("\nby the last plain page, s: the event loop's thread on a core, waiting for one, "
          "neither (idle); the workers' CPU")
    print("| run | variant | plain pages done | loop on a core | loop waiting for a core "
          "| loop idle | workers' CPU |")
    print("|---|---|---|---|---|---|---|")
    for run, pair in enumerate(pairs, 1):
        for r in pair:
            print(f"| {run} | {r.variant} | {r.plain_done:.2f} | {r.loop_cpu:.2f} | "
                  f"{r.loop_waiting:.2f} | {_idle(r):.2f} | {r.workers_cpu:.2f} |")
    print("outcomes:", {name: runs[0].outcomes for name, runs in variants.items() if runs})


def _idle(result: Result) -> float:
    return result.plain_done - result.loop_cpu - result.loop_waiting


if __name__ == "__main__":
    sys.exit(main())
