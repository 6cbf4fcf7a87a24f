"""Due times: crontab schedules, exponential back-off with a cap, and Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.errors import ConfigError
from monitors import MonitorConfig
from pipeline.config import parse_config
from pipeline.cycle import run_cycle, select_monitors
from pipeline.schedule import (
    SchedulePolicy,
    backoff_delay,
    crontab_trigger,
    parse_retry_after,
    plan_next,
    regular_due,
)
from storage.db import Store
from tests import fakes

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # a Friday


def monitor(**keys: object) -> MonitorConfig:
    return MonitorConfig(id="m", kind="page", url="https://oecd.ai/", **keys)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        # crontab weekdays: 1-5 is Monday to Friday (APScheduler 3 alone would read Tue-Sat).
        ("0 7 * * 1-5", datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
         datetime(2026, 11, 30, 7, 0, tzinfo=UTC)),
        ("0 7 * * 1-5", datetime(2026, 11, 26, 6, 0, tzinfo=UTC),
         datetime(2026, 11, 26, 7, 0, tzinfo=UTC)),
        ("30 9 * * 0", NOW, datetime(2026, 11, 29, 9, 30, tzinfo=UTC)),   # Sunday is 0
        ("30 9 * * 7", NOW, datetime(2026, 11, 29, 9, 30, tzinfo=UTC)),   # ... and 7
        ("0 12 * * sat", NOW, datetime(2026, 11, 28, 12, 0, tzinfo=UTC)),
        ("*/15 * * * *", NOW, datetime(2026, 11, 27, 10, 15, tzinfo=UTC)),  # not NOW itself
    ],
)
def test_cron_due_times_follow_crontab_weekdays(
    expr: str, after: datetime, expected: datetime
) -> None:
    assert regular_due(monitor(cron=expr), after) == expected


def test_cron_is_timezone_aware() -> None:
    due = regular_due(monitor(cron="0 7 * * *"), NOW, "Europe/Paris")
    assert due == datetime(2026, 11, 28, 6, 0, tzinfo=UTC)  # 07:00 CET is 06:00 UTC


@pytest.mark.parametrize("expr", ["0 7 * *", "0 25 * * *", "0 7 * * 1-9", "x 7 * * *"])
def test_bad_crontab_is_refused(expr: str) -> None:
    with pytest.raises(ValueError):
        crontab_trigger(expr)


def test_config_names_the_line_of_a_bad_cron_and_refuses_cron_with_every() -> None:
    base = ("organizations:\n  - id: o\n    name: O\n    monitors:\n"
            "      - id: m\n        kind: page\n        url: https://o.example/\n")
    with pytest.raises(ConfigError, match=r"^x.yaml:8: bad cron '0 7 \* \*'"):
        parse_config(base + "        cron: '0 7 * *'\n", "x.yaml")
    with pytest.raises(ConfigError, match="sets both 'every' and 'cron'"):
        parse_config(base + "        cron: '0 7 * * *'\n        every: 1h\n", "x.yaml")
    with pytest.raises(ConfigError, match="unknown timezone 'Mars/Olympus'"):
        parse_config("defaults: {timezone: Mars/Olympus}\n" + base, "x.yaml")


def test_backoff_doubles_and_caps_but_never_beats_every() -> None:
    hour, cap = timedelta(hours=1), timedelta(hours=5)
    delays = [backoff_delay(hour, failures, cap) for failures in range(1, 7)]
    assert delays == [hour, 2 * hour, 4 * hour, cap, cap, cap]
    assert backoff_delay(timedelta(days=2), 3, timedelta(days=1)) == timedelta(days=2)
    assert backoff_delay(hour, 10_000, cap) == cap


@pytest.mark.parametrize("every", [timedelta(minutes=5), timedelta(hours=6), timedelta(days=1),
                                   timedelta(days=30)])
@pytest.mark.parametrize("failures", [30, 31, 32, 40, 62, 63, 64, 65, 1000])
def test_a_long_outage_backs_off_to_the_cap_without_overflow(every: timedelta,
                                                            failures: int) -> None:
    # A daily monitor failing 31 times in a row overflowed timedelta and stopped the run.
    cap = timedelta(days=7)
    assert backoff_delay(every, failures, cap) == max(cap, every)


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("120", NOW) == NOW + timedelta(seconds=120)
    assert parse_retry_after("Fri, 27 Nov 2026 12:00:00 GMT", NOW) == NOW + timedelta(hours=2)
    assert parse_retry_after("Fri, 27 Nov 2026 09:00:00 GMT", NOW) is None  # in the past
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("99999999", NOW) == NOW + timedelta(days=7)  # capped


def test_plan_next_takes_the_latest_of_schedule_backoff_and_retry_after() -> None:
    every = monitor(every=timedelta(hours=1))
    policy = SchedulePolicy(max_backoff=timedelta(hours=3))
    ok = plan_next(every, NOW, "unchanged", 0, policy=policy)
    assert (ok.next_due_at, ok.backoff_until, ok.retry_after) == (
        "2026-11-27T11:00:00.000+00:00", None, None)
    third = plan_next(every, NOW, "error", 3, policy=policy)
    assert third.next_due_at == third.backoff_until == "2026-11-27T13:00:00.000+00:00"
    busy = plan_next(every, NOW, "error", 1, status=429, headers={"retry-after": "7200"})
    assert busy.next_due_at == busy.retry_after == "2026-11-27T12:00:00.000+00:00"
    ignored = plan_next(every, NOW, "error", 1, status=500, headers={"retry-after": "7200"})
    assert ignored.retry_after is None and ignored.next_due_at == "2026-11-27T11:00:00.000+00:00"


CONFIG = parse_config("""
defaults: {every: 1h, max_backoff: 4h}
organizations:
  - id: o
    name: O
    monitors:
      - {id: down, kind: page, url: "https://down.example/"}
      - {id: busy, kind: page, url: "https://busy.example/"}
""")


async def test_backoff_grows_and_caps_over_cycles(store: Store) -> None:
    router = fakes.router()
    router.get(url__regex=r"/robots\.txt$").respond(404)
    router.get("https://down.example/").respond(500, text="oops")
    router.get("https://busy.example/").respond(200, text="<p>fine</p>")
    gaps = []
    for _ in range(5):
        monitors = [m for m in select_monitors(CONFIG, store, run_all=True) if m.id == "down"]
        await run_cycle(CONFIG, store, monitors,
                        transport=httpx.MockTransport(router.async_handler))
        row = store.db.table("monitors").get("down")
        last, due = (datetime.fromisoformat(row[k]) for k in ("last_check_at", "next_due_at"))
        gaps.append(round((due - last) / timedelta(hours=1)))
        assert (row["backoff_until"] is None) == (gaps[-1] == 1)
    assert gaps == [1, 2, 4, 4, 4]
    assert "down" not in {m.id for m in select_monitors(CONFIG, store)}, "backing off"


async def test_retry_after_on_503_delays_the_next_attempt(store: Store) -> None:
    router = fakes.router()
    router.get("https://busy.example/").respond(
        503, text="busy", headers={"Retry-After": "10800"})
    router.get("https://down.example/").respond(200, text="<p>up</p>")
    router.get(url__regex=r"/robots\.txt$").respond(404)
    transport = httpx.MockTransport(router.async_handler)
    store.sync_monitors(CONFIG.organizations)
    await run_cycle(CONFIG, store, select_monitors(CONFIG, store), transport=transport)
    row = store.db.table("monitors").get("busy")
    waited = datetime.fromisoformat(row["next_due_at"]) - datetime.fromisoformat(
        row["last_check_at"])
    assert waited == timedelta(hours=3) and row["next_due_at"] == row["retry_after"]
    check = store.db.execute(
        "SELECT headers FROM checks WHERE monitor_id = 'busy'").fetchone()[0]
    assert '"retry-after":"10800"' in check, "the header is kept as evidence"
    assert [m.id for m in select_monitors(CONFIG, store)] == []
