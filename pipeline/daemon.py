"""``govwatch daemon``: every monitor on its own schedule, in one long-lived process.

One APScheduler job per monitor (interval ``every`` or ``cron``), all sharing one httpx
client and one polite fetcher. The database decides when a job runs: each job's next run
time is the monitor's stored ``next_due_at`` (plus jitter), so back-off, Retry-After and
a restart all follow from what was stored. Signals: SIGTERM/SIGINT stop (in-flight checks
get a grace period, then are cancelled while they wait on the network, never inside a
write), SIGHUP reloads the config and logs what changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
from collections import Counter
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from core.errors import ConfigError
from core.sanitise import clean_line
from monitors import build_monitor
from monitors.base import Monitor
from pipeline.config import Config, load_config
from pipeline.cycle import check_monitor, fetch_settings, parse_deadline, schedule_policy
from pipeline.digest import DIGEST_POLL, deliver_due
from pipeline.fetch.client import Fetcher, build_client, polite_fetcher, rendering
from pipeline.pool import Extractor, worker_count
from pipeline.schedule import crontab_trigger
from pipeline.site import site_stage
from pipeline.templates import SiteRound, site_rounds
from storage.db import Store
from storage.records import iso, utc_now
from storage.runs import RunRecord, record_run
from storage.search import store_texts

log = logging.getLogger("govwatch.daemon")

#: How long in-flight checks may finish after SIGTERM before they are cancelled.
STOP_GRACE = 5.0
FETCH_KEYS = ("timeout", "connect_timeout", "read_timeout", "max_redirects", "user_agent",
              "concurrency", "contact")


def heartbeat_every(config: Config) -> timedelta:
    """Often enough that ``health`` sees a fresh heartbeat: twice per expected interval."""
    half = config.defaults.expect_run_every / 2
    return max(timedelta(seconds=1), min(half, timedelta(minutes=5)))


def monitor_table(config: Config) -> dict[str, Monitor]:
    return {m.id: build_monitor(m, org.id) for org, m in config.monitors() if m.enabled}


def describe_changes(old: Config, new: Config) -> tuple[list[str], list[str], list[str]]:
    """(added, removed, changed) enabled monitor ids between two configs."""
    before = {m.id: m.model_dump(mode="json") for _, m in old.monitors() if m.enabled}
    after = {m.id: m.model_dump(mode="json") for _, m in new.monitors() if m.enabled}
    added = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    changed = sorted(k for k in before.keys() & after.keys() if before[k] != after[k])
    return added, removed, changed


class Daemon:
    def __init__(self, config_path: Path, config: Config, store: Store) -> None:
        self.config_path = config_path
        self.config = config
        self.store = store
        self.monitors = monitor_table(config)
        self.policy = schedule_policy(config.defaults)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._stop = asyncio.Event()
        self._running: set[asyncio.Task[Any]] = set()
        #: Monitors whose check is under way (a job, or a page brought forward).
        self._checking: set[str] = set()
        #: Checks of pages brought forward, held so that they are not collected.
        self._spawned: set[asyncio.Future[None]] = set()
        self._counts: Counter[str] = Counter()
        self._since = iso(utc_now())
        self.fetcher: Fetcher | None = None
        self.extractor: Extractor | None = None

    # -- life cycle -------------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop, signum)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        settings = fetch_settings(self.config.defaults)
        # One pool for the daemon's life, started by the first body to evaluate: parsing
        # and comparing stay off the event loop that runs every job.
        workers = worker_count(len(self.monitors), self.config.defaults.workers)
        try:
            async with build_client(settings) as client, \
                    rendering(self.config, settings, always=True) as browser:
                self.extractor = Extractor(workers, self.store.path,
                                           parse_deadline(self.config.defaults))
                self.fetcher = polite_fetcher(self.config, client, settings, self.store,
                                              browser)
                self.fetcher.room = self.extractor.room
                self._client, self._settings, self._browser = client, settings, browser
                for monitor_id in self.monitors:
                    self._add_job(monitor_id)
                # Every job is a coroutine: they all run on this loop's thread, which owns
                # the SQLite connection (a plain function would go to a thread pool).
                self.scheduler.add_job(self._heartbeat_job, IntervalTrigger(
                    seconds=heartbeat_every(self.config).total_seconds()), id="_heartbeat")
                self.scheduler.add_job(self._digest, IntervalTrigger(
                    seconds=DIGEST_POLL.total_seconds()), id="_digest", coalesce=True,
                    max_instances=1)
                self.scheduler.start()
                log.info("daemon started (pid %d): %d monitors scheduled", os.getpid(),
                         len(self.monitors))
                await self._stop.wait()
                await self._shutdown()
        finally:
            if self.extractor is not None:
                self.extractor.close()
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(signum)

    def request_stop(self, signum: int = signal.SIGTERM) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        self._stop.set()

    async def _shutdown(self) -> None:
        self.scheduler.pause()  # no new jobs; running ones get a grace period
        running = set(self._running)
        if running:
            _, late = await asyncio.wait(running, timeout=STOP_GRACE)
            for task in late:
                # Cancelling lands on a network await: writes have no await inside them.
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            if late:
                log.warning("cancelled %d check(s) still waiting on the network", len(late))
        self.scheduler.shutdown(wait=False)
        self._heartbeat()
        log.info("daemon stopped")

    # -- jobs -------------------------------------------------------------------------
    def _trigger(self, monitor: Monitor) -> Any:
        jitter = self.config.defaults.jitter.total_seconds() or None
        if monitor.config.cron:
            return crontab_trigger(monitor.config.cron, self.config.defaults.timezone, jitter)
        every = monitor.config.every or timedelta(hours=6)
        return IntervalTrigger(seconds=every.total_seconds(), jitter=jitter)

    def _first_run(self, monitor_id: str) -> datetime:
        """Overdue (or never checked): now, spread by jitter. Otherwise: when it is due."""
        due = self.store.monitor_state(monitor_id).next_due_at
        now = utc_now()
        start = max(now, datetime.fromisoformat(due)) if due else now
        return start + self._jitter()

    def _jitter(self) -> timedelta:
        return timedelta(seconds=random.uniform(0, self.config.defaults.jitter.total_seconds()))

    def _add_job(self, monitor_id: str) -> None:
        self.scheduler.add_job(
            self._check, self._trigger(self.monitors[monitor_id]), args=[monitor_id],
            id=monitor_id, next_run_time=self._first_run(monitor_id), coalesce=True,
            max_instances=1, misfire_grace_time=None, replace_existing=True,
        )

    def _reschedule(self, monitor_id: str) -> None:
        """Put the job's next run at the stored due time: the database decides."""
        with contextlib.suppress(JobLookupError):  # removed by a reload while it ran
            self.scheduler.modify_job(monitor_id, next_run_time=self._first_run(monitor_id))

    async def _check(self, monitor_id: str, site: SiteRound | None = None) -> None:
        """The job of one monitor, or (``site`` given) a page brought forward by a
        sibling's change (``_site``)."""
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        try:
            monitor = self.monitors.get(monitor_id)
            state = self.store.monitor_state(monitor_id)
            if monitor is None or self.fetcher is None or self._stop.is_set() \
                    or monitor_id in self._checking:
                return
            # A page brought forward is not due yet; one backing off is never hurried.
            due = state.next_due_at
            if due is not None and due > iso(utc_now()) and (
                    site is None or state.consecutive_failures):
                log.debug("%s not due until %s (back-off or Retry-After)", monitor_id, due)
                return
            self._checking.add(monitor_id)
            try:
                report = await check_monitor(
                    monitor, self.fetcher, self.store, self.policy, self.extractor,
                    forget_noise_after=self.config.defaults.forget_noise_after,
                    site=site or self._site(monitor))
            finally:
                self._checking.discard(monitor_id)
            self._counts[report.outcome] += 1
            if report.outcome == "error":
                log.warning("%s: %s", monitor_id, report.error)
            else:
                log.info("%s: %s%s", monitor_id, report.outcome,
                         f" (change #{report.change_id}: {clean_line(report.summary)})"
                         if report.change_id else "")
        finally:
            self._running.discard(task)
            if site is not None:  # not checked (stopping, busy, backing off): never waited on
                site.report(monitor_id, "", None)
            if not self._stop.is_set():
                self._reschedule(monitor_id)

    def _site(self, monitor: Monitor) -> SiteRound | None:
        """The page's site, judged as ``run`` judges it: what the stored pages share, and,
        once a change of this page waits for the template, what every page shows now. Its
        siblings are then checked at once (``bring_forward``), so a new footer is one
        template change of the organization, not one change per page as each job comes."""
        pages = [m for m in self.monitors.values() if m.org_id == monitor.org_id
                 and (m.id == monitor.id or m.id not in self._checking)]
        read = None if self.extractor is None else partial(self.extractor.read_template,
                                                           self.store)
        site = site_rounds(self.store, pages, read).get(monitor.id)
        if site is not None:
            def bring_forward(ids: Collection[str], site: SiteRound = site) -> None:
                for monitor_id in ids:
                    self._spawned.add(asyncio.ensure_future(self._check(monitor_id, site)))
                    self._spawned = {t for t in self._spawned if not t.done()}
            site.bring_forward = bring_forward
        return site

    def _heartbeat(self) -> None:
        store_texts(self.store)  # what plain SQL reads of the texts checked since the last
        now = iso(utc_now())
        record_run(self.store, RunRecord.from_counts(
            "daemon", os.getpid(), self._since, now, self._counts))
        self._since, self._counts = now, Counter()

    async def _heartbeat_job(self) -> None:
        self._heartbeat()

    async def _digest(self) -> None:
        deliver_due(self.config, self.store, utc_now())
        site_stage(self.config, self.store)

    # -- SIGHUP -----------------------------------------------------------------------
    def reload(self) -> None:
        try:
            new = load_config(self.config_path).config
        except ConfigError as exc:
            log.error("config reload failed, keeping the running config: %s", exc)
            return
        added, removed, changed = describe_changes(self.config, new)
        if any(getattr(self.config.defaults, k) != getattr(new.defaults, k)
               for k in FETCH_KEYS):
            log.warning("client settings (timeouts, user agent, concurrency) changed: "
                        "they apply after a restart")
        if self.config.browser != new.browser:
            log.warning("browser settings changed: they apply after a restart")
        self.store.sync_monitors(new.organizations)
        self.config, self.monitors = new, monitor_table(new)
        self.policy = schedule_policy(new.defaults)
        # Per-host limits and spacing may have changed: a new gate over the same client.
        self.fetcher = polite_fetcher(new, self._client, self._settings, self.store,
                                      self._browser)
        if self.extractor is not None:
            self.fetcher.room = self.extractor.room
        for monitor_id in removed:
            self.scheduler.remove_job(monitor_id)
        for monitor_id in [*changed, *added]:
            self._add_job(monitor_id)
        log.info("config reloaded from %s: added %s, removed %s, changed %s",
                 self.config_path, added or "none", removed or "none", changed or "none")


async def run_daemon(config_path: Path, config: Config, store: Store) -> None:
    await Daemon(config_path, config, store).run()
