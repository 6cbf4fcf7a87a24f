"""Start-up time of the govwatch command line, before any fetch.

    .venv/bin/python benchmarks/startup.py [--monitors 1000] [--runs 5] [--compare-rev REV]

Generates a config of N monitors the way benchmarks/peer_runners.py does (organizations of
50 monitors written as flow mappings, one in five a feed) and prints the median wall time
of ``--runs`` runs of each command. With ``--compare-rev`` the same commands also run on
that revision (``git archive`` into a temporary directory, same interpreter and packages),
in a "before" column. Commands run as ``python -c 'from pipeline.cli.main import main; main()'``
from the tree measured, so both columns pay the same interpreter start.

With PYTHONDONTWRITEBYTECODE set (as in this project's sessions) every run compiles
govwatch's own modules again, which an installed govwatch does not do: the header says
which case was measured; ``env -u PYTHONDONTWRITEBYTECODE`` measures the installed case.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = "import sys; from pipeline.cli.main import main; sys.argv[0] = 'govwatch'; main()"
PER_ORG = 50


def write_config(path: Path, monitors: int, enabled: bool = True) -> None:
    lines = ["organizations:"]
    switch = "" if enabled else ", enabled: false"
    for org in range(0, monitors, PER_ORG):
        port = 8000 + org // PER_ORG
        lines += [f"  - id: office{org // PER_ORG:02d}",
                  f"    name: National AI Office {org // PER_ORG:02d}",
                  f"    homepage: http://127.0.0.1:{port}/", "    monitors:"]
        for n in range(org, min(org + PER_ORG, monitors)):
            kind = "feed" if n % 5 == 0 else "page"
            lines.append(f"      - {{id: source-{n:05d}, kind: {kind}, "
                         f"url: 'http://127.0.0.1:{port}/{kind}/{n}'{switch}}}")
    path.write_text("\n".join(lines) + "\n")


def commands(work: Path, side: str) -> dict[str, list[str]]:
    every = str(work / "every.yaml")
    none = str(work / "none.yaml")
    database = str(work / f"{side}.db")  # each side its own: schemas may differ
    return {
        "python -c pass (interpreter only)": ["-c", "pass"],
        "imports of run (cli, commands, run, digest)":
            ["-c", "import pipeline.cli.main, pipeline.cycle, pipeline.digest"],
        "govwatch --help": ["-c", CLI, "--help"],
        "govwatch check-config (N monitors)": ["-c", CLI, "--config", every, "check-config"],
        "govwatch run (N monitors, all disabled)": ["-c", CLI, "--config", none, "--db", database,
                                                     "run"],
    }


def median_seconds(tree: Path, args: list[str], runs: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run([sys.executable, *args], cwd=tree, env=env, capture_output=True,
                   check=True)  # warm the caches (and create the database)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=tree, env=env, capture_output=True,
                       check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def export_revision(rev: str, into: Path) -> Path:
    tree = into / "rev"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--compare-rev", metavar="REV", help="Also measure this git revision.")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="govwatch-startup-") as tmp:
        work = Path(tmp)
        write_config(work / "every.yaml", options.monitors)
        write_config(work / "none.yaml", options.monitors, enabled=False)
        before = export_revision(options.compare_rev, work) if options.compare_rev else None
        label = f"before ({options.compare_rev})" if before else ""
        bytecode = "off" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "on"
        print(f"median of {options.runs} runs, {options.monitors} monitors, bytecode cache "
              f"{bytecode}, load {os.getloadavg()[0]:.2f}")
        print(f"| command | {label + ' s | ' if before else ''}now s |")
        print(f"| --- | {'--- | ' if before else ''}--- |")
        now = commands(work, "now")
        for name, args in commands(work, "before").items():
            cells = [f"{median_seconds(before, args, options.runs):.3f}"] if before else []
            cells.append(f"{median_seconds(ROOT, now[name], options.runs):.3f}")
            name = name.replace("N monitors", f"{options.monitors} monitors")
            print(f"| {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
