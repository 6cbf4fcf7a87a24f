"""Diff cost on 1 MB pages: govwatch's bounded engine against difflib (urlwatch's and
webchanges' diff), in the same run.

    .venv/bin/python benchmarks/diff.py [--pairs 40] [--size-kb 1024]

Prints a table of p50/p95/max compare time and peak memory per edit pattern, and checks the
floor: p95 of govwatch's diff under 200 ms for 1 MB pages.
"""

from __future__ import annotations

import argparse
import difflib
import random
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitors import MonitorConfig, build_monitor

WORDS = ("artificial intelligence governance principles recommendation member states ethics "
         "assessment framework oversight safety report summit council resolution human rights "
         "digital cooperation capacity data privacy transparency accountability").split()
FLOOR_MS = 200.0


def paragraph(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 40))).capitalize() + "."


def page(rng: random.Random, size: int) -> list[str]:
    blocks: list[str] = []
    total = 0
    n = 0
    while total < size:
        if n % 7 == 0:
            block = f"<li><a href='/en/documents/{n}'>{paragraph(rng)[:80]}</a> 12 May 2026</li>"
        else:
            block = f"<p>{paragraph(rng)}</p>"
        blocks.append(block)
        total += len(block)
        n += 1
    return blocks


def render(blocks: list[str]) -> bytes:
    return ("<html><body><main>" + "\n".join(blocks) + "</main></body></html>").encode()


def edit(blocks: list[str], pattern: str, rng: random.Random) -> list[str]:
    new = list(blocks)
    if pattern == "one new item":
        new.insert(3, "<li><a href='/en/documents/new'>A new report on AI</a> 28 Nov 2026</li>")
    elif pattern == "1% of lines edited":
        for i in rng.sample(range(len(new)), max(1, len(new) // 100)):
            new[i] = f"<p>{paragraph(rng)}</p>"
    elif pattern == "10% of lines edited":
        for i in rng.sample(range(len(new)), max(1, len(new) // 10)):
            new[i] = f"<p>{paragraph(rng)}</p>"
    elif pattern == "full rewrite, shuffled":
        new = [f"<p>{paragraph(rng)}</p>" for _ in new]
        rng.shuffle(new)
    return new


def measure(pattern: str, pairs: int, size: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    monitor = build_monitor(MonitorConfig(id="b", kind="page", url="https://x.org/"), "b")
    ours: list[float] = []
    peers: list[float] = []
    coarse = 0
    peak = 0
    for _ in range(pairs):
        blocks = page(rng, size)
        old_body, new_body = render(blocks), render(edit(blocks, pattern, rng))
        old, new = monitor.extract(old_body), monitor.extract(new_body)
        started = time.perf_counter()
        change = monitor.compare(old, new)
        ours.append((time.perf_counter() - started) * 1000)
        # Memory in a second, traced run: tracing slows allocation and would skew the time.
        tracemalloc.start()
        monitor.compare(old, new)
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        coarse += bool(change and change.detail.get("coarse"))
        started = time.perf_counter()
        list(difflib.unified_diff(old.text.splitlines(), new.text.splitlines(), lineterm=""))
        peers.append((time.perf_counter() - started) * 1000)
    return {
        "p50": statistics.median(ours), "p95": percentile(ours, 95), "max": max(ours),
        "peer_p50": statistics.median(peers), "peer_p95": percentile(peers, 95),
        "peer_max": max(peers), "coarse": coarse, "peak_mb": peak / 1e6,
    }


def percentile(values: list[float], q: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--size-kb", type=int, default=1024)
    args = parser.parse_args()
    size = args.size_kb * 1024
    patterns = ["one new item", "1% of lines edited", "10% of lines edited",
                "full rewrite, shuffled"]
    print(f"compare() on {args.size_kb} KB pages, {args.pairs} pairs per pattern "
          f"(govwatch vs difflib.unified_diff as used by urlwatch/webchanges)")
    header = (f"{'pattern':<24} {'gw p50':>8} {'gw p95':>8} {'gw max':>8} {'coarse':>6} "
              f"{'gw peak MB':>10} {'difflib p50':>11} {'difflib p95':>11} {'difflib max':>11}")
    print(header)
    print("-" * len(header))
    worst = 0.0
    for n, pattern in enumerate(patterns):
        r = measure(pattern, args.pairs, size, seed=n)
        worst = max(worst, r["p95"])
        print(f"{pattern:<24} {r['p50']:>8.1f} {r['p95']:>8.1f} {r['max']:>8.1f} "
              f"{int(r['coarse']):>6} {r['peak_mb']:>10.1f} {r['peer_p50']:>11.1f} "
              f"{r['peer_p95']:>11.1f} {r['peer_max']:>11.1f}")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    verdict = "PASS" if worst < FLOOR_MS else "FAIL"
    print(f"\nworst p95 {worst:.1f} ms (floor {FLOOR_MS:.0f} ms): {verdict}; "
          f"process peak RSS {rss_mb:.0f} MB; times in ms")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
