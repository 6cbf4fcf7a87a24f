"""The archive site: a full build of a long history, then the incremental builds of runs.

    .venv/bin/python benchmarks/site.py [--changes 10000] [--monitors 100] [--orgs 20]

Records ``--changes`` changes (each a check with a few edited paragraphs of a listing
page, and a new document every third one) through the real ``Store.record``, then times:
the full build into an empty directory, a build with nothing new, and a build after a run
that recorded 10 changes. Prints a table (wall and CPU seconds, files written, size) and
checks the floor: a full build of 10,000 changes in under a minute.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.records import Change
from notifications.config import SiteSettings
from notifications.site.build import SiteReport, build_site
from storage.db import Store
from storage.records import Check

WORDS = ("artificial intelligence governance principles recommendation member states ethics "
         "assessment framework oversight safety report summit council resolution human rights "
         "digital cooperation capacity data privacy transparency accountability").split()
FLOOR_SECONDS = 60.0


class Org:
    def __init__(self, org_id: str, monitors: list[str]) -> None:
        self.id, self.name, self.homepage = org_id, f"Organization {org_id}", None
        self.monitors = [Monitor(m) for m in monitors]


class Monitor:
    def __init__(self, monitor_id: str) -> None:
        from datetime import timedelta

        self.id, self.kind, self.name = monitor_id, "page", f"Listing {monitor_id}"
        self.url = f"https://example.org/{monitor_id}"
        self.every, self.enabled = timedelta(hours=6), True

    def model_dump(self, mode: str) -> dict[str, object]:
        return {"id": self.id, "kind": self.kind, "url": self.url}


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 24))).capitalize() + "."


def change(rng: random.Random, n: int) -> Change:
    lines = ["--- before", "+++ after"]
    for hunk in range(rng.randint(1, 3)):
        lines.append(f"@@ -{hunk * 40 + 1},4 +{hunk * 40 + 1},4 @@")
        kept = sentence(rng)
        old = sentence(rng)
        new = old.replace(rng.choice(old.split()), rng.choice(WORDS), 1)
        lines += [f" {kept}", f"-{old}", f"+{new}", f" {sentence(rng)}"]
    detail: dict[str, object] = {}
    if n % 3 == 0:
        url = f"https://example.org/documents/{n}.pdf"
        detail = {"documents": [{"url": url, "title": sentence(rng)[:60]}],
                  "links_added": [[url, "report"]]}
    return Change("text", f"{len(lines) // 6} paragraph(s) edited", "\n".join(lines), detail,
                  round(rng.random(), 2), ("edited text",))


def record(store: Store, monitors: list[str], count: int, rng: random.Random,
           start: int) -> None:
    for n in range(start, start + count):
        minute = n
        stamp = (f"2026-{1 + minute // 40000 % 12:02d}-{1 + minute // 1440 % 28:02d}T"
                 f"{minute // 60 % 24:02d}:{minute % 60:02d}:00.000+00:00")
        store.record(Check(monitor_id=rng.choice(monitors), started_at=stamp, duration_ms=40,
                           url="https://example.org/", outcome="changed", status=200),
                     change=change(rng, n))


def timed(store: Store, settings: SiteSettings) -> tuple[float, float, SiteReport]:
    wall, cpu = time.perf_counter(), time.process_time()
    report = build_site(store, settings)
    return time.perf_counter() - wall, time.process_time() - cpu, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--monitors", type=int, default=100)
    parser.add_argument("--orgs", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="govwatch-site-bench-") as scratch:
        root = Path(scratch)
        orgs = [Org(f"org{o}", [f"m{o}-{m}" for m in range(args.monitors // args.orgs)])
                for o in range(args.orgs)]
        monitors = [m.id for org in orgs for m in org.monitors]
        with Store(root / "bench.db") as store:
            store.sync_monitors(orgs)
            started = time.perf_counter()
            record(store, monitors, args.changes, rng, 0)
            recording = time.perf_counter() - started
            settings = SiteSettings(directory=str(root / "site"))
            rows = [("full build", *timed(store, settings))]
            rows.append(("nothing new", *timed(store, settings)))
            record(store, monitors, 10, rng, args.changes)
            rows.append(("10 new changes", *timed(store, settings)))
        files = [p for p in (root / "site").rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.changes} changes of {len(monitors)} monitors in {args.orgs} organizations "
          f"(recorded in {recording:.1f} s); site: {len(files)} files, {size / 1e6:.1f} MB; "
          f"peak RSS {peak:.0f} MB\n")
    print("| build | wall s | CPU s | written | unchanged | change pages |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, wall, cpu, report in rows:
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {report.written} | {report.unchanged} | "
              f"{report.changes} |")
    full = rows[0][1] * 10_000 / max(args.changes, 1)
    verdict = "meets" if full < FLOOR_SECONDS else "misses"
    print(f"\nfull build scaled to 10,000 changes: {full:.1f} s ({verdict} the "
          f"{FLOOR_SECONDS:.0f} s floor)")


if __name__ == "__main__":
    main()
