"""Channels register by declaring ``channel``; a second class for one channel is refused."""

from __future__ import annotations

import pytest

from notifications import notifier_channels
from notifications.base import Notifier
from notifications.chat import AppriseNotifier
from notifications.feeds import FeedNotifier
from notifications.mail import EmailNotifier
from notifications.webhook import WebhookNotifier


def test_the_four_channels_are_registered() -> None:
    assert notifier_channels() == {"email": EmailNotifier, "feed": FeedNotifier,
                                   "webhook": WebhookNotifier, "apprise": AppriseNotifier}


def test_a_duplicate_channel_is_refused_at_class_creation() -> None:
    with pytest.raises(TypeError, match="channel 'email' is already registered by EmailNotifier"):
        type("AnotherEmail", (Notifier,), {"channel": "email"})
    assert notifier_channels()["email"] is EmailNotifier


def test_a_channel_name_is_required() -> None:
    with pytest.raises(TypeError, match="must declare a non-empty class attribute 'channel'"):
        type("Nameless", (Notifier,), {})
