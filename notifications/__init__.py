"""Delivery of change digests: the email, feed, webhook and Apprise channels and the
outbox protocol that delivers every change exactly once per channel (see
docs/architecture.md).

The lookup of channels lives here, above the channels, because finding them means
importing them: in ``notifications.base``, which every channel imports, it would close an
import cycle. It runs only when a channel is enabled, so a run without one never loads
SMTP, Jinja2 or feedgen.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notifications.base import Notifier


@cache
def _registry() -> dict[str, type[Notifier]]:
    """The registry of channels, with the built-in ones in it (defining a class registers it)."""
    from notifications import chat, feeds, mail, webhook  # noqa: F401
    from notifications.base import CHANNELS

    return CHANNELS


def notifier_channels() -> dict[str, type[Notifier]]:
    """The registered channels, by name."""
    return dict(_registry())
