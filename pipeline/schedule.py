"""When a monitor is next due: schedules, exponential back-off and ``Retry-After``.

Both modes use this module: ``govwatch run`` (cron) selects monitors whose stored
``next_due_at`` has passed, and the daemon sets each job's next run time from it. The
database is the one source of truth, so a restart resumes where the last process stopped.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from monitors.config import MonitorConfig
from storage.records import SUCCESS_OUTCOMES, NextAttempt, iso

if TYPE_CHECKING:  # APScheduler loads only for cron schedules (and in the daemon)
    from apscheduler.triggers.cron import CronTrigger

# A hostile or mistaken Retry-After must not park a monitor for months.
MAX_RETRY_AFTER = timedelta(days=7)
RETRY_AFTER_STATUSES = frozenset({429, 503})
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True, slots=True)
class SchedulePolicy:
    """The config-wide settings that decide due times (from ``defaults``)."""

    timezone: str = "UTC"
    max_backoff: timedelta = timedelta(days=1)


DEFAULT_POLICY = SchedulePolicy()


def _crontab_days(field: str) -> str:
    """A crontab day-of-week field -> APScheduler 3 day names.

    APScheduler 3 numbers weekdays from Monday = 0, crontab from Sunday = 0 (7 is Sunday
    too), so ``1-5`` would silently mean Tuesday to Saturday. Numbers are expanded to
    names, which both agree on.
    """
    if field == "*" or any(c.isalpha() for c in field):
        return field
    days: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            low, high = span.split("-", 1)
            first, last = int(low), int(high)
        else:
            first = last = int(span)
        if not (0 <= first <= 7 and 0 <= last <= 7 and first <= last and step >= 1):
            raise ValueError(f"bad day-of-week {part!r} (0-7, Sunday is 0 or 7)")
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(_CRON_DAYS[day] for day in sorted(days))


def crontab_trigger(expr: str, timezone: str = "UTC", jitter: float | None = None) -> CronTrigger:
    """A standard five-field crontab line (crontab weekday numbers) as an APScheduler trigger."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"need 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=_crontab_days(weekday),
        timezone=zoneinfo.ZoneInfo(timezone), jitter=jitter,
    )


def regular_due(config: MonitorConfig, after: datetime, timezone: str = "UTC") -> datetime:
    """The next regular due time after a check started at ``after`` (no back-off)."""
    if config.cron:
        trigger = crontab_trigger(config.cron, timezone)
        fire: datetime | None = trigger.get_next_fire_time(None, after)
        if fire is not None and fire <= after:
            # The trigger may return ``after`` itself; a check that started then is that run.
            fire = trigger.get_next_fire_time(None, after + timedelta(seconds=1))
        if fire is not None:
            return fire.astimezone(UTC)
    return after + (config.every or timedelta(hours=6))


def backoff_delay(every: timedelta, failures: int, cap: timedelta) -> timedelta:
    """``every * 2**(failures-1)``, capped, and never shorter than ``every`` itself."""
    if failures <= 1:
        return every
    limit = max(cap, every)
    # Compare in float seconds: the timedelta product overflowed after 31 failures of a
    # daily monitor (OverflowError, the run stopped); 2**63 of them exceeds any cap.
    if failures - 1 >= 63 or \
            every.total_seconds() * (1 << (failures - 1)) >= limit.total_seconds():
        return limit
    return every * (1 << (failures - 1))


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """``Retry-After`` as seconds or an HTTP-date -> an absolute time (None if unusable)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        moment = now + timedelta(seconds=min(int(text), int(MAX_RETRY_AFTER.total_seconds())))
    else:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = min(moment, now + MAX_RETRY_AFTER)
    return moment if moment > now else None


def plan_next(
    config: MonitorConfig,
    started: datetime,
    outcome: str,
    failures: int,
    *,
    status: int | None = None,
    headers: dict[str, str] | None = None,
    policy: SchedulePolicy = DEFAULT_POLICY,
) -> NextAttempt:
    """Where a monitor's next attempt goes after a check that started at ``started``.

    ``failures`` is the count of consecutive failures including this check. The next due
    time is the latest of the regular schedule, the back-off and the server's Retry-After.
    """
    due = regular_due(config, started, policy.timezone)
    backoff_until = retry_after = None
    if outcome not in SUCCESS_OUTCOMES and failures > 1:
        every = config.every or timedelta(hours=6)
        backoff = started + backoff_delay(every, failures, policy.max_backoff)
        if backoff > due:
            backoff_until, due = backoff, backoff
    if status in RETRY_AFTER_STATUSES and headers:
        asked = parse_retry_after(headers.get("retry-after"), started)
        if asked is not None:
            retry_after = asked
            due = max(due, asked)
    return NextAttempt(
        next_due_at=iso(due),
        backoff_until=iso(backoff_until) if backoff_until else None,
        retry_after=iso(retry_after) if retry_after else None,
    )
