"""The peer benchmark's report: the table, the floors' verdicts, the machine, and the
notes on reading the numbers that the results file carries."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The results file's "Reading these numbers" section.
NOTES = (
    "Each tool runs through its command line, so wall time includes interpreter start, "
    "imports and loading the job list (govwatch: about 0.4 s of interpreter start and "
    "imports, benchmarks/results/startup-2026-11-28.md, and about 0.3 s to read a "
    "1000-monitor config with ruamel's round-trip loader, pure Python, which keeps every "
    "line for the error messages; urlwatch starts in about 0.5 s).",
    "Concurrency differs by design. urlwatch runs 10 threads with no per-host limit; its jobs "
    "are listed host by host, so its 10 requests in flight usually go to one host. webchanges "
    "runs Python's default thread pool (6 threads on 2 cores). govwatch is asynchronous, with "
    "a global and a per-host limit: the `govwatch` rows run at 5 per host (100 in flight over "
    "the 20 hosts), still half of what urlwatch puts on one host; `govwatch-defaults` runs at "
    "its defaults, 2 per host and 32 in all, which are meant for official sites and make the "
    "network alone take 1000 x 50 ms / 32 = 1.56 s a cycle. Both read robots.txt once per "
    "host (the 20 extra requests of a first cycle).",
    "The work per page differs: urlwatch's `html2text` (method `re`) strips tags with regular "
    "expressions; webchanges converts to Markdown with the html2text library; govwatch "
    "extracts text, links and noise regions, compares them, scores the change and keeps every "
    "raw body and extracted version (zstd, successive versions as deltas), with a hash-chained "
    "check row, in one SQLite transaction per check; its full-text index is built by the "
    "first `govwatch search`, not by runs.",
    "The peers run on their defaults, with no filter for the footer stamp: a user would add "
    "one (a `re.sub` filter or an element exclusion) after the first false alerts. govwatch "
    "masks the stamp with its built-in date-stamp filter; this form of stamp "
    "(`Page generated: 2026-11-28 10:00:00.123456 UTC`) is one it recognizes, other forms (a "
    "render time in ms, a random token in the text) are not measured here.",
    "The noise cycle with validators on is clean for every tool by construction: the site "
    "answers 304 to all of them.",
    "webchanges keeps at most 4 snapshots per job (its default `max_snapshots`), so its store "
    "stops growing after 4 revisions; urlwatch keeps every changed version until "
    "`--gc-cache`; govwatch keeps every raw body (no `retention` configured).",
    "Changes are counted from each tool's stdout: govwatch's `CHANGE #...` lines (URL in <>), "
    "the peers' `CHANGED: ...` report lines with the job's URL, each job once; a first cycle "
    "is judged by how many sources each tool reported as new.",
    "Peak memory is the largest sum of PSS (proportional set size: a page shared by n "
    "processes counts 1/n in each) over the tool's processes (govwatch: the main process "
    "and its worker processes, forked from it, which share the libraries), sampled "
    "every 0.2 s, or wait4's maximum RSS if larger and above the benchmark's own peak "
    "(Linux carries the spawner's peak into the child: runs before this rule showed 198 MB "
    "for every tool after a noise cycle). CPU is that of every process the tool "
    "started: its own rusage with the children it reaped, plus whatever it left running "
    "(none here: govwatch's run shuts its worker pool down and reaps it before it exits), "
    "reaped by the benchmark as a child subreaper.",
    "A shared 2-core machine: the site, the tool and other sessions share the cores (see the "
    "load averages), and the same cycle measured twice can differ by tens of percent. So the "
    "timed cycles run in rounds, each on fresh stores after a site reset, and each time "
    "floor is judged by the median of the rounds' govwatch/urlwatch ratios (a round pairs "
    "two runs made seconds apart); every round's figures are in the table.",
    "With `--baseline DIR` the `govwatch@base` rows run another checkout (its own venv and "
    "code) on the `govwatch` row's settings, right next to it in every cycle (which of the "
    "two goes first alternates by round, so a drifting host weighs on both), and the "
    "section against the baseline gives each figure's ratio govwatch / govwatch@base: the "
    "median of the rounds' ratios for the timed cycles and their peak memory, one ratio "
    "for the storage phase.",
)
EDITS = {"append": "adds one dated update to the page's list and leaves the rest as it was",
         "rewrite": "adds one dated update and rewrites the whole body (a worst case)"}


@dataclass
class Row:
    tool: str
    cycle: str
    wall: float
    cpu: float
    rss_mb: float
    requests: int
    bytes: int
    store_mb: float
    truth: int
    detected: int
    false: int
    missed: int
    errors: int
    note: str = ""
    #: Which repetition of the timed cycles (0: the storage phase).
    round: int = 1


def ratio_verdict(
    what: str, floor: float, pairs: list[tuple[Row, Row]]
) -> tuple[str, bool]:
    """A time floor over the rounds: each round's govwatch/urlwatch ratio, judged by
    their median, so that one round slowed by the shared machine does not decide it."""
    ratios = [gov.wall / url.wall for gov, url in pairs]
    median = statistics.median(ratios)
    each = ", ".join(f"{gov.wall:.2f}/{url.wall:.2f} = {r:.2f}"
                     for (gov, url), r in zip(pairs, ratios, strict=True))
    text = (f"{what}: govwatch / urlwatch, median of {len(pairs)} round(s) {median:.2f} <= "
            f"{floor:.2f} (rounds: {each})")
    return text, median <= floor and not any(gov.note for gov, _ in pairs)


Verdict = tuple[str, bool | None]  # what was compared, and PASS, FAIL or None: not judged


def rounds_of(rows: list[Row]) -> list[int]:
    return sorted({r.round for r in rows if r.round})


def finder(rows: list[Row]) -> Callable[[str, str, int], Row | None]:
    def get(tool: str, prefix: str, round_: int) -> Row | None:
        return next((r for r in rows if r.tool == tool and r.cycle.startswith(prefix)
                     and r.round == round_), None)
    return get


def table(rows: list[Row], markdown: bool) -> str:
    head = ["tool", "round", "cycle", "wall s", "CPU s", "peak mem MB", "requests", "bytes",
            "store MB", "truth", "detected", "false", "missed", "errors", "note"]
    body = [[r.tool, str(r.round or "-"), r.cycle, f"{r.wall:.2f}", f"{r.cpu:.2f}",
             f"{r.rss_mb:.0f}", str(r.requests), f"{r.bytes:,}", f"{r.store_mb:.1f}", str(r.truth),
             str(r.detected), str(r.false), str(r.missed), str(r.errors), r.note]
            for r in rows]
    if markdown:
        lines = [head, ["---"] * len(head), *body]
        return "\n".join("| " + " | ".join(c.replace("|", "/") for c in cells) + " |"
                         for cells in lines)
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
                     for cells in [head, *body])


def machine(versions: dict[str, str]) -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines()
                  if ln.startswith("model name")), platform.processor() or "?")
    ours = ", ".join(f"{p} {metadata.version(p)}" for p in
                     ("govwatch", "httpx", "aiohttp", "selectolax", "feedparser", "zstandard",
                      "sqlite-utils"))
    head = subprocess.run(["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, timeout=10).stdout.strip()
    return [f"code: commit {head or '?'}", f"nproc: {len(os.sched_getaffinity(0))}",
            f"CPU: {model}", f"Python: {platform.python_version()} ({platform.platform()})",
            f"govwatch side: {ours}",
            "peers venv: " + ", ".join(f"{k} {v}" for k, v in versions.items())]


