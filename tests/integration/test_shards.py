"""A large run spread over fetch shards (pipeline/shards.py), against a real local site.

Two hosts (``127.0.0.1`` and ``localhost``, the same server) make two shards. The run
is a real ``govwatch run`` process, so its shards are forked from it, and an in-process
``run_cycle`` from this test process, whose other threads make it start them with the
forkserver (everything they get is pickled).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from monitors.errors import StorageError
from pipeline.config import load_config
from pipeline.run import run_cycle, select_monitors
from pipeline.workers import start_method
from storage.crashpoints import CRASH_AT
from storage.db import Store
from storage.integrity import verify as verify_store
from tests.integration.conftest import Site

pytestmark = pytest.mark.integration

GOVWATCH = Path(sys.executable).parent / "govwatch"
PER_HOST = 25
SUMMARY = re.compile(r"^checked (\d+): new (\d+), changed (\d+), unchanged (\d+), "
                     r"not-modified (\d+), blocked (\d+), errors (\d+)$", re.MULTILINE)


def page(n: int, version: int = 1) -> str:
    return (f"<html><head><title>Page {n}</title></head><body><main><h1>Notice {n}</h1>"
            f"<p>Version {version} of notice {n}.</p><a href='/doc-{n}-{version}.pdf'>Doc</a>"
            "</main></body></html>")


def publish(site: Site, version: int = 1, changed: range = range(0)) -> None:
    site.set("/robots.txt", "User-agent: *\nDisallow: /private\n",
             content_type="text/plain")
    for n in range(PER_HOST):
        site.set(f"/p/{n}", page(n, version if n in changed else 1))


def write_config(tmp_path: Path, site: Site, workers: int = 2) -> Path:
    other = site.base_url.replace("127.0.0.1", "localhost")
    lines = [f"database: {tmp_path / 'gw.db'}",
             f"defaults: {{per_host: 4, concurrency: 16, workers: {workers}}}",
             "organizations:", "  - id: office", "    name: Office", "    monitors:"]
    for host, base in (("a", site.base_url), ("b", other)):
        lines += [f"      - {{id: {host}-{n:02d}, kind: page, url: '{base}/p/{n}'}}"
                  for n in range(PER_HOST)]
    config = tmp_path / "config.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


def govwatch(config: Path, *args: str, crash_at: str | None = None
             ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GOVWATCH_CONFIG", CRASH_AT)}
    if crash_at:
        env[CRASH_AT] = crash_at
    return subprocess.run([str(GOVWATCH), "--config", str(config), *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def counts(stdout: str) -> tuple[int, ...]:
    match = SUMMARY.search(stdout)
    assert match, stdout
    return tuple(int(x) for x in match.groups())


def test_a_sharded_run_records_every_check_once_and_robots_once_per_host(
    site: Site, tmp_path: Path
) -> None:
    publish(site)
    config = write_config(tmp_path, site)
    first = govwatch(config, "run")
    assert first.returncode == 0, first.stderr
    assert counts(first.stdout) == (50, 50, 0, 0, 0, 0, 0)
    publish(site, version=2, changed=range(0, PER_HOST, 5))
    second = govwatch(config, "run", "--all")
    assert second.returncode == 0, second.stderr
    # 5 pages changed, served to both hosts: 10 changes; the rest answer 304.
    assert counts(second.stdout) == (50, 0, 10, 0, 40, 0, 0)
    changed = set(re.findall(r"^CHANGE #\d+ office/(\S+):", second.stdout, re.MULTILINE))
    assert changed == {f"{h}-{n:02d}" for h in "ab" for n in range(0, PER_HOST, 5)}
    with Store(tmp_path / "gw.db", readonly=True) as store:
        per_monitor = dict(store.db.execute(
            "SELECT monitor_id, count(*) FROM checks GROUP BY monitor_id").fetchall())
        assert len(per_monitor) == 50 and set(per_monitor.values()) == {2}
        # First versions cross from the shard compressed only; the size is the raw one.
        sizes = {row[0]: row[1] for row in store.db.execute("SELECT hash, size FROM snapshots")}
        expected = {len(page(n, v).encode()) for n in range(PER_HOST) for v in (1, 2)
                    if v == 1 or n % 5 == 0}
        assert set(sizes.values()) == expected
        assert all(len(store.load_body(digest)) == size for digest, size in sizes.items())
        # Each shard fetched its host's robots.txt once; the writer stored both.
        hosts = [row[0] for row in store.db.execute("SELECT host FROM robots ORDER BY host")]
        assert len(hosts) == 2 and any("localhost" in h for h in hosts)
        assert verify_store(store).ok
    assert site.hits("/robots.txt") == 2  # one per host, cached for the second run


def test_a_killed_shard_leaves_failed_checks_and_the_next_run_checks_them(
    site: Site, tmp_path: Path
) -> None:
    publish(site)
    config = write_config(tmp_path, site)
    crashed = govwatch(config, "run", crash_at="shard-sent:3")
    assert crashed.returncode == 0, crashed.stderr
    total, new, _, _, _, _, errors = counts(crashed.stdout)
    # Both shards die after handing over 3 checks each; the writer records the rest failed.
    assert (total, new, errors) == (50, 6, 44)
    lost = re.findall(r"^ERROR office/(\S+): internal error: the fetch shard for (\S+) was "
                      r"killed by signal 9 before this monitor was checked; it is checked "
                      r"again next run", crashed.stdout, re.MULTILINE)
    assert len(lost) == 44
    again = govwatch(config, "run", "--all")
    assert again.returncode == 0, again.stderr
    assert counts(again.stdout) == (50, 44, 0, 0, 6, 0, 0)
    with Store(tmp_path / "gw.db", readonly=True) as store:
        assert verify_store(store).ok
        outcomes = dict(store.db.execute(
            "SELECT id, last_outcome FROM monitors").fetchall())
        assert set(outcomes.values()) == {"new", "not-modified"}


def test_an_in_process_cycle_starts_its_shards_with_the_forkserver(
    site: Site, tmp_path: Path
) -> None:
    # This process has other threads (the site's server), so nothing may be forked from
    # it: the shards come from the forkserver and everything they get is pickled.
    assert start_method(threading.active_count()) == "forkserver"
    publish(site)
    loaded = load_config(write_config(tmp_path, site))
    with Store(loaded.config.database) as store:
        monitors = select_monitors(loaded.config, store, run_all=True)
        seen: list[str] = []
        report = asyncio.run(run_cycle(loaded.config, store, monitors,
                                       on_check=lambda r: seen.append(r.monitor_id)))
        assert [c.monitor_id for c in report.checks] == [m.id for m in monitors]
        assert sorted(seen) == sorted(m.id for m in monitors)
        assert {c.outcome for c in report.checks} == {"new"}
        assert all(c.check_id > 0 for c in report.checks)


def test_a_writer_that_cannot_write_stops_the_run_and_its_shards(
    site: Site, tmp_path: Path
) -> None:
    # Without shards a StorageError ends the run; with them it must too, not be logged by
    # the event loop while the check it could not write is lost.
    publish(site)
    loaded = load_config(write_config(tmp_path, site))
    with Store(loaded.config.database) as store:
        monitors = select_monitors(loaded.config, store, run_all=True)
        asyncio.run(run_cycle(loaded.config, store, monitors))
        store.db.execute("PRAGMA query_only = ON")
        with pytest.raises(StorageError, match="cannot record check of"):
            asyncio.run(run_cycle(loaded.config, store, monitors))
    assert multiprocessing.active_children() == []


def test_a_shard_captures_new_documents_and_the_writer_stores_them(
    site: Site, tmp_path: Path
) -> None:
    # capture_new_documents fetches inside the check, so in a shard; the captured body
    # crosses to the writer with the check and is stored under the change.
    listing = ("<html><body><main><ul>{}</ul></main></body></html>")
    site.set("/robots.txt", "", content_type="text/plain")
    site.set("/list", listing.format("<li><a href='/old.pdf'>Old report</a></li>"))
    other = site.base_url.replace("127.0.0.1", "localhost")
    config = tmp_path / "config.yaml"
    config.write_text("\n".join([
        f"database: {tmp_path / 'gw.db'}", "defaults: {workers: 2}", "organizations:",
        "  - id: office", "    name: Office", "    monitors:",
        f"      - {{id: list, kind: page, url: '{site.url('/list')}', "
        "capture_new_documents: true}",
        f"      - {{id: other, kind: page, url: '{other}/list'}}",
    ]) + "\n")
    assert govwatch(config, "run").returncode == 0
    site.set("/list", listing.format("<li><a href='/new.pdf'>New report</a></li>"
                                     "<li><a href='/old.pdf'>Old report</a></li>"))
    site.set("/new.pdf", b"%PDF-1.7 the new report", content_type="application/pdf")
    second = govwatch(config, "run", "--all")
    assert second.returncode == 0, second.stderr
    assert counts(second.stdout)[2] == 2  # both monitors see the new link
    with Store(tmp_path / "gw.db", readonly=True) as store:
        rows = store.db.execute(
            "SELECT url, title, status, snapshot_hash FROM captures").fetchall()
        assert [(url, title, status) for url, title, status, _ in rows] == [
            (site.url("/new.pdf"), "New report", 200)]
        assert store.load_body(rows[0][3]) == b"%PDF-1.7 the new report"
        assert verify_store(store).ok


# -- lending: a busy shard's fetched checks finished by an idle one ------------------------

HEAVY = 30


def heavy_page(n: int) -> str:
    """About 400 kB: a few milliseconds of parsing each, so its shard falls behind."""
    rows = "".join(f"<li><a href='/d/{n}/{k}'>Document {k} of notice {n}</a> "
                   f"<p>Paragraph {k} of notice {n}, with enough words to weigh.</p></li>"
                   for k in range(2500))
    return (f"<html><head><title>Heavy {n}</title></head><body><main><ul>{rows}</ul></main>"
            "</body></html>")


def write_unequal(tmp_path: Path, site: Site) -> Path:
    """Host 127.0.0.1 serves heavy pages, host localhost light ones: two shards, one of
    which has run out of work long before the other."""
    site.set("/robots.txt", "", content_type="text/plain")
    for n in range(HEAVY):
        site.set(f"/heavy/{n}", heavy_page(n))
        site.set(f"/p/{n}", page(n))
    other = site.base_url.replace("127.0.0.1", "localhost")
    lines = [f"database: {tmp_path / 'gw.db'}",
             "defaults: {per_host: 8, concurrency: 16, workers: 2}",
             "organizations:", "  - id: office", "    name: Office", "    monitors:"]
    lines += [f"      - {{id: heavy-{n:02d}, kind: page, url: '{site.base_url}/heavy/{n}'}}"
              for n in range(HEAVY)]
    lines += [f"      - {{id: light-{n:02d}, kind: page, url: '{other}/p/{n}'}}"
              for n in range(HEAVY)]
    config = tmp_path / "config.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


def test_an_idle_shard_finishes_checks_a_busy_one_lends_it(
    site: Site, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    loaded = load_config(write_unequal(tmp_path, site))
    caplog.set_level("DEBUG", logger="pipeline.shards")
    with Store(loaded.config.database) as store:
        monitors = select_monitors(loaded.config, store, run_all=True)
        report = asyncio.run(run_cycle(loaded.config, store, monitors))
        assert [c.monitor_id for c in report.checks] == [m.id for m in monitors]
        assert {c.outcome for c in report.checks} == {"new"}
        lent = re.findall(r"fetch shard (\d) lends check (\d+) to shard (\d)", caplog.text)
        # The heavy host's shard lent some of its checks to the light host's shard.
        assert lent and all(monitors[int(i)].id.startswith("heavy-") for _, i, _ in lent)
        assert {(donor, borrower) for donor, _, borrower in lent} == {("0", "1")}
        per_monitor = dict(store.db.execute(
            "SELECT monitor_id, count(*) FROM checks GROUP BY monitor_id").fetchall())
        assert len(per_monitor) == 2 * HEAVY and set(per_monitor.values()) == {1}
        assert verify_store(store).ok
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("crash_at, dead", [("shard-lent", "lender"),
                                             ("shard-adopted", "borrower")])
def test_a_shard_killed_while_lending_leaves_every_check_recorded_once(
    site: Site, tmp_path: Path, crash_at: str, dead: str
) -> None:
    """The lender dies right after lending, or the borrower as its first lent check comes:
    what the dead shard held is recorded failed (naming it), the rest as usual, and the
    next run checks the failed ones again."""
    config = write_unequal(tmp_path, site)
    crashed = govwatch(config, "run", crash_at=crash_at)
    assert crashed.returncode == 0, crashed.stderr
    total, new, _, _, _, _, errors = counts(crashed.stdout)
    assert total == 2 * HEAVY and new + errors == total and errors > 0
    lost = re.findall(r"^ERROR office/(\S+): internal error: (the fetch shard \S+ .*?) was "
                      r"killed by signal 9", crashed.stdout, re.MULTILINE)
    assert len(lost) == errors
    if dead == "lender":  # its own checks, never lent: heavy ones
        assert all(m.startswith("heavy-") and who.startswith("the fetch shard for")
                   for m, who in lost)
    else:  # the lent checks it held, and nothing of its own host (all sent before)
        assert all(m.startswith("heavy-") and "took over this check" in who
                   for m, who in lost)
    with Store(tmp_path / "gw.db", readonly=True) as store:
        per_monitor = dict(store.db.execute(
            "SELECT monitor_id, count(*) FROM checks GROUP BY monitor_id").fetchall())
        assert len(per_monitor) == 2 * HEAVY and set(per_monitor.values()) == {1}
        assert verify_store(store).ok
    again = govwatch(config, "run", "--all")
    assert again.returncode == 0, again.stderr
    assert counts(again.stdout) == (total, errors, 0, 0, total - errors, 0, 0)
