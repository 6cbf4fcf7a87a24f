"""The peer benchmark's report: the table, the floors' verdicts and the machine."""

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


