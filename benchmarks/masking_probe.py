"""Probe (not shipped): real edits placed next to, or inside, what a monitor learned
changes by itself. Each scenario is a random page (random words, no vocabulary the
engine could know) with noise of one kind, checked a few times as the pipeline checks
it (a confirming copy at every difference, slow noise noted and promoted), then a real
edit placed adversarially near the noise. The edit must be announced (a Change, not
quiet) and shown in the diff.

Run: PYTHONPATH=. .venv/bin/python benchmarks/masking_probe.py [--seeds N] [--verbose]
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchmarks.masking_facts
import benchmarks.masking_feeds
import benchmarks.masking_lines  # noqa: F401 - each module registers its scenarios
from benchmarks.masking_world import COPY_PAUSE, SCENARIOS, Life, Scenario
from core.records import Change, Volatile

# ---------------------------------------------------------------- running


@dataclass
class Result:
    name: str
    announced: bool
    shown: bool
    documented: str
    change: Change | None
    learned: frozenset[Volatile]
    #: Announced before the edit check's own confirming copy was learned from.
    before_copy: bool


def run(make: Callable[[random.Random], Scenario], seed: int) -> Result:
    rng = random.Random(seed)
    sc = make(rng)
    life = Life(sc.kind)
    for n, hours in enumerate(sc.before):
        at = sc.at + timedelta(hours=hours)
        life.check(sc.render(random.Random(seed * 100 + 2 * n), at, False),
                   sc.render(random.Random(seed * 100 + 2 * n + 1), at + COPY_PAUSE, False), at)
    change = life.check(sc.render(random.Random(seed * 100 + 90), sc.at, True),
                        sc.render(random.Random(seed * 100 + 91), sc.at + COPY_PAUSE, True),
                        sc.at)
    announced = change is not None and change.quiet is None
    shown = change is not None and sc.marker in f"{change.diff}\n{change.summary}\n{change.detail}"
    early = life.before_copy is not None and life.before_copy.quiet is None
    return Result(sc.name, announced, shown, sc.documented, change, life.noise().learned,
                  early)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--only", default="")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    print(f"{'scenario':<42} {'announced':>9} {'shown':>6}  note")
    for key, make in SCENARIOS.items():
        if args.only and args.only not in key:
            continue
        results = [run(make, seed) for seed in range(args.seeds)]
        ok = sum(r.announced for r in results)
        shown = sum(r.announced and r.shown for r in results)
        early = sum(r.before_copy and not r.announced for r in results)
        note = f"(documented: {results[0].documented})" if results[0].documented else ""
        if early:
            note += f" {early} masked only by the edit check's own copy"
        print(f"{key:<42} {ok:>4}/{len(results):<4} {shown:>3}/{len(results):<3} {note}")
        if args.verbose:
            for seed, r in enumerate(results):
                if not (r.announced and r.shown):
                    print(f"  seed {seed}: change={r.change and r.change.summary!r} "
                          f"quiet={r.change and r.change.quiet}")
                    for fact in sorted(r.learned):
                        print(f"    {fact}")
                    break


if __name__ == "__main__":
    main()
