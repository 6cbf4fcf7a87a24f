"""govwatch against urlwatch and webchanges on the same local sources, in the same run.

    .venv/bin/python benchmarks/peers.py [--monitors 1000 --latency-ms 50 --etags on|off]

Starts benchmarks/localsite.py (every host its own 127.0.0.1 port, fixed latency, revisions,
ETag/Last-Modified that can be switched off, and a footer timestamp that changes on every
request), installs the pinned peers into benchmarks/.peers-venv unless present, and runs
each tool through its own command line, with its own generated job file and a store in a
temp dir, one tool after the other on the same site state:

1. all new;
2. a share (10 %) of sources revised, the rest unchanged but for the footer noise;
3. and 4. noise only, once with validators (ETag/Last-Modified) honoured by the site and
   once without, the order chosen so that the "on" cycle follows a cycle that had them;

repeated ``--rounds`` times on fresh stores after a site reset (the time floors take the
median of the rounds' ratios: one round slowed by a shared machine does not decide them),

then, on fresh stores, ``--revisions`` cycles with every source revised before each, and
the size of each tool's store after them. Prints one table and the floors with PASS/FAIL
and writes benchmarks/results/peers-<date>.md. Exit status 1 if a floor fails.
"""

from __future__ import annotations

import argparse
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx
from localsite import feed_path, layout, page_path
from measure import Measured
from peer_baseline import BASELINE, baseline_verdicts, register, round_order
from peer_report import (
    EDITS,
    NOTES,
    Row,
    Verdict,
    finder,
    machine,
    ratio_verdict,
    rounds_of,
    table,
)
from peer_runners import TOOLS, Reported, SourceSpec, Tool, ensure_peers

HERE = Path(__file__).resolve().parent
FLOOR_STEADY, FLOOR_FIRST, FLOOR_STORAGE = 1 / 4, 1 / 2, 1 / 2


def sources_of(ports: list[int], plan: list[tuple[int, int]]) -> list[SourceSpec]:
    sources = []
    for host, (pages, feeds) in enumerate(plan):
        for kind, path in [("page", page_path(i)) for i in range(pages)] + [
                ("feed", feed_path(i)) for i in range(feeds)]:
            number = path.rsplit("-", 1)[1].split(".")[0]
            sources.append(SourceSpec(f"o{host:02d}-{kind}-{number}", host, kind,
                                      f"http://127.0.0.1:{ports[host]}{path}"))
    return sources


def start_site(args: argparse.Namespace) -> tuple[subprocess.Popen[str], list[int]]:
    command = [sys.executable, str(HERE / "localsite.py"), "--monitors", str(args.monitors),
               "--hosts", str(args.hosts), "--feed-share", str(args.feed_share),
               "--latency-ms", str(args.latency_ms), "--lifetime", str(args.timeout + 60),
               "--noise", "--etags", args.etags, "--edits", args.edits]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
        ready = sel.select(timeout=120)
        line = proc.stdout.readline() if ready and proc.stdout else ""
    if not line.startswith("READY "):
        stop(proc)
        raise RuntimeError(f"local site failed to start: {line!r}")
    return proc, httpx.Response(200, content=line[6:]).json()["ports"]


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


class Bench:
    def __init__(self, args: argparse.Namespace, control: httpx.Client,
                 sources: list[SourceSpec], deadline: float) -> None:
        self.args, self.control, self.sources, self.deadline = args, control, sources, deadline

    def stats(self) -> tuple[int, int]:
        s = self.control.get("/_control/stats").json()
        return s["requests"], s["body"] + s["headers"]

    def validators(self, on: bool) -> None:
        self.control.post(f"/_control/validators?on={int(on)}").raise_for_status()

    def bump(self, share: float, seed: int, among: set[str]) -> set[str]:
        urls = self.control.post(f"/_control/bump?share={share}&seed={seed}").json()["urls"]
        return set(urls) & among

    def cycle(self, tool: Tool, name: str, truth: set[str] | None, round_: int = 0) -> Row:
        """One run of one tool; ``truth`` None means every source is new."""
        requests0, bytes0 = self.stats()
        remaining = self.deadline - time.monotonic()
        if remaining < 5:
            raise TimeoutError("overall --timeout reached")
        measured, reported = tool.run(min(self.args.run_timeout, remaining))
        requests1, bytes1 = self.stats()
        row = Row(tool.name, name, measured.wall, measured.cpu, measured.rss_mb,
                  requests1 - requests0, bytes1 - bytes0, tool.storage_bytes() / 1e6,
                  *judge(reported, truth, len(tool.sources)), reported.errors,
                  note=problems(measured), round=round_)
        print(f"  {row.tool:17} {row.cycle:24} {row.wall:7.2f} s  cpu {row.cpu:6.2f} s  "
              f"false {row.false}  missed {row.missed}  {row.note}", flush=True)
        return row


def judge(reported: Reported, truth: set[str] | None, total: int) -> tuple[int, int, int, int]:
    """(truth, detected, false, missed). A first cycle is judged by its count of new sources
    (govwatch prints that count, not the URLs); a change reported there is false."""
    if truth is None:
        detected = min(reported.new, total)
        return total, detected, len(reported.changed), total - detected
    return (len(truth), len(reported.changed & truth), len(reported.changed - truth),
            len(truth - reported.changed))


def problems(measured: Measured) -> str:
    if measured.returncode is None:
        return "killed at the deadline"
    if measured.returncode != 0:
        tail = measured.stderr.strip().splitlines()[-1:] or [""]
        return f"exit {measured.returncode}: {tail[0][:120]}"
    return ""


def timing_phase(bench: Bench, tools: list[Tool], round_: int = 1) -> list[Row]:
    """Cycles 1-4 on the same stores; every tool sees the same site state in each cycle.

    Round 1 keeps the seed of earlier results; later rounds start from a reset site.
    """
    args, urls = bench.args, {s.url for s in bench.sources}
    etags = args.etags == "on"
    bench.validators(etags)
    noise_order = [etags, not etags]  # "on" is only meaningful after a cycle that had them
    plan: list[tuple[str, bool, float]] = [
        ("1 all new", etags, 0.0),
        (f"2 {args.change_share:.0%} changed", etags, args.change_share),
        # with --etags off the "on" cycle is the first to receive validators: no 304 yet
        *((f"{3 + i} noise, validators {'on' if on else 'off'}"
           + (" (unprimed)" if on and not etags else ""), on, 0.0)
          for i, on in enumerate(noise_order)),
    ]
    rows: list[Row] = []
    for name, validators, share in plan:
        bench.validators(validators)
        truth: set[str] | None = None if name.startswith("1") else set()
        if share:
            truth = bench.bump(share, 41 + round_, urls)
        print(f"round {round_}, cycle {name}: "
              f"{len(truth) if truth is not None else len(urls)} true", flush=True)
        rows += [bench.cycle(tool, name, truth, round_) for tool in tools]
    return rows


def storage_phase(bench: Bench, tools: list[Tool]) -> list[Row]:
    """Fresh stores, ``--revisions`` cycles, every source revised before each but the first."""
    args = bench.args
    bench.control.post("/_control/reset").raise_for_status()
    bench.validators(args.etags == "on")
    totals: dict[str, list[Row]] = {tool.name: [] for tool in tools}
    urls = {s.url for s in tools[0].sources}
    for revision in range(args.revisions):
        truth = None if revision == 0 else bench.bump(args.storage_share, 100 + revision, urls)
        print(f"revision {revision + 1}/{args.revisions}", flush=True)
        for tool in tools:
            totals[tool.name].append(bench.cycle(tool, f"revision {revision + 1}", truth))
    name = f"{args.revisions} revisions (sum)"
    return [Row(tool.name, name, sum(r.wall for r in rs), sum(r.cpu for r in rs),
                max(r.rss_mb for r in rs), sum(r.requests for r in rs),
                sum(r.bytes for r in rs), rs[-1].store_mb, sum(r.truth for r in rs),
                sum(r.detected for r in rs), sum(r.false for r in rs),
                sum(r.missed for r in rs), sum(r.errors for r in rs),
                "; ".join(sorted({r.note for r in rs if r.note} | {tool.storage_note()} - {""})),
                round=0)
            for tool in tools for rs in [totals[tool.name]]]


def floors(args: argparse.Namespace, rows: list[Row], tool: str = "govwatch") -> list[Verdict]:
    """The floors against urlwatch, for ``tool``."""
    get, rounds = finder(rows), rounds_of(rows)
    results: list[Verdict] = []
    for prefix, floor, what in (("2", FLOOR_STEADY, "steady-state cycle"),
                                ("1", FLOOR_FIRST, "first cycle")):
        pairs = [(gov, url) for n in rounds
                 for gov, url in [(get(tool, prefix, n), get("urlwatch", prefix, n))]
                 if gov and url]
        if pairs:
            results.append(ratio_verdict(what, floor, pairs))
    for prefix in ("3", "4"):
        cycles = [row for n in rounds for row in [get(tool, prefix, n)] if row]
        if cycles:
            false = [row.false for row in cycles]
            results.append((f"cycle {cycles[0].cycle}: {tool} false changes "
                            f"{' + '.join(map(str, false))} = 0 (one per round)",
                            not any(false) and not any(row.note for row in cycles)))
    gov, url = (get(name, f"{args.revisions} rev", 0) for name in (tool, "urlwatch"))
    if gov and url:
        ratio = gov.store_mb / url.store_mb if url.store_mb else float("inf")
        results.append((f"storage after {args.revisions} revisions: {tool} {gov.store_mb:.1f} "
                        f"MB / urlwatch {url.store_mb:.1f} MB = {ratio:.2f} <= "
                        f"{FLOOR_STORAGE:.2f}", ratio <= FLOOR_STORAGE))
    if args.monitors != 1000 or args.latency_ms != 50:
        results = [(text + " (not at N=1000, 50 ms: not the floor's setting)", None)
                   for text, _ in results]
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--feed-share", type=float, default=0.2)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--change-share", type=float, default=0.1)
    parser.add_argument("--etags", choices=("on", "off"), default="on",
                        help="validators in cycles 1 and 2 (cycles 3 and 4 do both)")
    parser.add_argument("--edits", choices=("append", "rewrite"), default="append",
                        help="a page revision adds one update (append) or also reshuffles "
                             "the whole body (rewrite, cycle.py's worst case)")
    parser.add_argument("--revisions", type=int, default=10)
    parser.add_argument("--storage-monitors", type=int, default=0,
                        help="sources in the storage phase (default 0: all of them)")
    parser.add_argument("--storage-share", type=float, default=1.0,
                        help="share of sources revised before each storage cycle")
    parser.add_argument("--tools", default="govwatch,govwatch-defaults,urlwatch,webchanges")
    parser.add_argument("--rounds", type=int, default=5,
                        help="repeat the timed cycles on fresh stores; the time floors take "
                             "the median of the rounds' ratios")
    parser.add_argument("--round-tools", default="govwatch,urlwatch",
                        help="the tools of rounds after the first (those the floors compare)")
    parser.add_argument("--timeout", type=int, default=5400, help="overall limit in seconds")
    parser.add_argument("--run-timeout", type=float, default=900, help="limit per tool run")
    parser.add_argument("--no-write", action="store_true", help="do not write the .md file")
    parser.add_argument("--keep-dir", help="write the tools' files and stores here, and keep them")
    parser.add_argument("--baseline", metavar="DIR",
                        help="another checkout of govwatch with its own .venv: adds its "
                             "govwatch@base row next to govwatch, and its ratios")
    parser.add_argument("--baseline-limit", type=float, default=1.10,
                        help="largest govwatch / govwatch@base ratio of time and storage")
    parser.add_argument("--memory-limit", type=float, default=1.00,
                        help="largest govwatch / govwatch@base ratio of peak memory")
    args = parser.parse_args()
    baseline_about = register(args) if args.baseline else []

    def expire(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"benchmark exceeded --timeout {args.timeout}s")

    signal.signal(signal.SIGALRM, expire)
    signal.alarm(args.timeout + 60)  # the backstop; each tool run also has its own deadline
    started, deadline = time.monotonic(), time.monotonic() + args.timeout
    versions = ensure_peers()
    print("peers: " + ", ".join(f"{k} {v}" for k, v in versions.items()), flush=True)
    about, loads = machine(versions) + baseline_about, [("start", os.getloadavg())]
    site, ports = start_site(args)
    rows: list[Row] = []
    try:
        sources = sources_of(ports, layout(args.monitors, args.hosts, args.feed_share))
        step = max(1, len(sources) // args.storage_monitors) if args.storage_monitors else 1
        storage_sources = sources[::step][:args.storage_monitors or None]
        with httpx.Client(base_url=f"http://127.0.0.1:{ports[0]}", trust_env=False,
                          timeout=30) as control, \
                tempfile.TemporaryDirectory(prefix="govwatch-peers-") as scratch:
            tmp = args.keep_dir or scratch
            bench = Bench(args, control, sources, deadline)
            names = args.tools.split(",")
            for round_ in range(1, args.rounds + 1):
                if round_ > 1:
                    bench.control.post("/_control/reset").raise_for_status()
                in_round = round_order(names if round_ == 1 else [
                    n for n in args.round_tools.split(",") if n in names], round_)
                tools = [TOOLS[n](Path(tmp, "timing", f"round-{round_}", n), sources)
                         for n in in_round]
                rows += timing_phase(bench, tools, round_)
            loads.append(("after the timed cycles", os.getloadavg()))
            if args.revisions:
                tools = [TOOLS[n](Path(tmp, "storage", n), storage_sources) for n in names
                         if not TOOLS[n].timing_only]
                rows += storage_phase(bench, tools)
    finally:
        signal.alarm(0)
        stop(site)
    loads.append(("end", os.getloadavg()))
    minutes = (time.monotonic() - started) / 60
    verdicts = floors(args, rows)
    lines = [f"{'PASS' if ok else 'FAIL' if ok is False else 'n/a '}  {text}"
             for text, ok in verdicts]
    versus: list[Verdict] = []
    if args.baseline:
        # the baseline's own floors, for reference: only govwatch's decide the exit status
        lines += [f"ref   {text}" for text, _ in floors(args, rows, BASELINE)]
        versus = baseline_verdicts(rows, args.revisions, args.baseline_limit,
                                   args.memory_limit)
    versus_lines = [f"{'PASS' if ok else 'FAIL' if ok is False else 'ref '}  {text}"
                    for text, ok in versus]
    command = " ".join([".venv/bin/python benchmarks/peers.py", *sys.argv[1:]])
    storage_n = len(storage_sources)
    setup = (
        f"{args.monitors} sources ({args.feed_share:.0%} RSS feeds, the rest HTML pages of "
        f"20-100 kB) on {args.hosts} hosts (ports of 127.0.0.1), {args.latency_ms:g} ms latency "
        "per response; every page's footer carries the time of the request to the microsecond "
        "(noise); ETags name the revision (weak on pages, as the body also carries the stamp). "
        f"A page revision {EDITS[args.edits]}; a feed revision adds one item and drops one. "
        f"Cycles 1-2 with validators {args.etags}. Truth: the sources the site revised. "
        f"Cycles 1-4 ran in {args.rounds} round(s), each on fresh stores and a reset site "
        f"(rounds after the first: {args.round_tools}). "
        f"Storage: fresh stores, {args.revisions} cycles over {storage_n} sources, "
        f"{args.storage_share:.0%} of them revised before each cycle but the first; store MB "
        "is the size of every file in the tool's store directory after the cycle. "
        f"Whole run: {minutes:.1f} min.")
    report = (f"\n{setup}\n\n{table(rows, markdown=False)}\n\nFloors:\n"
              + "\n".join("  " + ln for ln in lines))
    if versus_lines:
        report += "\n\nAgainst the baseline (govwatch / govwatch@base):\n" + "\n".join(
            "  " + ln for ln in versus_lines)
    print(report)
    if not args.no_write:
        out = HERE / "results" / f"peers-{date.today().isoformat()}.md"
        settings = [f"- {cls.name}: {cls.settings}" for cls in TOOLS.values()]
        out.write_text(
            f"# govwatch against urlwatch and webchanges, {date.today().isoformat()}\n\n"
            f"`{command}`\n\n{setup}\n\n{table(rows, markdown=True)}\n\n## Floors\n\n"
            + "\n".join(f"- {ln}" for ln in lines)
            + "".join(f"\n- {ln}" if i else f"\n\n## Against the baseline\n\n- {ln}"
                      for i, ln in enumerate(versus_lines))
            + "\n\n## Settings\n\n"
            + "\n".join(settings) + "\n\n## Reading these numbers\n\n"
            + "\n".join(f"- {n}" for n in NOTES) + "\n\n## Machine\n\n"
            + "\n".join(f"- {m}" for m in about)
            + "\n" + "\n".join(f"- load average {when}: {tuple(round(v, 2) for v in load)}"
                               for when, load in loads) + "\n")
        print(f"\nwritten: {out.relative_to(HERE.parent)}")
    judged = verdicts + versus
    return 0 if verdicts and all(ok is not False for _, ok in judged) else 1


if __name__ == "__main__":
    sys.exit(main())
