"""Test hook: die with SIGKILL at a named point, as ``kill -9`` would, to prove recovery.

Set ``GOVWATCH_TEST_CRASH_AT=POINT`` (or ``POINT:N``, the N-th time the process passes
it) and the process kills itself there: no ``finally``, no ``atexit``, no flush, exactly
like a kill from outside but at a precise place. Unset (always, outside the crash tests)
it costs one environment lookup. The points (docs/operations.md):

- ``check-uncommitted``: inside a check's transaction, every row written, before COMMIT;
- ``check-recorded``: right after a check's transaction committed (mid-cycle);
- ``digest-opened``: a digest and its messages committed, nothing sent yet;
- ``message-accepted``: the relay accepted a message, its ``sent`` not yet committed
  (the documented duplicate window);
- ``channel-published``: a channel published (the feed files renamed into place), its
  digests not yet closed (email and feed pass it, in that order).

It lives in ``storage``, the lowest layer that has crash points, so every layer above
can use it.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

CRASH_AT = "GOVWATCH_TEST_CRASH_AT"
POINTS = ("check-uncommitted", "check-recorded", "digest-opened", "message-accepted",
          "channel-published")
_passed: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL if ``GOVWATCH_TEST_CRASH_AT`` names this point."""
    wanted = os.environ.get(CRASH_AT)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _passed[name] += 1
    if _passed[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
