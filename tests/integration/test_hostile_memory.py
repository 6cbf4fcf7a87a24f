"""A 20 MB page that changes stays within a memory bound for the whole run.

The page is one paragraph of date-like tokens (what clock masking, word splitting and a
word diff all work on), under the default ``max_bytes``. ``govwatch run`` runs in a
subprocess, twice (the page is new, then changed), and its peak resident memory, as the
kernel counts it for the process and every worker it waited for, stays under 400 MB.
This is a bound of memory, not of time.
"""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from storage.db import Store
from tests.integration.conftest import Site

pytestmark = pytest.mark.integration

GOVWATCH = Path(sys.executable).parent / "govwatch"
MB = 1_000_000
PEAK_LIMIT_MB = 400
# Only a run that hangs reaches this; a slow machine does not.
RUN_BOUND = 300.0


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
# Every token of the four forms a paragraph mixes: an ISO date, a written date, a time of
# day and a number. Each form is drawn as often as the others, each of its tokens as
# often as the others of its form.
FORMS = (
    [f"{y}-{m:02d}-{d:02d}" for y in range(2000, 2031) for m in range(1, 13)
     for d in range(1, 29)],
    [f"{d} {month} {y}" for d in range(1, 29) for month in MONTHS for y in range(2000, 2031)],
    [f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)],
    [str(n) for n in range(1, 10_000)],
)
TOKENS = [token for form in FORMS for token in form]
CUMULATIVE = list(itertools.accumulate(1 / len(form) for form in FORMS for _ in form))


def date_paragraph(size: int, seed: int) -> str:
    """One paragraph of exactly ``size`` characters of dates, times and numbers (drawn
    in batches: a word at a time took 13 s for 20 MB)."""
    rng = random.Random(seed)
    words: list[str] = []
    length = 0
    while length <= size:  # ``length`` counts a space after each word: joined, >= size
        for word in rng.choices(TOKENS, cum_weights=CUMULATIVE, k=100_000):
            words.append(word)
            length += len(word) + 1
            if length > size:
                break
    text = " ".join(words)[:size]
    return text[:-1] + "0" if text.endswith(" ") else text  # a space would be trimmed


def page(seed: int) -> bytes:
    return (f"<html><head><title>Calendar</title></head><body><main><p>"
            f"{date_paragraph(20 * MB, seed)}</p></main></body></html>").encode()


# Run in a process of its own, which reports the peak of its children only: the test
# process's own children (a browser of an earlier test, say) must not count.
MEASURE = ("import resource, subprocess, sys\n"
           "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
           "sys.stderr.write(done.stderr)\n"
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
           "print(done.stdout, end='')\n"
           "sys.exit(done.returncode)\n")


def run_once(config: Path, database: Path) -> tuple[str, float]:
    """``govwatch run --all`` in a child; its output and its peak RSS (MB), workers
    included."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(GOVWATCH), "--config", str(config),
         "--db", str(database), "run", "--all"],
        capture_output=True, text=True, timeout=RUN_BOUND, check=False)
    assert done.returncode == 0, done.stderr
    peak_kb, _, output = done.stdout.partition("\n")
    return output, int(peak_kb) / 1024


def test_a_20_mb_page_that_changes_stays_under_400_mb(site: Site, tmp_path: Path) -> None:
    first, second = page(1), page(2)
    assert 20 * MB < len(second) < 21 * MB
    site.set("/calendar.html", first)
    config = tmp_path / "calendar.yaml"
    config.write_text(json.dumps({
        "defaults": {"every": "1h", "max_bytes": "25MB"},
        "organizations": [{"id": "org", "name": "Org", "monitors": [
            {"id": "calendar", "kind": "page", "url": site.url("/calendar.html")}]}],
    }), encoding="utf-8")
    database = tmp_path / "calendar.db"

    _, first_peak = run_once(config, database)
    site.set("/calendar.html", second)
    output, peak = run_once(config, database)
    print(f"\npeak RSS of `govwatch run` over a 20 MB page: {first_peak:.0f} MB new, "
          f"{peak:.0f} MB (the larger of both) changed")

    with Store(database) as store:
        outcomes = [row[0] for row in store.db.execute(
            "SELECT outcome FROM checks WHERE monitor_id = 'calendar' AND outcome != 'confirm'"
            " ORDER BY id").fetchall()]
        assert outcomes == ["new", "changed"], (outcomes, output)
        summary, diff, detail, reasons = store.db.execute(
            "SELECT summary, diff, detail, reasons FROM changes").fetchone()
    # The change is recorded, shown coarsely, and says so.
    assert summary == "1 line(s) added, 1 removed"
    assert json.loads(detail)["clipped"] is True
    assert "lines over 20,000 characters shown clipped" in json.loads(reasons)
    assert len(diff) < 100_000 and "[line clipped: 20,000,000 characters]" in diff
    assert peak < PEAK_LIMIT_MB, f"peak RSS {peak:.0f} MB"
