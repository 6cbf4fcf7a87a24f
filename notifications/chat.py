"""The Apprise channel: a short text per organization to chat and push services.

Slack, Matrix, Microsoft Teams, Telegram, Mattermost, ntfy and the rest, through the
Apprise library. Their URLs hold tokens, so they are read from an environment variable
(``urls_env``, space-separated) when a delivery runs and never stored: a stored message
names its target by a fingerprint (the URL's scheme and the start of its SHA-256).

Each organization's part of a digest is a digest of its own, with one message per URL,
so a service that is down delays only its own messages and a service that took a
message never gets it again. Apprise does not say whether a service refused a message
for good or for now, so a message that did not go out is tried again on the next run;
a message whose URL left the variable is recorded ``failed``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from core.errors import DeliveryFailed, DeliveryRejected
from notifications.base import Notifier, Session
from notifications.config import AppriseSettings
from notifications.digest import Digest, announced_and_template, is_web_url, sections
from storage.db import Store
from storage.outbox import OutgoingMessage, StoredMessage

#: Lines of one organization's text; the rest is counted ("... and 3 more").
MAX_LINES = 12


def fingerprint(url: str) -> str:
    """How a stored message names its target without the token: ``json#1f2e3d4c5b6a``."""
    return f"{urlsplit(url).scheme}#{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def organization_text(notifier: Notifier, digest: Digest) -> tuple[str, str]:
    """(title, body) of a digest of one organization, as plain text."""
    section = sections(digest)[0]
    shown, _ = announced_and_template(digest.changes)
    counted = [f"{len(shown)} change{'s' * (len(shown) != 1)}"] if shown else []
    if digest.alerts:
        counted.append(f"{len(digest.alerts)} alert{'s' * (len(digest.alerts) != 1)}")
    title = f"govwatch: {section.name}" + (f" ({', '.join(counted)})" if counted else "")
    lines = []
    for document in section.documents:
        where = f" {document.url}" if document.linkable else ""
        lines.append(f"New document: {document.title or document.url}{where}")
    for monitor in section.monitors:
        for view in monitor.changes:
            change = view.change
            link = notifier.change_link(change.change_id)
            if link is None and is_web_url(change.monitor_url):
                link = change.monitor_url
            lines.append(f"{change.monitor_name}: {change.summary}"
                         + (f" {link}" if link else ""))
    if section.template_line:
        lines.append(section.template_line)
        lines += [f"  {edit}" for edit in section.template_edits]
    for alert in section.alerts:
        lines.append(f"{alert.monitor_name} is failing ({alert.failures} checks in a row)"
                     if alert.kind == "failing" else f"{alert.monitor_name} recovered")
    if len(lines) > MAX_LINES:
        lines = [*lines[: MAX_LINES - 1], f"... and {len(lines) - MAX_LINES + 1} more"]
    return title, "\n".join(" ".join(line.split()) for line in lines)


class AppriseNotifier(Notifier):
    channel = "apprise"
    settings: AppriseSettings

    def urls(self) -> list[str]:
        variable = self.settings.urls_env
        urls = os.environ.get(variable, "").split()
        if not urls:
            raise DeliveryFailed(f"the environment variable {variable} "
                                 "(notifications.apprise.urls_env) is not set or empty")
        return urls

    def batches(self, digest: Digest) -> list[Digest]:
        org_ids = dict.fromkeys([c.org_id for c in digest.changes]
                                + [a.org_id for a in digest.alerts])
        return [digest.for_organizations((org_id,)) for org_id in org_ids]

    def compose(self, digest: Digest) -> list[OutgoingMessage]:
        """One message per organization (a batch has one) and URL."""
        messages = []
        urls = self.urls()
        for part in self.batches(digest):
            title, body = organization_text(self, part)
            data = json.dumps({"title": title, "body": body}, ensure_ascii=False).encode()
            messages += [OutgoingMessage(f"govwatch-{secrets.token_hex(16)}",
                                         (fingerprint(url),), data) for url in urls]
        return messages

    @contextmanager
    def session(self) -> Iterator[Session]:
        import apprise

        targets = {}
        for url in self.urls():
            if not apprise.Apprise().add(url):
                raise DeliveryFailed(f"a URL in {self.settings.urls_env} is not one "
                                     f"Apprise can use ({urlsplit(url).scheme}://...)")
            targets[fingerprint(url)] = url
        yield AppriseSession(targets, self.settings.urls_env)

    def preview(self, store: Store, digest: Digest, messages: list[OutgoingMessage]) -> str:
        texts = []
        for message in messages:
            data = json.loads(message.body)
            texts.append(f"apprise -> {', '.join(message.recipients)}\n{data['title']}\n"
                         f"{data['body']}\n")
        return "\n".join(texts)


class AppriseSession(Session):
    def __init__(self, targets: dict[str, str], variable: str) -> None:
        self.targets = targets
        self.variable = variable

    def send(self, message: StoredMessage) -> tuple[str, ...]:
        import apprise

        target = message.recipients[0] if message.recipients else "?"
        url = self.targets.get(target)
        if url is None:
            raise DeliveryRejected(f"message {message.message_id} was for {target}, "
                                   f"a URL no longer in {self.variable}")
        data = json.loads(message.body)
        notifier = apprise.Apprise()
        notifier.add(url)
        with _warnings_of("apprise") as said:
            result = notifier.notify(title=data["title"], body=data["body"],
                                     body_format=apprise.NotifyFormat.TEXT)
        if not result:
            raise DeliveryFailed(f"{target} did not take message "
                                 f"{message.message_id}: {said[-1] if said else 'no reason given'}")
        return ()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(" ".join(record.getMessage().split()))


@contextmanager
def _warnings_of(name: str) -> Iterator[list[str]]:
    """The warnings the logger ``name`` gives meanwhile: why Apprise failed, in its words."""
    logger = logging.getLogger(name)
    handler = _Collect()
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
