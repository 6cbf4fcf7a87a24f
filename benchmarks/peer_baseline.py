"""benchmarks/peers.py's ``--baseline``: govwatch from another checkout, in the same run.

The ``govwatch@base`` tool runs another checkout's ``govwatch`` (its own venv and code) on
the ``govwatch`` row's settings, right next to it in every cycle, and each figure gets its
ratio govwatch / govwatch@base.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

from peer_report import Row, Verdict, finder, rounds_of
from peer_runners import TOOLS, Govwatch

HERE = Path(__file__).resolve().parent
BASELINE = "govwatch@base"


def baseline_tool(checkout: Path) -> type[Govwatch]:
    """``govwatch`` as another checkout runs it: that checkout's venv (``.venv``, with the
    code installed from it in editable mode) and so its code, on the same settings."""
    script = checkout / ".venv" / "bin" / "govwatch"

    class GovwatchBaseline(Govwatch):
        name = BASELINE
        settings = (f"the `govwatch` row's settings, run by `{script}`: the baseline "
                    "checkout's interpreter and code (`--baseline`)")

        def executable(self) -> Path:
            return script

    return GovwatchBaseline


def checkout_code(python: Path) -> Path:
    """The directory an interpreter imports govwatch's ``pipeline`` package from."""
    out = subprocess.run([str(python), "-c", "import pipeline; print(pipeline.__file__)"],
                         check=True, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONSAFEPATH": "1"}, cwd="/").stdout
    return Path(out.strip()).resolve().parent.parent


def register(args: argparse.Namespace) -> list[str]:
    """Registers the ``govwatch@base`` tool and returns what the machine section says of it.

    Its row runs next to ``govwatch`` in every round (and in the storage phase)."""
    current = checkout_code(Path(sys.executable))
    if current != HERE.parent:
        raise SystemExit(f"{sys.executable} imports govwatch from {current}, not from the "
                         f"checkout of this benchmark, {HERE.parent}")
    checkout = Path(args.baseline).resolve()
    python = checkout / ".venv" / "bin" / "python"
    if not (checkout / ".venv" / "bin" / "govwatch").exists():
        raise SystemExit(f"--baseline: no {checkout}/.venv/bin/govwatch (make its venv first)")
    code = checkout_code(python)
    if code != checkout:
        raise SystemExit(f"--baseline: {python} imports govwatch from {code}, not {checkout}")
    TOOLS[BASELINE] = baseline_tool(checkout)
    for option in ("tools", "round_tools"):
        names = getattr(args, option).split(",")
        if "govwatch" in names and BASELINE not in names:
            names.insert(names.index("govwatch") + 1, BASELINE)
        setattr(args, option, ",".join(names))
    head = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, timeout=10).stdout.strip()
    return [f"baseline (govwatch@base): commit {head or '?'} in {checkout}, run by {python}"]


def round_order(names: list[str], round_: int) -> list[str]:
    """Even rounds run the baseline before govwatch, so each goes first as often."""
    if round_ % 2 or "govwatch" not in names or BASELINE not in names:
        return names
    i, j = names.index("govwatch"), names.index(BASELINE)
    swapped = list(names)
    swapped[i], swapped[j] = names[j], names[i]
    return swapped


def baseline_verdicts(rows: list[Row], revisions: int, limit: float, memory_limit: float,
                      current: str = "govwatch", baseline: str = "govwatch@base",
                      ) -> list[Verdict]:
    """Each figure of ``current`` against ``baseline`` (another checkout, same settings).

    A timed cycle's wall time and a round's peak memory are judged by the median of the
    rounds' ratios (the two ran seconds apart in each round); CPU time and the noise
    cycles are given for reference. The storage phase is one run: one ratio each."""
    get, rounds = finder(rows), rounds_of(rows)
    results: list[Verdict] = []

    def paired(what: str, pairs: list[tuple[float, float]], bound: float | None,
               unit: str, broken: bool) -> None:
        if not pairs:
            return
        ratios = [cur / base if base else float("inf") for cur, base in pairs]
        median = statistics.median(ratios)
        each = ", ".join(f"{cur:.{unit}}/{base:.{unit}} = {r:.2f}"
                         for (cur, base), r in zip(pairs, ratios, strict=True))
        bound_text = f" <= {bound:.2f}" if bound is not None else ""
        results.append((f"{what}: median of {len(pairs)} round(s) {median:.2f}{bound_text} "
                        f"(rounds: {each})",
                        None if bound is None else median <= bound and not broken))

    for prefix in ("1", "2", "3", "4"):
        both = [(c, b) for n in rounds for c, b in [(get(current, prefix, n),
                                                     get(baseline, prefix, n))] if c and b]
        if not both:
            continue
        name = both[0][0].cycle
        judged = prefix in ("1", "2")  # the cycles of the floors against urlwatch
        broken = any(c.note or b.note for c, b in both)
        paired(f"cycle {name}, wall", [(c.wall, b.wall) for c, b in both],
               limit if judged else None, "2f", broken)
        paired(f"cycle {name}, CPU", [(c.cpu, b.cpu) for c, b in both], None, "2f", broken)
    peaks = [(max(r.rss_mb for r in rows if r.tool == current and r.round == n),
              max(r.rss_mb for r in rows if r.tool == baseline and r.round == n))
             for n in rounds if get(current, "", n) and get(baseline, "", n)]
    paired("peak memory MB of a round's cycles", peaks, memory_limit, "0f", False)
    cur, base = (get(tool, f"{revisions} rev", 0) for tool in (current, baseline))
    if cur and base:
        for what, a, b, bound, unit in (
                ("storage phase: peak memory MB", cur.rss_mb, base.rss_mb, memory_limit, "0f"),
                (f"store MB after {revisions} revisions", cur.store_mb, base.store_mb, limit,
                 "1f"),
                (f"wall s of {revisions} revisions", cur.wall, base.wall, None, "2f")):
            ratio = a / b if b else float("inf")
            bound_text = f" <= {bound:.2f}" if bound is not None else ""
            results.append((f"{what}: {a:.{unit}} / {b:.{unit}} = {ratio:.2f}{bound_text}",
                            None if bound is None else ratio <= bound))
    return results
