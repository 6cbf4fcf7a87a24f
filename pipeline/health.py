"""Health for external monitoring: the last heartbeat, the open staleness alerts and the
notification channels whose last delivery failed."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from core.sanitise import clean_line
from core.units import format_duration
from pipeline.config import Config
from storage.db import Store
from storage.outbox import channel_failure
from storage.runs import last_run


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # no-run, stale-monitor, no-change, channel-failed
    subject: str
    message: str


def _age(now: datetime, moment: str | None) -> timedelta | None:
    return now - datetime.fromisoformat(moment) if moment else None


def run_alert(config: Config, store: Store, now: datetime) -> Alert | None:
    run = last_run(store)
    within = config.defaults.expect_run_every
    if run is None:
        return Alert("no-run", "govwatch", "no run has finished yet")
    age = _age(now, run["finished_at"])
    if age is not None and age > within:
        return Alert("no-run", "govwatch",
                     f"the last run ({run['mode']}) finished at {run['finished_at']}, more "
                     f"than expect_run_every {format_duration(within)} ago")
    return None


def staleness_alerts(config: Config, store: Store, now: datetime) -> list[Alert]:
    """No success within ``stale_after``; no change within ``expect_change_every``.

    A monitor or organization is judged from its first check on, so a fresh install
    does not start with alerts.
    """
    rows = {row["id"]: row for row in store.db.query(
        "SELECT m.id, m.org_id, m.last_success_at, m.last_change_at, "
        "(SELECT min(started_at) FROM checks c WHERE c.monitor_id = m.id) AS first_check "
        "FROM monitors m")}
    alerts = []
    stale_after = config.defaults.stale_after
    for org in config.organizations:
        enabled = [rows[m.id] for m in org.monitors if m.enabled and m.id in rows]
        for row in enabled:
            age = _age(now, row["last_success_at"] or row["first_check"])
            if age is not None and age > stale_after:
                since = row["last_success_at"] or "its first check"
                alerts.append(Alert(
                    "stale-monitor", row["id"],
                    f"{org.id}/{row['id']}: no successful check since {since} "
                    f"(stale_after {format_duration(stale_after)})"))
        if org.expect_change_every is None:
            continue
        changes = [r["last_change_at"] for r in enabled if r["last_change_at"]]
        firsts = [r["first_check"] for r in enabled if r["first_check"]]
        reference = max(changes) if changes else (min(firsts) if firsts else None)
        age = _age(now, reference)
        if age is not None and age > org.expect_change_every:
            alerts.append(Alert(
                "no-change", org.id,
                f"{org.id}: no change since {reference} "
                f"(expect_change_every {format_duration(org.expect_change_every)})"))
    return alerts


def channel_alerts(config: Config, store: Store) -> list[Alert]:
    """Every enabled channel whose last delivery failed (a channel that could not be
    reached, or an entry it could not publish), with the error it recorded."""
    alerts = []
    for channel in config.notifications.enabled_channels():
        failure = channel_failure(store, channel)
        if failure is not None:
            at, error = failure
            alerts.append(Alert("channel-failed", channel,
                                f"{channel}: the delivery at {at} failed: "
                                f"{clean_line(error, None)}"))
    return alerts


def health(config: Config, store: Store, now: datetime) -> tuple[bool, list[Alert], Any]:
    alerts = staleness_alerts(config, store, now) + channel_alerts(config, store)
    run = run_alert(config, store, now)
    if run is not None:
        alerts.insert(0, run)
    return not alerts, alerts, last_run(store)


def as_json(healthy: bool, alerts: list[Alert], run: Any) -> dict[str, Any]:
    return {"healthy": healthy, "last_run": run, "alerts": [asdict(a) for a in alerts]}
