"""The daemon's digest job: every minute it delivers what the ``digest`` schedule makes due.

With ``digest: after-run`` whatever the monitors' checks recorded since the last delivery
goes out within a minute; with a time of day, once a day after that time (UTC). The
channels, outbox and exactly-once protocol are ``pipeline.digest``'s, as for ``run``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from monitors.errors import GovwatchError
from pipeline.config import Config
from pipeline.digest import digest_stage, start_channels
from storage.db import Store

log = logging.getLogger(__name__)

#: How often the daemon asks whether a digest is owed; the digest decides what is owed.
DIGEST_POLL = timedelta(minutes=1)


def deliver_owed(config: Config, store: Store, now: datetime) -> int:
    """Deliver every digest due at ``now``; returns how many channels took part (0: none)."""
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
