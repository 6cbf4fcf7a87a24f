"""benchmarks/cycle.py for this checkout and a baseline checkout, in one run, side by side.

    .venv/bin/python benchmarks/versus.py --baseline ../base [--rounds 8 --monitors 1000]

Each side runs its own benchmarks/cycle.py with its own venv (``DIR/.venv/bin/python``,
which must import govwatch from DIR), so each measures its own code with the script made
for it: cycle.py imports govwatch in-process, and the baseline's modules may have other
names. Both scripts must print the same table (the header is checked); their measuring
code should be the same (see ``git diff BASE -- benchmarks/cycle.py``).

Every round runs each variant (``--variants``, one cycle.py run each: a fresh site and
database, cycles 1-3) once per side, the side that goes first alternating by round, so
that a host that drifts weighs on both. While a run lasts, the memory of its process tree
is sampled every 0.2 s: the sum of PSS over govwatch's processes (cycle.py's process and
every worker or shard it started, not the local site). cycle.py's own peak RSS column is
its main process only, which is not comparable when one side fetches in other processes.

Prints every run as it ends, then one table: each figure's median per side and the median
of the rounds' ratios current / baseline, judged against ``--limit`` (wall and CPU of every
process of govwatch) and ``--memory-limit`` (peak PSS of the tree). Exit status 1 if a
judged ratio is above its limit or a run failed. Writes nothing unless given ``--out``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from measure import PeakSampler, process_memory_kb, session_pids, stop_session
from peer_baseline import checkout_code

HERE = Path(__file__).resolve().parent
FORWARDED = ("monitors", "hosts", "latency_ms", "feed_share", "change_share", "timeout")
CYCLES = ("1 all new", "2 unchanged", "3 changed")


@dataclass(frozen=True)
class Side:
    name: str  # "current" or "baseline"
    checkout: Path

    @property
    def python(self) -> Path:
        return self.checkout / ".venv" / "bin" / "python"

    def commit(self) -> str:
        return subprocess.run(["git", "-C", str(self.checkout), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip() or "?"


@dataclass
class Run:
    """One cycle.py run of one variant on one side: its table's rows, by cycle."""

    side: str
    variant: str
    round: int
    cycles: dict[str, dict[str, str]]  # cycle name -> column -> cell
    tree_peak_mb: float
    wall: float  # of the whole cycle.py run, site start included
    problem: str = ""

    def figure(self, cycle: str, name: str) -> float:
        cells = self.cycles[cycle]
        if name == "all CPU s":
            return number(cells["CPU s"]) + number(cells["worker CPU s"])
        return number(cells[name])


@dataclass
class Figure:
    variant: str
    cycle: str
    name: str
    limit: float | None  # None: for reference
    current: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)

    def ratios(self) -> list[float]:
        return [c / b if b else float("inf")
                for c, b in zip(self.current, self.baseline, strict=True)]

    def verdict(self) -> str:
        if not self.current or len(self.current) != len(self.baseline):
            return "n/a"
        if self.limit is None:
            return "ref"
        return "PASS" if statistics.median(self.ratios()) <= self.limit else "FAIL"

    def cells(self) -> list[str]:
        if not self.current or len(self.current) != len(self.baseline):
            return [self.variant, self.cycle, self.name, "-", "-", "-", "-", "n/a"]
        digits = 0 if "MB" in self.name else 2
        return [self.variant, self.cycle, self.name,
                f"{statistics.median(self.current):.{digits}f}",
                f"{statistics.median(self.baseline):.{digits}f}",
                f"{statistics.median(self.ratios()):.3f}",
                "-" if self.limit is None else f"{self.limit:.2f}", self.verdict()]


def number(cell: str) -> float:
    return float(cell.replace(",", ""))


def parse_table(stdout: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """cycle.py's first text table: columns found at the offsets of its header's cells
    (cells are left-justified and separated by two spaces; none holds two spaces)."""
    lines = stdout.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith("variant  cycle  ")), None)
    if start is None:
        raise ValueError("no table in cycle.py's output")
    header = [(m.start(), m.group()) for m in re.finditer(r"\S+(?: \S+)*", lines[start])]
    names = [name for _, name in header]
    rows: dict[str, dict[str, str]] = {}
    for line in lines[start + 1:]:
        if not line.strip():
            break
        bounds = [offset for offset, _ in header] + [len(line)]
        cells = {name: line[bounds[i]:bounds[i + 1]].strip() for i, name in enumerate(names)}
        rows[cells["cycle"]] = cells
    return names, rows


def govwatch_memory_kb(session: int) -> int:
    """PSS of every process in the run's session but the local site's."""
    total = 0
    for pid in session_pids(session):
        try:
            if b"localsite.py" in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
        except OSError:
            continue
        total += process_memory_kb(pid)
    return total


def child_env() -> dict[str, str]:
    """Everything is on 127.0.0.1: no proxies. Bytecode cached as in an installation."""
    env = {k: v for k, v in os.environ.items()
           if "proxy" not in k.lower() and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    return env


def run_once(side: Side, variant: str, round_: int, args: argparse.Namespace) -> tuple[Run, str]:
    command = [str(side.python), str(side.checkout / "benchmarks" / "cycle.py"), "--no-write",
               "--variants", variant]
    for option in FORWARDED:
        command += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=side.checkout, env=child_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    with PeakSampler(lambda: govwatch_memory_kb(proc.pid)) as sampler:
        try:
            stdout, stderr = proc.communicate(timeout=args.timeout + 90)
        except subprocess.TimeoutExpired:
            stop_session(proc.pid)
            stdout, stderr = proc.communicate()
    peak_kb = sampler.peak
    wall = time.perf_counter() - start
    try:
        header, cycles = parse_table(stdout)
    except ValueError:
        header, cycles = [], {}
    problem = ""
    if sorted(cycles) != sorted(CYCLES):
        tail = (stderr.strip().splitlines() or ["no output"])[-1]
        problem = f"exit {proc.returncode}, cycles {sorted(cycles)}: {tail[:160]}"
    else:  # a wrong outcome makes the times meaningless; a slow cycle is what is measured
        wrong = [f"{name}: {note}" for name, cells in cycles.items()
                 for note in re.findall(r"NO: [^;)]+", cells["verdict"])
                 if not note.startswith("NO: wall")]
        problem = "; ".join(wrong)
    return Run(side.name, variant, round_, cycles, peak_kb / 1024, wall, problem), " | ".join(
        header)


def progress(run: Run) -> str:
    if not run.cycles or len(run.cycles) != len(CYCLES):
        return f"round {run.round} {run.variant:8} {run.side:8} FAILED: {run.problem}"
    walls = "/".join(f"{run.figure(c, 'wall s'):.2f}" for c in CYCLES)
    cpus = "/".join(f"{run.figure(c, 'all CPU s'):.2f}" for c in CYCLES)
    other = sum(run.figure(c, "other CPU s") for c in CYCLES)
    main_rss = run.figure(CYCLES[-1], "peak RSS MB")
    return (f"round {run.round} {run.variant:8} {run.side:8} wall {walls} s, CPU {cpus} s, "
            f"tree peak {run.tree_peak_mb:.0f} MB, main RSS {main_rss:.0f} MB, other CPU "
            f"{other:.2f} s; run {run.wall:.1f} s {run.problem}").rstrip()


def figures(runs: list[Run], variants: list[str], args: argparse.Namespace) -> list[Figure]:
    out: list[Figure] = []
    for variant in variants:
        def pairs(variant: str = variant) -> list[tuple[Run, Run]]:
            by_round: dict[int, dict[str, Run]] = {}
            for run in runs:
                if run.variant == variant and len(run.cycles) == len(CYCLES):
                    by_round.setdefault(run.round, {})[run.side] = run
            return [(r["current"], r["baseline"]) for r in by_round.values() if len(r) == 2]

        for cycle in CYCLES:
            for name, limit in (("wall s", args.limit), ("all CPU s", args.limit),
                                ("other CPU s", None)):
                figure = Figure(variant, cycle, name, limit)
                for current, baseline in pairs():
                    figure.current.append(current.figure(cycle, name))
                    figure.baseline.append(baseline.figure(cycle, name))
                out.append(figure)
        tree = Figure(variant, "1-3", "peak PSS MB, process tree", args.memory_limit)
        main = Figure(variant, "1-3", "peak RSS MB, main process", None)
        for current, baseline in pairs():
            tree.current.append(current.tree_peak_mb)
            tree.baseline.append(baseline.tree_peak_mb)
            main.current.append(current.figure(CYCLES[-1], "peak RSS MB"))
            main.baseline.append(baseline.figure(CYCLES[-1], "peak RSS MB"))
        out += [tree, main]
    return out


def render(figs: list[Figure], markdown: bool) -> str:
    head = ["variant", "cycle", "figure", "current", "baseline", "current/baseline",
            "limit", "verdict"]
    body = [f.cells() for f in figs]
    if markdown:
        return "\n".join("| " + " | ".join(cells) + " |"
                         for cells in [head, ["---"] * len(head), *body])
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
                     for cells in [head, *body])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, metavar="DIR",
                        help="the other checkout, with its own .venv")
    parser.add_argument("--current", default=str(HERE.parent), metavar="DIR",
                        help="this checkout by default, with its own .venv")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--variants", default="aiohttp,httpx",
                        help="cycle.py's variants, each a run of its own")
    parser.add_argument("--limit", type=float, default=1.10,
                        help="largest median ratio current/baseline of wall and CPU")
    parser.add_argument("--memory-limit", type=float, default=1.00,
                        help="largest median ratio current/baseline of the tree's peak PSS")
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--feed-share", type=float, default=0.2)
    parser.add_argument("--change-share", type=float, default=0.1)
    parser.add_argument("--timeout", type=int, default=300, help="cycle.py's, per run")
    parser.add_argument("--out", help="also write the report here, as Markdown")
    args = parser.parse_args()

    sides = [Side("current", Path(args.current).resolve()),
             Side("baseline", Path(args.baseline).resolve())]
    for side in sides:
        code = checkout_code(side.python)
        if code != side.checkout:
            raise SystemExit(f"{side.python} imports govwatch from {code}, not {side.checkout}")
    about = [f"{s.name}: commit {s.commit()} in {s.checkout}, run by {s.python}" for s in sides]
    print("\n".join(about), flush=True)
    variants = args.variants.split(",")
    runs: list[Run] = []
    headers: set[str] = set()
    started, load_start = time.monotonic(), os.getloadavg()
    for round_ in range(1, args.rounds + 1):
        order = sides if round_ % 2 else sides[::-1]
        for variant in variants:
            for side in order:
                run, header = run_once(side, variant, round_, args)
                headers.add(header)
                runs.append(run)
                print(progress(run), flush=True)
    minutes = (time.monotonic() - started) / 60
    figs = figures(runs, variants, args)
    failed = [run for run in runs if run.problem]
    setup = (
        f"{args.monitors} monitors on {args.hosts} hosts, {args.latency_ms:g} ms latency, "
        f"{args.rounds} round(s), variants {', '.join(variants)}; each figure is the median "
        "over the rounds per side, and the median of the rounds' ratios current/baseline. "
        "all CPU s: govwatch's process and every process it started and reaped (workers, "
        "shards); other CPU s: every other process of the host meanwhile (noise, for "
        "reference). Peak PSS of the tree: sampled every 0.2 s over the three cycles of a "
        "run, site excluded; peak RSS of the main process: cycle.py's column, for reference. "
        f"Whole run {minutes:.1f} min; load average at start {load_start}, "
        f"at the end {os.getloadavg()}.")
    notes = about + [f"{len(failed)} run(s) with a problem: "
                     + "; ".join(f"round {r.round} {r.variant} {r.side}: {r.problem}"
                                 for r in failed)] * bool(failed)
    if len(headers) > 1:
        notes.append("the two cycle.py scripts print different tables: " + " // ".join(headers))
    print(f"\n{setup}\n\n{render(figs, markdown=False)}\n\n" + "\n".join(notes))
    if args.out:
        command = " ".join([".venv/bin/python benchmarks/versus.py", *sys.argv[1:]])
        Path(args.out).write_text(
            f"# cycle.py, current against baseline\n\n`{command}`\n\n{setup}\n\n"
            f"{render(figs, markdown=True)}\n\n" + "\n".join(f"- {n}" for n in notes) + "\n")
    ok = (all(f.verdict() != "FAIL" for f in figs) and not failed and len(headers) == 1
          and all(f.verdict() != "n/a" for f in figs))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
