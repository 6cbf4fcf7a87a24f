"""The ``Notifier`` base class and the registry of channels.

A channel is one subclass that declares ``channel`` (``email``, ``feed``); declaring it
registers the class, and a second class for the same channel is refused at import. The
outbox (``notifications/outbox.py``) drives every channel through the same protocol:
``compose`` fixes the messages of a digest before anything is sent, ``session`` opens the
way out (an SMTP connection, a feed directory) and sends, ``publish`` runs once the
digests are accepted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from core.registry import register
from notifications.digest import Digest
from notifications.links import SiteLinks
from storage.db import Store
from storage.outbox import OutgoingMessage, StoredMessage

#: Every subclass by its ``channel``. Look channels up with
#: ``notifications.notifier_channels``, which imports the built-in ones first.
CHANNELS: dict[str, type[Notifier]] = {}


@dataclass(frozen=True, slots=True)
class OrganizationInfo:
    """What a channel needs to know of an organization beyond its changes."""

    id: str
    name: str
    homepage: str | None = None


@dataclass(frozen=True, slots=True)
class ItemFailure:
    """One change or alert a channel could not publish, and why; the rest went out."""

    kind: str  # change, alert
    item_id: int
    error: str

    def describe(self) -> str:
        return f"{self.kind} #{self.item_id}: {self.error}"


class Session:
    """An open way out for one delivery run. ``send`` raises ``DeliveryFailed``."""

    def send(self, message: StoredMessage) -> tuple[str, ...]:
        """Hand one message over; returns the recipients the server refused (if any)."""
        raise NotImplementedError


class Notifier:
    """Base of every channel. Subclasses register themselves by ``channel``."""

    channel: ClassVar[str]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        register(CHANNELS, cls, "channel", "channel")

    def __init__(self, settings: Any, organizations: tuple[OrganizationInfo, ...] = (),
                 site_url: str | None = None) -> None:
        self.settings = settings
        self.organizations = organizations
        #: The archive site's public URL: messages link each change to its page there.
        self.links = SiteLinks(site_url)

    def change_link(self, change_id: int) -> str | None:
        """The change's page on the archive site; None without a public URL (a local
        path would be no use to the reader)."""
        return self.links.change(change_id)

    @property
    def min_significance(self) -> float:
        return float(getattr(self.settings, "min_significance", 0.0))

    def wants(self, org_id: str) -> bool:
        """Whether anything of this organization can go out on this channel."""
        return True

    def batches(self, digest: Digest) -> list[Digest]:
        """The digests what is owed goes out in, each stored and delivered on its own
        (its deliveries succeed or fail together): one, unless the channel cuts it."""
        return [digest]

    def compose(self, digest: Digest) -> list[OutgoingMessage]:
        """The messages that carry ``digest``, final to the byte (a resend repeats them)."""
        return []

    @contextmanager
    def session(self) -> Iterator[Session]:
        yield Session()

    def publish(self, store: Store, now: datetime) -> tuple[ItemFailure, ...]:
        """Runs after the digests were handed over (the feed channel writes its files);
        returns the items it had to leave out, each with its error."""
        return ()

    def preview(self, store: Store, digest: Digest, messages: list[OutgoingMessage]) -> str:
        """What a dry run prints for this channel."""
        return "\n".join(m.body.decode("utf-8", "replace") for m in messages)
