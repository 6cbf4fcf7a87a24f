"""The delivery protocol: every owed change goes out once per channel, crashes included.

For each channel, under a lock:

0. mark what is owed (a delivery row per change and alert the channel has no row for);
1. open the way out (SMTP connect and login) *before* anything is fixed: if the relay is
   down, nothing is created and the owed items wait, to go out together later;
2. resend every message of an earlier digest left in ``sending`` (same bytes, same
   Message-ID), then compose the new digest, store it with its messages and commit;
   a channel may cut what is owed into several digests (``Notifier.batches``: a webhook
   per change), each composed, stored and sent in turn;
3. send each message and commit ``sent`` right after the server accepted it; the last
   message of a digest marks its deliveries ``delivered`` in the same commit. A message
   the receiver refuses for good (``DeliveryRejected``: an HTTP 4xx) is committed
   ``failed`` with the reason, and its digest's deliveries ``failed``: never resent.

A change is in exactly one digest per channel, and a digest is resent until accepted, so
nothing is lost or sent twice, except in the one window between the server's acceptance
and the commit of step 3: a process killed there resends that message, with the same
Message-ID, on the next run.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from core.errors import DeliveryFailed, DeliveryRejected, LockHeld
from core.sanitise import clean_line
from notifications.base import ItemFailure, Notifier, Session
from notifications.digest import Digest
from storage import digests, outbox
from storage.alerts import scan_alerts
from storage.chain import current_heads
from storage.crashpoints import crash_point
from storage.db import Store
from storage.records import iso

log = logging.getLogger(__name__)

#: Test hook: exit at once after the server accepted a message, before the commit,
#: to prove that the duplicate window is the only one (tests/integration/test_digest_*).
CRASH_AFTER_SEND = "GOVWATCH_TEST_CRASH_AFTER_SEND"


@dataclass(frozen=True, slots=True)
class ChannelReport:
    channel: str
    digests_opened: int = 0
    messages_sent: int = 0
    delivered: int = 0
    refused: tuple[str, ...] = ()
    #: Why each message refused for good (recorded ``failed``) was refused.
    failed: tuple[str, ...] = ()
    error: str | None = None
    preview: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    alerts_recorded: int = 0
    channels: tuple[ChannelReport, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(channel.error is None for channel in self.channels)


@contextmanager
def delivery_lock(store: Store) -> Iterator[None]:
    """One delivery run per database at a time: two would both resend a ``sending`` digest."""
    path = Path(f"{store.path.resolve()}.digest.lock")  # one lock per file, however named
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise LockHeld(f"another govwatch process is delivering digests ({path})") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare(store: Store, notifiers: list[Notifier], alert_after: int, now: datetime) -> int:
    """Record new alerts and mark what every enabled channel owes; returns alerts recorded."""
    outbox.register_channels(store, [n.channel for n in notifiers], iso(now))
    recorded = scan_alerts(store, alert_after)
    for notifier in notifiers:
        outbox.add_owed(store, notifier.channel, iso(now), notifier.min_significance)
    return recorded


def deliver(
    store: Store, notifiers: list[Notifier], alert_after: int, now: datetime
) -> DeliveryReport:
    """Deliver what every channel owes. A failing channel is reported, never raised."""
    with delivery_lock(store):
        recorded = prepare(store, notifiers, alert_after, now)
        reports = tuple(deliver_channel(store, notifier, now) for notifier in notifiers)
    return DeliveryReport(recorded, reports)


def preview(
    store: Store, notifiers: list[Notifier], alert_after: int, now: datetime
) -> DeliveryReport:
    """What ``deliver`` would send, worked out on an in-memory copy: writes nothing."""
    copy = outbox.in_memory_copy(store)
    try:
        recorded = prepare(copy, notifiers, alert_after, now)
        reports = []
        for notifier in notifiers:
            digest = _pending_digest(copy, notifier, now)
            resend = digests.unsent_messages(copy, notifier.channel)
            messages = [outbox.OutgoingMessage(m.message_id, m.recipients, m.body)
                        for m in resend]
            batches = [] if digest.empty else notifier.batches(digest)
            for part in batches:
                messages += notifier.compose(part)
            reports.append(ChannelReport(
                notifier.channel, digests_opened=len(batches),
                preview=notifier.preview(copy, digest, messages)))
        return DeliveryReport(recorded, tuple(reports))
    finally:
        copy.close()


def _pending_digest(store: Store, notifier: Notifier, now: datetime) -> Digest:
    changes, alerts = outbox.pending(store, notifier.channel)
    org_ids = {c.org_id for c in changes} | {a.org_id for a in alerts}
    unwanted = {org_id for org_id in org_ids if not notifier.wants(org_id)}
    if unwanted:
        log.warning("%s: no recipient for organization(s) %s; their changes are skipped",
                    notifier.channel, ", ".join(sorted(unwanted)))
        outbox.skip(store, notifier.channel,
                    [c.change_id for c in changes if c.org_id in unwanted],
                    [a.alert_id for a in alerts if a.org_id in unwanted])
    return Digest(
        notifier.channel, now,
        tuple(c for c in changes if c.org_id not in unwanted),
        tuple(a for a in alerts if a.org_id not in unwanted),
        heads=current_heads(store.db),
    )


@dataclass
class _Tally:
    """What one channel's delivery run did so far."""

    opened: int = 0
    sent: int = 0
    delivered: int = 0
    refused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def report(self, channel: str, error: str | None = None) -> ChannelReport:
        return ChannelReport(channel, digests_opened=self.opened, messages_sent=self.sent,
                             delivered=self.delivered, refused=tuple(self.refused),
                             failed=tuple(self.failed), error=error)


def deliver_channel(store: Store, notifier: Notifier, now: datetime) -> ChannelReport:
    """Deliver what one channel owes. Whatever goes wrong, the failure is recorded with its
    error (on every delivery still owed or in flight, and as the channel's last failure,
    which ``health`` reports) and returned, never raised: the run goes on."""
    channel = notifier.channel
    tally = _Tally()
    error: str | None = None
    try:
        failures = _deliver(store, notifier, now, tally)
    except Exception as exc:  # any failure of a channel is recorded, never raised
        error = clean_line(exc if isinstance(exc, DeliveryFailed)
                           else f"{type(exc).__name__}: {exc}", None)
        log.warning("%s: %s", channel, error)
        log.debug("%s failed", channel, exc_info=True)
        outbox.note_failure(store, channel, error)
    else:
        outbox.note_item_failures(store, channel, ((failure.kind, failure.item_id,
                                                    failure.error) for failure in failures))
        if failures:
            error = (f"{len(failures)} item(s) could not be published (tried again each "
                     "time), the rest were: "
                     + "; ".join(failure.describe() for failure in failures))
            log.warning("%s: %s", channel, error)
    outbox.set_channel_failure(store, channel, iso(now), error)
    return tally.report(channel, error)


def _deliver(store: Store, notifier: Notifier, now: datetime, tally: _Tally
             ) -> tuple[ItemFailure, ...]:
    """Steps 1 to 3 for one channel, counting as it goes; returns the items left out."""
    channel = notifier.channel
    digest = _pending_digest(store, notifier, now)
    unsent = digests.unsent_messages(store, channel)
    open_digests = digests.unsent_digest_ids(store, channel)
    if digest.empty and not open_digests:
        return notifier.publish(store, now)
    with notifier.session() as session:                                      # step 1
        for message in unsent:                                               # step 2 (old)
            _send(store, session, message, tally, now)
        for part in [] if digest.empty else notifier.batches(digest):
            messages = notifier.compose(part)
            digest_id = digests.open_digest(
                store, channel, iso(now), [c.change_id for c in part.changes],
                [a.alert_id for a in part.alerts], messages)
            tally.opened += 1
            open_digests.append(digest_id)
            crash_point("digest-opened")
            for message in digests.unsent_messages(store, channel):           # step 3
                if message.digest_id == digest_id:
                    _send(store, session, message, tally, now)
    failures = notifier.publish(store, now)
    _crash_point("channel-published")
    for digest_id in open_digests:  # digests without messages (feeds) close here
        if digests.close_digest(store, digest_id, iso(now)):
            tally.delivered += digests.delivered_count(store, digest_id)
    return failures


def _send(
    store: Store, session: Session, message: outbox.StoredMessage, tally: _Tally,
    now: datetime,
) -> None:
    """Send one stored message and commit it, ``sent`` or (refused for good) ``failed``."""
    try:
        refused_here = session.send(message)
    except DeliveryRejected as exc:
        log.warning("refused for good, recorded failed: %s", exc)
        tally.failed.append(str(exc))
        digests.message_failed(store, message.id, iso(now), str(exc))
        return
    # The duplicate window: accepted by the server, not yet committed.
    _crash_point("message-accepted")
    tally.sent += 1
    tally.refused.extend(refused_here)
    if digests.message_sent(store, message.id, iso(now), refused_here):
        tally.delivered += digests.delivered_count(store, message.digest_id)


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_AFTER_SEND) == "1":
        os._exit(137)
    crash_point(name)
