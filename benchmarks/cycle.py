"""Performance floor of govwatch's core loop against a local multi-host site.

    .venv/bin/python benchmarks/cycle.py [--monitors 1000 --hosts 20 --latency-ms 50]

Starts benchmarks/localsite.py in a subprocess (every host on its own 127.0.0.1 port, fixed
latency per response, ETag/Last-Modified support, server-side counters), then for each
transport variant runs, on a fresh database and fresh site content: cycle 1 (all new),
cycle 2 (nothing changed: all 304) and cycle 3 (a share of sources bumped by the site).
Prints one table, the floors with PASS/FAIL and a per-stage CPU breakdown, and writes the
same as Markdown to benchmarks/results/cycle-<date>.md. Exit status 1 if a floor fails
for the default (aiohttp) transport.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import platform
import pstats
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import wraps
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
from localsite import feed_path, layout, page_path

from pipeline import stages
from pipeline.config import Config, parse_config
from pipeline.cycle import run_cycle, select_monitors
from pipeline.pool import worker_count
from storage.blobs import BlobCodec
from storage.db import Store
from storage.records import CONFIRM, OUTCOMES

HERE = Path(__file__).resolve().parent
FIRST_S, UNCHANGED_S, UNCHANGED_BYTES = 5.0, 3.0, 0.05
STAGES = ("sync config", "select", "state read", "extract page", "extract feed", "compare",
          "compress", "sqlite write", "fetch+loop (rest)")

# A cycle's outcomes per monitor: confirming copies show in the site's request count.
CHECK_OUTCOMES = tuple(o for o in OUTCOMES if o != CONFIRM)


@dataclass
class Row:
    variant: str
    cycle: str
    wall: float
    cpu: float
    worker_cpu: float  # govwatch's extraction worker processes (reaped children)
    server_cpu: float
    other_cpu: float  # CPU used meanwhile by every other process on the machine
    requests: int
    bytes: int
    outcomes: Counter[str]
    rss_mb: float
    db_mb: float
    stages: dict[str, float]  # CPU ms per monitor, by stage
    blocked_ms: float  # wall ms per monitor spent in the synchronous stages
    verdict: str = ""
    notes: list[str] = field(default_factory=list)


class StageClock:
    """Wraps the synchronous stages of a check with timers (exclusive time per stage).

    Every wrapped call runs without awaiting, so one stack is enough even in asyncio.
    A stage called inside another one is counted in its caller, except ``separate`` ones.
    """

    def __init__(self) -> None:
        self.totals: defaultdict[str, float] = defaultdict(float)  # thread CPU seconds
        self.walls: defaultdict[str, float] = defaultdict(float)  # wall: the loop is blocked
        self._stack: list[tuple[float, float]] = []

    def wrap(self, owner: Any, attr: str, name: Callable[..., str] | str,
             separate: bool = False) -> None:
        original = getattr(owner, attr)

        @wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._stack and not separate:
                return original(*args, **kwargs)
            self._stack.append((0.0, 0.0))
            cpu, wall = time.thread_time(), time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
                inner_cpu, inner_wall = self._stack.pop()
                label = name(*args) if callable(name) else name
                self.totals[label] += cpu - inner_cpu
                self.walls[label] += wall - inner_wall
                if self._stack:
                    outer_cpu, outer_wall = self._stack.pop()
                    self._stack.append((outer_cpu + cpu, outer_wall + wall))

        setattr(owner, attr, timed)

    def install(self) -> None:
        self.wrap(stages, "extract", lambda monitor, _fetched: f"extract {monitor.kind}")
        self.wrap(stages, "compare", "compare")
        self.wrap(Store, "monitor_state", "state read")
        self.wrap(Store, "load_content", "state read")
        self.wrap(Store, "sync_monitors", "sync config")
        self.wrap(Store, "record", "sqlite write")
        self.wrap(BlobCodec, "compress", "compress", separate=True)


def build_config(ports: list[int], plan: list[tuple[int, int]], db: Path,
                 workers: int | None) -> Config:
    lines = [f"database: {db}", "defaults:", "  per_host: 2", "organizations:"]
    if workers is not None:  # unset: govwatch picks (one per core for large cycles)
        lines.insert(2, f"  workers: {workers}")
    for host, (pages, feeds) in enumerate(plan):
        lines += [f"  - id: office{host:02d}", f"    name: National AI Office {host:02d}",
                  f"    homepage: http://127.0.0.1:{ports[host]}/", "    monitors:"]
        sources = [("page", page_path(i)) for i in range(pages)]
        sources += [("feed", feed_path(i)) for i in range(feeds)]
        for kind, path in sources:
            lines += [f"      - id: o{host:02d}-{kind}-{path.rsplit('-', 1)[1].split('.')[0]}",
                      f"        kind: {kind}", f"        url: http://127.0.0.1:{ports[host]}{path}"]
    return parse_config("\n".join(lines) + "\n", "benchmark.yaml")


def start_site(args: argparse.Namespace) -> tuple[subprocess.Popen[str], list[int]]:
    command = [sys.executable, str(HERE / "localsite.py"), "--monitors", str(args.monitors),
               "--hosts", str(args.hosts), "--feed-share", str(args.feed_share),
               "--latency-ms", str(args.latency_ms), "--lifetime", str(args.timeout + 60),
               "--etags", args.etags, "--edits", args.edits,
               *(["--noise"] if args.noise else [])]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
        if not sel.select(timeout=60) or proc.stdout is None:
            proc.kill()
            raise RuntimeError("local site did not start within 60 s")
        line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        raise RuntimeError(f"local site failed to start: {line!r}")
    return proc, httpx.Response(200, content=line[6:]).json()["ports"]


def measure(args: argparse.Namespace, variant: str, name: str, config: Config, store: Store,
            control: httpx.Client, transport: Callable[[], httpx.AsyncBaseTransport | None],
            deadline: float) -> tuple[Row, dict[str, str]]:
    STAGE_CLOCK.totals.clear()
    STAGE_CLOCK.walls.clear()
    gc.collect()
    before = control.get("/_control/stats").json()
    busy0, kids0 = busy_seconds(), children_cpu()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    profiler = cProfile.Profile() if args.profile and variant.startswith("aiohttp") else None
    if profiler:
        profiler.enable()
    monitors = select_monitors(config, store, run_all=True)
    STAGE_CLOCK.totals["select"] += time.process_time() - cpu0
    report = asyncio.run(asyncio.wait_for(
        run_cycle(config, store, monitors, transport=transport()),
        timeout=max(1.0, deadline - time.monotonic())))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    busy, kids = busy_seconds() - busy0, children_cpu() - kids0
    if profiler:
        profiler.disable()
        out = HERE / "results" / f"profile-{variant.replace('/', '-')}-{name}.tmp"  # git-ignored
        with out.open("w") as handle:
            stats = pstats.Stats(profiler, stream=handle)
            stats.sort_stats("tottime").print_stats(40)
            stats.sort_stats("cumulative").print_stats(60)
    after = control.get("/_control/stats").json()
    db_size = sum(p.stat().st_size for p in store.path.parent.glob(store.path.name + "*"))
    n = max(1, len(monitors))
    spent = {k: v * 1000 / n for k, v in sorted(STAGE_CLOCK.totals.items())}
    spent["fetch+loop (rest)"] = cpu * 1000 / n - sum(spent.values())
    errors = Counter((c.error or "")[:80] for c in report.errors)
    site_cpu = after["cpu_s"] - before["cpu_s"]
    row = Row(variant, name, wall, cpu, kids, site_cpu, max(0.0, busy - cpu - kids - site_cpu),
              after["requests"] - before["requests"],
              (after["body"] + after["headers"]) - (before["body"] + before["headers"]),
              report.counts, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              db_size / 1e6, spent, sum(STAGE_CLOCK.walls.values()) * 1000 / n,
              notes=[f"{k} x{v}" for k, v in errors.most_common(3)])
    return row, {c.monitor_id: c.outcome for c in report.checks}


STAGE_CLOCK = StageClock()


def children_cpu() -> float:
    """CPU of reaped child processes: govwatch's worker pool is shut down in each cycle."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def busy_seconds() -> float:
    """CPU seconds all processes of the machine have used since boot (from /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_variant(args: argparse.Namespace, variant: str, ports: list[int],
                control: httpx.Client, deadline: float) -> list[Row]:
    kind, _, workers = variant.partition("/w")  # "aiohttp/w0": no extraction workers

    def transport() -> httpx.AsyncBaseTransport | None:
        if kind == "aiohttp":
            return None  # build_client's default: AiohttpTransport
        limits = httpx.Limits(max_connections=config.defaults.concurrency,
                              max_keepalive_connections=config.defaults.concurrency)
        return httpx.AsyncHTTPTransport(limits=limits)

    control.post("/_control/reset").raise_for_status()
    plan = layout(args.monitors, args.hosts, args.feed_share)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="govwatch-bench-") as tmp:
        config = build_config(ports, plan, Path(tmp) / "bench.db",
                              int(workers) if workers else None)
        url_to_id = {m.url: m.id for _org, m in config.monitors()}
        with Store(config.database) as store:
            names = ["1 all new", "2 unchanged"]
            if args.change_share:
                names += [f"{3 + n} changed" for n in range(args.revisions)]
            for name in names:
                truth: set[str] = set()
                if name[0] >= "3":
                    share = f"/_control/bump?share={args.change_share}&seed=42"
                    truth = {url_to_id[u] for u in control.post(share).json()["urls"]}
                row, outcomes = measure(args, variant, name.split()[0], config, store, control,
                                        transport, deadline)
                row.cycle = name
                judge(row, rows[0] if rows else None, truth, outcomes)
                rows.append(row)
            if args.keep_db:
                store.db.execute(f"VACUUM INTO '{args.keep_db}-{variant.replace('/', '-')}'")
    return rows


def judge(row: Row, first: Row | None, truth: set[str], outcomes: dict[str, str]) -> None:
    c, total, checks = row.outcomes, sum(row.outcomes.values()), []
    if first is None:
        checks = [(f"wall < {FIRST_S:g} s", row.wall < FIRST_S),
                  ("all new", c["new"] == total)]
    elif not truth:
        share = row.bytes / max(1, first.bytes)
        checks = [(f"wall < {UNCHANGED_S:g} s", row.wall < UNCHANGED_S),
                  (f"bytes {share:.2%} < {UNCHANGED_BYTES:.0%}", share < UNCHANGED_BYTES),
                  ("all not-modified", c["not-modified"] == total)]
    else:
        changed = {m for m, o in outcomes.items() if o == "changed"}
        checks = [(f"changes {len(changed)} = truth {len(truth)}", changed == truth),
                  ("others not-modified", c["not-modified"] == total - len(truth))]
    row.verdict = "PASS" if all(ok for _, ok in checks) else "FAIL"
    row.notes = [f"{'ok' if ok else 'NO'}: {text}" for text, ok in checks] + row.notes


def table(rows: list[Row], markdown: bool) -> str:
    head = ["variant", "cycle", "wall s", "CPU s", "worker CPU s", "site CPU s", "other CPU s",
            "requests",
            "bytes", "/".join(CHECK_OUTCOMES), "peak RSS MB", "DB MB", "verdict"]
    body = [[r.variant, r.cycle, f"{r.wall:.2f}", f"{r.cpu:.2f}", f"{r.worker_cpu:.2f}",
             f"{r.server_cpu:.2f}",
             f"{r.other_cpu:.2f}", str(r.requests), f"{r.bytes:,}",
             "/".join(str(r.outcomes[o]) for o in CHECK_OUTCOMES),
             f"{r.rss_mb:.0f}", f"{r.db_mb:.1f}", f"{r.verdict} ({'; '.join(r.notes)})"]
            for r in rows]
    stage_names = [k for k in STAGES if any(k in r.stages for r in rows)]
    stage_head = ["variant", "cycle", *stage_names, "total", "sync stages wall"]
    stage_body = [[r.variant, r.cycle, *(f"{r.stages.get(k, 0):.2f}" for k in stage_names),
                   f"{sum(r.stages.values()):.2f}", f"{r.blocked_ms:.2f}"] for r in rows]
    return render(head, body, markdown) + "\n\nCPU ms per monitor, by stage:\n\n" + render(
        stage_head, stage_body, markdown)


def render(head: list[str], body: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = [head, ["---"] * len(head), *body]
        return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
                     for cells in [head, *body])


def machine() -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines()
                  if ln.startswith("model name")), platform.processor() or "?")
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in
                         ("httpx", "aiohttp", "httpx-aiohttp", "selectolax", "feedparser",
                          "zstandard", "sqlite-utils"))
    git = ["git", "-C", str(HERE.parent)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, timeout=10).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain", "--", ".", ":!benchmarks"],
                           capture_output=True, text=True, timeout=10).stdout.splitlines()
    return [f"code: commit {head or '?'}, {len(dirty)} uncommitted change(s) outside benchmarks/",
            f"nproc: {len(os.sched_getaffinity(0))}", f"CPU: {model}",
            f"Python: {platform.python_version()} ({platform.platform()})",
            f"packages: {versions}", f"load average at start: {os.getloadavg()}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--feed-share", type=float, default=0.2)
    parser.add_argument("--change-share", type=float, default=0.1)
    parser.add_argument("--variants", default="aiohttp,httpx",
                        help="comma-separated: aiohttp, httpx; suffix /wN sets defaults.workers")
    parser.add_argument("--timeout", type=int, default=300, help="overall limit in seconds")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the aiohttp cycles into benchmarks/results/*.tmp")
    parser.add_argument("--revisions", type=int, default=1,
                        help="how many cycles after a bump of --change-share (cycle 3 on)")
    parser.add_argument("--edits", choices=("rewrite", "append"), default="rewrite",
                        help="a bump rewrites a page (default) or appends one update")
    parser.add_argument("--noise", action="store_true",
                        help="the site stamps every page's footer with its request time")
    parser.add_argument("--etags", choices=("on", "off"), default="on",
                        help="whether the site sends and honours validators")
    parser.add_argument("--keep-db", metavar="PATH",
                        help="copy each variant's database to PATH-<variant> at the end")
    parser.add_argument("--no-write", action="store_true", help="do not write the .md file")
    args = parser.parse_args()

    def expire(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"benchmark exceeded --timeout {args.timeout}s")

    signal.signal(signal.SIGALRM, expire)
    signal.alarm(args.timeout + 30)  # the backstop; each cycle also has its own deadline
    deadline = time.monotonic() + args.timeout
    (HERE / "results").mkdir(exist_ok=True)
    about = machine()
    STAGE_CLOCK.install()
    site, ports = start_site(args)
    rows: list[Row] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{ports[0]}", trust_env=False,
                          timeout=30) as control:
            for variant in args.variants.split(","):
                rows += run_variant(args, variant, ports, control, deadline)
    finally:
        signal.alarm(0)
        site.terminate()
        try:
            site.wait(timeout=10)
        except subprocess.TimeoutExpired:
            site.kill()
            site.wait(timeout=10)
    default = [r for r in rows if r.variant == "aiohttp"]
    floors = [f"{r.variant} cycle {r.cycle}: {r.verdict}" for r in default]
    command = " ".join([".venv/bin/python benchmarks/cycle.py", *sys.argv[1:]])
    setup = (f"{args.monitors} monitors ({args.feed_share:.0%} RSS feeds, the rest HTML pages) "
             f"on {args.hosts} hosts, {args.latency_ms:g} ms latency per response, per_host 2, "
             "concurrency 32, workers unset (govwatch picks "
             f"{worker_count(args.monitors, None)} here); the site runs in a separate process "
             "on the same machine. Both transports run the cycle the same way: one event "
             "loop in govwatch's process fetches every source and records every check, while "
             "a pool of worker processes forked from it (pipeline/pool.py) extracts, compares "
             "and compresses the bodies, so the stage table shows what the main process does "
             "(sync, select, state reads, the SQLite writes and their deltas, the fetch, the "
             "loop) and worker CPU s is the pool's. The aiohttp rows use govwatch's default "
             "transport (httpx over aiohttp), the httpx rows httpx's own. CPU s is govwatch's "
             "process CPU "
             "(time.process_time), worker CPU s that of the processes it started and reaped, "
             "site CPU s the site process's, other CPU s what every other process used "
             "meanwhile (noise from a shared machine); bytes are response bodies plus headers, "
             "counted by the site.")
    print(f"\n{setup}\n\n{table(rows, markdown=False)}\n\nFloors (default transport):")
    print("\n".join("  " + f for f in floors))
    if not args.no_write:
        out = HERE / "results" / f"cycle-{date.today().isoformat()}.md"
        out.write_text(
            f"# govwatch cycle benchmark, {date.today().isoformat()}\n\n`{command}`\n\n"
            f"{setup}\n\n{table(rows, markdown=True)}\n\n## Floors (default transport)\n\n"
            + "\n".join(f"- {f}" for f in floors) + "\n\n## Machine\n\n"
            + "\n".join(f"- {m}" for m in about) + "\n")
        print(f"\nwritten: {out.relative_to(HERE.parent)}")
    return 0 if default and all(r.verdict == "PASS" for r in default) else 1


if __name__ == "__main__":
    sys.exit(main())
