"""One monitoring cycle: the stage order of govwatch lives here."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from monitors import build_monitor
from monitors.base import Monitor
from monitors.records import FetchResult
from pipeline import stages
from pipeline.config import Config, Defaults
from pipeline.fetch import Fetcher, FetchSettings, build_client
from pipeline.politeness import polite_fetcher
from pipeline.schedule import DEFAULT_POLICY, SchedulePolicy, plan_next
from storage.db import Store
from storage.records import SUCCESS_OUTCOMES, MonitorState, Recorded, iso, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CheckReport:
    org_id: str
    monitor_id: str
    url: str
    outcome: str
    check_id: int
    change_id: int | None = None
    summary: str = ""
    error: str | None = None


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
        return [c for c in self.checks if c.change_id is not None]

    @property
    def errors(self) -> list[CheckReport]:
        return [c for c in self.checks if c.outcome == "error"]


def schedule_policy(defaults: Defaults) -> SchedulePolicy:
    return SchedulePolicy(timezone=defaults.timezone, max_backoff=defaults.max_backoff)


def fetch_settings(defaults: Defaults) -> FetchSettings:
    return FetchSettings(
        connect_timeout=defaults.connect_timeout, read_timeout=defaults.read_timeout,
        max_redirects=defaults.max_redirects, user_agent=defaults.user_agent,
        concurrency=defaults.concurrency, per_host=defaults.per_host,
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
    monitor: Monitor, fetcher: Fetcher, store: Store, policy: SchedulePolicy = DEFAULT_POLICY
) -> CheckReport:
    """Fetch, extract, compare and store one monitor. Never raises for a bad source."""
    state = store.monitor_state(monitor.id)
    fetched = await fetcher.fetch(monitor, state)                        # 1. fetch
    try:
        outcome = process(monitor, fetched, state, store)
    except Exception as exc:
        log.exception("internal error while processing %s", monitor.id)
        outcome = stages.failed(fetched, f"internal error: {type(exc).__name__}: {exc}")
    check = outcome.check
    failures = 0 if check.outcome in SUCCESS_OUTCOMES else state.consecutive_failures + 1
    next_attempt = plan_next(
        monitor.config, datetime.fromisoformat(check.started_at), check.outcome, failures,
        status=check.status, headers=check.headers, policy=policy,
    )
    recorded: Recorded = store.record(                                   # 4. store
        outcome.check, snapshot=outcome.snapshot, content=outcome.content,
        change=outcome.change, every=monitor.config.every, next_attempt=next_attempt,
    )
    return CheckReport(
        org_id=monitor.org_id, monitor_id=monitor.id, url=monitor.config.url,
        outcome=outcome.check.outcome, check_id=recorded.check_id,
        change_id=recorded.change_id,
        summary=outcome.change.summary if outcome.change else "",
        error=outcome.check.error,
    )


def process(
    monitor: Monitor, fetched: FetchResult, state: MonitorState, store: Store
) -> stages.Outcome:
    """Stages 2 and 3 for one fetch result; reads the previous content when needed."""
    if fetched.error is not None:
        return stages.failed(fetched, fetched.error)
    if fetched.not_modified:
        return stages.not_modified(fetched, state)
    snapshot, extracted = stages.extract(monitor, fetched)               # 2. extract
    if isinstance(extracted, str):
        return stages.failed(fetched, extracted, snapshot)
    previous = None
    if state.last_content_hash == extracted.content_hash:
        previous = extracted  # equal content: compare() finds nothing without a read
    elif state.last_content_hash is not None:
        previous = store.load_content(state.last_content_hash)
    return stages.compare(monitor, fetched, snapshot, extracted, previous)  # 3. compare


async def run_cycle(
    config: Config,
    store: Store,
    monitors: list[Monitor],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    on_check: Callable[[CheckReport], None] | None = None,
) -> CycleReport:
    """Check ``monitors`` concurrently within the configured limits, then report.

    ``on_check`` is called as each check is stored (the progress bar).

    The digest stage (5) is not part of the cycle yet: changes stay in the store.
    """
    started = iso(utc_now())
    store.sync_monitors(config.organizations)
    settings = fetch_settings(config.defaults)
    async with build_client(settings, transport) as client:
        fetcher = polite_fetcher(config, client, settings, store)
        policy = schedule_policy(config.defaults)

        async def one(monitor: Monitor) -> CheckReport:
            report = await check_monitor(monitor, fetcher, store, policy)
            if on_check is not None:
                on_check(report)
            return report

        reports = await asyncio.gather(*(one(m) for m in monitors))
    return CycleReport(started_at=started, finished_at=iso(utc_now()), checks=tuple(reports))
