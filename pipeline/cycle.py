"""One monitoring cycle: the stage order of govwatch lives here."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from core.errors import FailureKind
from core.records import Extracted, FetchResult
from monitors import build_monitor
from monitors.base import Monitor
from monitors.volatility import Noise
from pipeline import stages
from pipeline.config import Config, Defaults
from pipeline.copies import confirm, evaluate, judge_with_site, take_copy
from pipeline.fetch.bodies import SMALL_BODY
from pipeline.pool import Extractor, worker_count
from pipeline.schedule import DEFAULT_POLICY, SchedulePolicy, plan_next
from pipeline.templates import SiteRound, site_rounds
from storage.crashpoints import crash_point
from storage.db import Store
from storage.noise import learned as learned_noise
from storage.records import (
    SUCCESS_OUTCOMES,
    Capture,
    Check,
    MonitorState,
    PackedContent,
    Recorded,
    iso,
    utc_now,
)
from storage.search import store_texts

if TYPE_CHECKING:  # the HTTP stack loads where checks are fetched
    import httpx

    from pipeline.fetch.client import Fetcher, FetchSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CheckReport:
    org_id: str
    monitor_id: str
    url: str
    outcome: str
    check_id: int
    change_id: int | None = None
    notable: bool = True
    summary: str = ""
    error: str | None = None
    #: A second copy was fetched to tell noise from a change.
    confirmed: bool = False


@dataclass(frozen=True, slots=True)
class CycleReport:
    started_at: str
    finished_at: str
    checks: tuple[CheckReport, ...] = field(default_factory=tuple)

    @property
    def counts(self) -> Counter[str]:
        return Counter(check.outcome for check in self.checks)

    @property
    def changes(self) -> list[CheckReport]:
        """Changes worth announcing (at or above their monitor's min_significance)."""
        return [c for c in self.checks if c.change_id is not None and c.notable]

    @property
    def muted(self) -> list[CheckReport]:
        return [c for c in self.checks if c.change_id is not None and not c.notable]

    @property
    def errors(self) -> list[CheckReport]:
        return [c for c in self.checks if c.outcome == "error"]


def schedule_policy(defaults: Defaults) -> SchedulePolicy:
    return SchedulePolicy(timezone=defaults.timezone, max_backoff=defaults.max_backoff)


def parse_deadline(defaults: Defaults) -> float:
    return defaults.parse_timeout.total_seconds()


def fetch_settings(defaults: Defaults) -> FetchSettings:
    from pipeline.fetch.client import FetchSettings

    return FetchSettings(
        connect_timeout=defaults.connect_timeout, read_timeout=defaults.read_timeout,
        max_redirects=defaults.max_redirects, user_agent=defaults.user_agent,
        concurrency=defaults.concurrency, per_host=defaults.per_host,
        confirm_pause=defaults.confirm_pause,
    )


def select_monitors(
    config: Config,
    store: Store,
    *,
    run_all: bool = False,
    org_ids: Iterable[str] = (),
    monitor_ids: Iterable[str] = (),
) -> list[Monitor]:
    """Enabled monitors that are due, narrowed by organization or monitor id.

    Naming monitors explicitly runs them whether due or not; ``run_all`` ignores due times.
    """
    orgs, named = set(org_ids), set(monitor_ids)
    due = None if (run_all or named) else store.due_monitor_ids(utc_now())
    chosen = []
    for org, monitor_config in config.monitors():
        if not monitor_config.enabled:
            continue
        if (orgs and org.id not in orgs) or (named and monitor_config.id not in named):
            continue
        if due is not None and monitor_config.id not in due:
            continue
        chosen.append(build_monitor(monitor_config, org.id))
    return chosen


async def check_monitor(
    monitor: Monitor, fetcher: Fetcher, store: Store, policy: SchedulePolicy = DEFAULT_POLICY,
    extractor: Extractor | None = None, *, forget_noise_after: int | None = None,
    site: SiteRound | None = None,
) -> CheckReport:
    """Fetch, extract, compare and store one monitor. Never raises for a bad source.

    A difference is confirmed on a second copy first: what differs between two copies
    fetched moments apart changes by itself, and is learned as such (``confirm``). A
    first check is copied too, so that the first comparison already knows what changes
    by itself, unless a strong ETag vouches for its bytes; a body over ``SMALL_BODY``
    (1 MB) is not copied.
    ``site`` holds the pages of the monitor's organization on its host checked in this
    cycle: a change only in what they share (the site's template) is recorded but not
    announced, and its links are not new documents."""
    try:
        report, first = await _check(monitor, fetcher, store, policy, extractor,
                                     forget_noise_after, site)
    finally:
        if site is not None:  # a check that ended early must not keep its siblings waiting
            site.report(monitor.id, monitor.config.url, None)
    if first is None:
        return report
    # A first check is new whatever its copy shows, so it is stored before the copy is
    # taken: its body is not held through the pause.
    async with fetcher.bodies.check():
        check, content, state, noise = first
        store.record_copy(await take_copy(monitor, fetcher, check, content, state, store,
                                          extractor, noise))
    return replace(report, confirmed=True)


#: What a first check's copy needs: the first check, its content, the monitor's state
#: before it and what is known of the source's noise.
FirstCopy = tuple[Check, Extracted | PackedContent, MonitorState, Noise]


async def _check(
    monitor: Monitor, fetcher: Fetcher, store: Store, policy: SchedulePolicy,
    extractor: Extractor | None, forget_noise_after: int | None, site: SiteRound | None,
) -> tuple[CheckReport, FirstCopy | None]:
    async with fetcher.bodies.check():  # a large body's memory is held until it is stored
        state = store.monitor_state(monitor.id)
        noise = Noise(learned_noise(store, monitor.id, unused_for=forget_noise_after))
        fetched = await fetcher.fetch(monitor, state)                    # 1. fetch
        if site is not None and stages.has_body_to_read(fetched):
            before = await site.before()
            noise = replace(noise, template=before.lines, template_links=before.links)
        outcome = await evaluate(monitor, fetched, state, store, extractor, noise)  # 2-3.
        if site is not None:
            fresh = outcome.change is not None or state.last_content_hash is None
            site.report(monitor.id, monitor.config.url, outcome.content if fresh else None)
        copy, first = None, None
        # A body over 1 MB is not copied: learning would hold three versions of it at
        # once (its noise is still learned from history).
        if outcome.confirmable and fetched.bytes_received <= SMALL_BODY:  # 2-3. again
            if outcome.check.outcome == "new" and outcome.content is not None:
                if monitor.config.render == "browser" or not vouches_for_its_bytes(
                        fetched.headers):  # scripts write what a document's tag covers not
                    first = (outcome.check, outcome.content, state, noise)
            else:
                copy, outcome = await confirm(monitor, fetcher, fetched, state, store,
                                              extractor, noise, outcome)
        if (site is not None and outcome.change is not None and outcome.change.quiet is None
                and fetched.bytes_received <= SMALL_BODY):               # 3. with the site
            if copy is not None:
                noise = replace(noise, learned=noise.learned | frozenset(copy.learned))
            outcome = await judge_with_site(monitor, fetched, state, store, extractor,
                                             noise, outcome, site)
        captures: list[Capture] = []
        change = outcome.change
        if change is not None and change.quiet is not None:
            change = replace(change, reasons=(*change.reasons, f"not announced: {change.quiet}"))
        if change is not None and monitor.config.capture_new_documents and change.quiet is None:
            from pipeline.fetch.capture import capture_documents

            captures = await capture_documents(monitor, change, fetcher)
        notable = change is None or (change.significance >= monitor.config.min_significance
                                     and change.quiet is None)
        check = outcome.check
        failures = 0 if check.outcome in SUCCESS_OUTCOMES else state.consecutive_failures + 1
        next_attempt = plan_next(
            monitor.config, datetime.fromisoformat(check.started_at), check.outcome, failures,
            status=check.status, headers=check.headers, policy=policy,
        )
        recorded: Recorded = store.record(                               # 4. store
            check, snapshot=outcome.snapshot, content=outcome.content,
            change=change, every=monitor.config.every, signal=outcome.signal,
            notable=notable, captures=tuple(captures), next_attempt=next_attempt, copy=copy,
            noted=tuple(outcome.noted) if change else (),
        )
        crash_point("check-recorded")
        return CheckReport(
            org_id=monitor.org_id, monitor_id=monitor.id, url=monitor.config.url,
            outcome=check.outcome, check_id=recorded.check_id,
            change_id=recorded.change_id, notable=notable,
            summary=change.summary if change else "", error=check.error,
            confirmed=copy is not None,
        ), first


def vouches_for_its_bytes(headers: Mapping[str, str]) -> bool:
    """A strong ETag: the server says the bytes stay the same until it changes (RFC 9110,
    8.8.1), so a copy of a first check would be answered 304 and teach nothing. Noise that
    changes the tag shows at the next check, which is confirmed then."""
    etag = headers.get("etag", "").strip()
    return etag.startswith('"') and len(etag) > 2


async def run_cycle(
    config: Config,
    store: Store,
    monitors: list[Monitor],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    on_check: Callable[[CheckReport], None] | None = None,
) -> CycleReport:
    """Check ``monitors`` concurrently within the configured limits, then report.

    One event loop fetches and records; parsing and comparing run in the worker pool when
    the cycle is large enough to pay for it (``workers``). ``on_check`` is called as each
    check is stored (the progress bar). The digest (stage 5) follows the cycle in
    ``govwatch run``; the daemon calls ``check_monitor`` per job with the same pieces.
    """
    from pipeline.fetch.client import build_client, polite_fetcher, rendering

    started = iso(utc_now())
    store.sync_monitors(config.organizations)
    settings = fetch_settings(config.defaults)
    policy = schedule_policy(config.defaults)
    workers = worker_count(len(monitors), config.defaults.workers)
    async with build_client(settings, transport) as client, \
            rendering(config, settings) as browser:
        fetcher = polite_fetcher(config, client, settings, store, browser)
        with Extractor(workers, store.path, parse_deadline(config.defaults)) as extractor:
            fetcher.room = extractor.room
            # Once per cycle, from what is stored: the pages of each site judged together.
            rounds = site_rounds(store, monitors, partial(extractor.read_template, store))
            if store.without_validators([m.id for m in monitors]):
                # Bodies are coming (a monitor without ETag or Last-Modified is always
                # sent one): fork now, while this process is small, so that workers share
                # its pages instead of copying a heap that fetching has grown. A cycle that
                # only expects 304s starts the pool with its first body, if one comes.
                extractor.start()

            plain_first = PlainFirst(monitors)

            async def one(monitor: Monitor) -> CheckReport:
                async with plain_first.turn(monitor):
                    report = await check_monitor(
                        monitor, fetcher, store, policy, extractor,
                        forget_noise_after=config.defaults.forget_noise_after,
                        site=rounds.get(monitor.id))
                if on_check is not None:
                    on_check(report)
                return report

            reports = await within_deadline(
                monitors, one, config.defaults.run_timeout.total_seconds(), store, policy,
                on_check)
    # Once per cycle, off the path of each check: plain SQL reads the new texts.
    store_texts(store)
    return CycleReport(started_at=started, finished_at=iso(utc_now()), checks=tuple(reports))


class PlainFirst:
    """Rendered pages start once every other check of the cycle has ended: the browser's
    CPU (about 0.9 s a page, docs/render.md) slowed 1,000 plain pages by half or more on
    two shared cores, and a rendered page is the slow end of a run anyway."""

    def __init__(self, monitors: Iterable[Monitor]) -> None:
        self._left = sum(1 for m in monitors if m.config.render != "browser")
        self._done = asyncio.Event()
        if not self._left:
            self._done.set()

    @asynccontextmanager
    async def turn(self, monitor: Monitor) -> AsyncIterator[None]:
        if monitor.config.render == "browser":
            await self._done.wait()
            yield
            return
        try:
            yield
        finally:  # ended, failed or cancelled: it no longer goes first
            self._left -= 1
            if not self._left:
                self._done.set()


async def within_deadline(
    monitors: list[Monitor], check: Callable[[Monitor], Awaitable[CheckReport]],
    seconds: float, store: Store, policy: SchedulePolicy,
    on_check: Callable[[CheckReport], None] | None,
) -> list[CheckReport]:
    """Every check of the cycle, each stopped and recorded as failed if the cycle is
    still running after ``seconds`` (``run_timeout``): a run always ends, so its lock
    is always released."""
    tasks = [asyncio.ensure_future(check(monitor)) for monitor in monitors]
    if not tasks:
        return []
    _, late = await asyncio.wait(tasks, timeout=seconds)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    reports = []
    for monitor, task in zip(monitors, tasks, strict=True):
        if task not in late:
            reports.append(task.result())
            continue
        started = iso(utc_now())
        fetched = FetchResult.failure(
            monitor.id, monitor.config.url, started, 0, FailureKind.FETCH_TIMEOUT,
            f"the run reached run_timeout ({seconds:g}s) before this check ended; it was "
            "stopped")
        state = store.monitor_state(monitor.id)
        check_row = stages.failed(fetched, fetched.error or "").check
        recorded = store.record(
            check_row, every=monitor.config.every, signal=state.signal,
            next_attempt=plan_next(monitor.config, datetime.fromisoformat(started), "error",
                                   state.consecutive_failures + 1, policy=policy))
        report = CheckReport(org_id=monitor.org_id, monitor_id=monitor.id,
                             url=monitor.config.url, outcome="error",
                             check_id=recorded.check_id, error=check_row.error)
        log.error("%s: %s", monitor.id, check_row.error)
        if on_check is not None:
            on_check(report)
        reports.append(report)
    return reports

