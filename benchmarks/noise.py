"""The noise world of issue 17, judged: events by kind, detected, missed, false alerts by
noise kind, confirming fetches per monitor per difference, and the share of requests that
were confirming fetches in the steady state.

    .venv/bin/python -m benchmarks.noise [--orgs 25] [--revisions 6] [--steady 2]
        [--seed 17] [--more-seeds 18,19] [--kinds world|unseen|uncertain|slow|fresh] [--heavy]
        [--write]

``--kinds`` serves other page noise than the world's own (``benchmarks/unseen_noise.py``
and ``benchmarks/fresh_noise.py``: forms written after the code); ``--heavy`` pads every
page with a heavy template.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.unseen_noise import KIND_SETS, HeavyWorld
from tests.integration.noise_judge import Verdict, drive, noise_of
from tests.integration.noise_world import HTML_NOISE, World


def table(world: World, verdicts: list[Verdict], mode: str) -> list[str]:
    events, detected, missed = Counter[str](), Counter[str](), Counter[str]()
    false_by_noise = Counter[str]()
    examples: list[str] = []
    for v in verdicts:
        for ev in v.events:
            events[ev.kind] += 1
        for ev in v.detected:
            detected[ev.kind] += 1
        for ev in v.missed:
            missed[ev.kind] += 1
            examples.append(f"missed r{v.revision} {ev.monitor} {ev.kind}: {ev.marker!r}")
        for monitor, change_id, diff in v.false_alerts:
            for kind in noise_of(world, monitor, diff):
                false_by_noise[kind] += 1
            if len(examples) < 12:
                examples.append(f"false r{v.revision} {monitor} change #{change_id}: "
                                + diff[:160].replace("\n", " | "))
    templates = Counter[str]()
    for v in verdicts:
        templates.update(v.template_announcements)
    steady = [v for v in verdicts if v.revision < 0]
    steady_checks = sum(v.checks for v in steady)
    steady_confirms = sum(sum(v.confirms.values()) for v in steady)
    most = max((n for v in verdicts for n in v.confirms.values()), default=0)
    out = [f"## {mode}", "", "| event kind | events | detected | missed |", "|---|---|---|---|"]
    out += [f"| {k} | {events[k]} | {detected[k]} | {missed[k]} |" for k in sorted(events)]
    out += ["", "| noise kind (? = on the page, not seen in the diff) | false alerts |",
            "|---|---|"]
    out += [f"| {k} | {n} |" for k, n in false_by_noise.most_common()]
    out += ["", f"- false alerts: {sum(len(v.false_alerts) for v in verdicts)}",
            f"- template announcements per organization: max "
            f"{max(templates.values(), default=0)} ({sum(templates.values())} in all)",
            f"- confirming fetches per monitor per run (a run has one difference at most "
            f"per monitor): max {most}",
            f"- steady state: {steady_confirms} confirming of {steady_checks} recorded "
            f"fetches ({100 * steady_confirms / max(steady_checks, 1):.1f} %)", ""]
    return out + [f"    {e}" for e in examples] + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orgs", type=int, default=25)
    parser.add_argument("--revisions", type=int, default=6)
    parser.add_argument("--steady", type=int, default=2)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--more-seeds", default="",
                        help="comma-separated seeds also run, summed up in one table")
    parser.add_argument("--kinds", choices=["world", *KIND_SETS], default="world",
                        help="the page noise served: the world's own, or forms it lacks")
    parser.add_argument("--heavy", action="store_true",
                        help="pad every page with a heavy template (about 60 kB)")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    page_noise = HTML_NOISE if args.kinds == "world" else KIND_SETS[args.kinds]
    world_class = HeavyWorld if args.heavy else World
    seeds = [args.seed, *(int(s) for s in args.more_seeds.split(",") if s)]
    lines = [f"# Noise world: {args.orgs} organizations, {args.revisions} revisions, "
             f"{args.steady} steady runs (seed {args.seed}), page noise: {args.kinds}"
             + (", heavy templates" if args.heavy else ""), ""]
    summary = ["## Every seed", "", "| seed | validators | events | missed | false alerts "
               "| steady confirming share |", "|---|---|---|---|---|---|"]
    for seed in seeds:
        for etags in (False, True):
            mode = "weak ETags" if etags else "no validators"
            world = world_class(seed, args.orgs, etags=etags, page_noise=page_noise)
            with tempfile.TemporaryDirectory() as workdir:
                verdicts = drive(world, Path(workdir), args.revisions, args.steady)
            if seed == args.seed:
                lines += table(world, verdicts, mode)
            steady = [v for v in verdicts if v.revision < 0]
            share = (sum(sum(v.confirms.values()) for v in steady)
                     / max(sum(v.checks for v in steady), 1))
            summary.append(
                f"| {seed} | {mode} | {sum(len(v.events) for v in verdicts)} "
                f"| {sum(len(v.missed) for v in verdicts)} "
                f"| {sum(len(v.false_alerts) for v in verdicts)} | {100 * share:.1f} % |")
    if len(seeds) > 1:
        lines += [*summary, ""]
    print("\n".join(lines))
    if args.write:
        path = Path(__file__).parent / "results" / f"noise-{datetime.now(UTC):%Y-%m-%d}.md"
        path.write_text("\n".join(lines) + "\n")
        print(f"written to {path}")


if __name__ == "__main__":
    main()
