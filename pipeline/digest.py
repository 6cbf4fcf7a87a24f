"""Stage 5 of a run: deliver the digests the config asks for, when it asks for them.

``deliver_owed`` delivers now (``govwatch digest``, the daemon's timed job);
``digest_stage`` is what ``govwatch run`` calls after its cycle: with ``digest: after-run``
it delivers every time, with a time of day it delivers on the first run after that time
each day (UTC), and remembers the day in the database once every channel succeeded.

A run with no channel enabled imports none of the channels' code: the functions import
it once a channel is enabled (docs/architecture.md, "Start-up").
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from core.errors import ConfigError, GovwatchError, LockHeld
from notifications.config import digest_time
from storage import outbox
from storage.records import iso, utc_now

if TYPE_CHECKING:
    from notifications import outbox as protocol
    from notifications.base import Notifier
    from pipeline.config import Config
    from storage.db import Store

log = logging.getLogger(__name__)
LAST_DIGEST_DAY = "last_digest_day"


def build_notifiers(config: Config, only: str | None = None) -> list[Notifier]:
    """The enabled channels, in a fixed order (``only`` narrows to one of them)."""
    from notifications import notifier_channels
    from notifications.base import OrganizationInfo

    enabled = config.notifications.enabled_channels()
    if only is not None and only not in enabled:
        raise ConfigError(f"channel {only!r} is not enabled in the config "
                          f"(notifications.{only}.enabled); enabled: "
                          f"{', '.join(enabled) or 'none'}")
    organizations = tuple(OrganizationInfo(o.id, o.name, o.homepage)
                          for o in config.organizations)
    classes = notifier_channels()
    return [classes[name](settings, organizations, config.site_url)
            for name, settings in enabled.items() if only is None or name == only]


def start_channels(config: Config, store: Store, now: datetime | None = None) -> None:
    """Make every enabled channel owe what is recorded from now on (idempotent).

    ``govwatch run`` calls it before its cycle, so the first cycle with a channel enabled is
    already owed to it; a long-running caller calls it at start.
    """
    channels = list(config.notifications.enabled_channels())
    if channels:
        outbox.register_channels(store, channels, iso(now or utc_now()))


def deliver_owed(
    config: Config, store: Store, now: datetime | None = None, *, channel: str | None = None
) -> protocol.DeliveryReport:
    """Deliver everything the enabled channels owe, now, whatever the schedule."""
    from notifications import outbox as protocol

    now = now or utc_now()
    notifiers = build_notifiers(config, channel)
    if not notifiers:
        return protocol.DeliveryReport()
    start_channels(config, store, now)
    return protocol.deliver(store, notifiers, config.notifications.alert_after_failures, now)


def preview_owed(
    config: Config, store: Store, now: datetime | None = None, *, channel: str | None = None
) -> protocol.DeliveryReport:
    """What ``deliver_owed`` would send; nothing is written anywhere."""
    from notifications import outbox as protocol

    notifiers = build_notifiers(config, channel)
    return protocol.preview(store, notifiers, config.notifications.alert_after_failures,
                            now or utc_now())


def digest_due(config: Config, store: Store, now: datetime) -> bool:
    """Whether a ``run`` finishing at ``now`` should deliver."""
    at = digest_time(config.digest)
    if at is None:
        return True
    now = now.astimezone(UTC)
    return now.time() >= at and \
        outbox.get_state(store, LAST_DIGEST_DAY) != now.date().isoformat()


def digest_stage(
    config: Config, store: Store, now: datetime | None = None
) -> protocol.DeliveryReport | None:
    """Stage 5 of ``govwatch run``; ``None`` when nothing was due."""
    now = now or utc_now()
    if not config.notifications.enabled_channels() or not digest_due(config, store, now):
        return None
    try:
        report = deliver_owed(config, store, now)
    except LockHeld as exc:
        # Another process is delivering right now; what is owed stays owed for it or us.
        log.warning("digest skipped: %s", exc)
        return None
    if report.ok and digest_time(config.digest) is not None:
        outbox.set_state(store, LAST_DIGEST_DAY, now.astimezone(UTC).date().isoformat())
    return report


#: How often the daemon asks whether a digest is owed; the digest decides what is owed.
DIGEST_POLL = timedelta(minutes=1)


def deliver_due(config: Config, store: Store, now: datetime) -> int:
    """The daemon's digest job: deliver every digest due at ``now`` and log failures;
    returns how many channels took part (0: none)."""
    try:
        start_channels(config, store, now)
        report = digest_stage(config, store, now)
    except GovwatchError as exc:
        # A channel that is down stays owed; the next poll tries again.
        log.error("digest delivery failed: %s", exc)
        return 0
    if report is None:
        return 0
    for channel in report.channels:
        if channel.error is not None:
            log.error("digest channel %s failed: %s", channel.channel, channel.error)
    return len(report.channels)
