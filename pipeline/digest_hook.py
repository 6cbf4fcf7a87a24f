"""The daemon's digest job calls :func:`deliver_owed` on its own schedule.

This is a hook, not an implementation: notifications (digests by e-mail and feeds) arrive
with the digest work. Until then the hook does nothing and says so at debug level. When
``notifications`` exposes its delivery, this function calls it; the daemon needs no change.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from pipeline.config import Config
from storage.db import Store

log = logging.getLogger(__name__)

#: How often the daemon asks whether a digest is owed; the digest decides what is owed.
DIGEST_POLL = timedelta(minutes=1)


def deliver_owed(config: Config, store: Store, now: datetime) -> int:
    """Deliver every digest owed at ``now``; returns how many were sent (0: none yet)."""
    log.debug("digest hook at %s: notifications are not available yet; nothing delivered",
              now.isoformat())
    return 0
