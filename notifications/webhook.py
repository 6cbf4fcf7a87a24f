"""The webhook channel: a signed JSON POST per digest, or per change and alert.

Each POST body is fixed (stored) before it is sent, with its ``Idempotency-Key``, so a
resend after a failure or a crash is the same bytes under the same key and a receiver
can drop what it already took. ``X-Govwatch-Signature: sha256=<hex>`` is the HMAC-SHA256
of the body with the secret from ``secret_env``. A 5xx, a timeout or a refused connection
is tried again with back-off, then left ``sending`` for the next run; a 4xx (but 408 and
429, which ask to come back later) is the receiver refusing the message for good: it is
recorded ``failed`` with the reason. The body's schema is in docs/notifications.md.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from core.canonical import canonical_json
from core.errors import DeliveryFailed, DeliveryRejected
from notifications.base import Notifier, Session
from notifications.config import WebhookSettings
from notifications.digest import Digest, announced, template_only
from storage.outbox import OutgoingMessage, OwedAlert, OwedChange, StoredMessage
from storage.records import iso

#: Raised when a field is removed or changes meaning; new fields keep the version.
SCHEMA_VERSION = 1
SIGNATURE_HEADER = "X-Govwatch-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
#: Characters of a change's unified diff in a body (``diff_truncated`` says if cut).
MAX_DIFF = 20_000
#: 4xx answers that mean "later", not "never".
_TRY_AGAIN = frozenset({408, 425, 429})


def change_record(change: OwedChange, link: str | None) -> dict[str, Any]:
    return {
        "change_id": change.change_id, "detected_at": change.detected_at,
        "organization_id": change.org_id, "organization": change.org_name,
        "monitor_id": change.monitor_id, "monitor": change.monitor_name,
        "monitor_url": change.monitor_url, "monitor_kind": change.monitor_kind,
        "kind": change.kind, "summary": change.summary,
        "significance": change.significance, "reasons": list(change.reasons),
        "template_only": template_only(change),
        "documents": [{"url": url, "title": title} for url, title in announced(change)],
        "diff": change.diff[:MAX_DIFF], "diff_truncated": len(change.diff) > MAX_DIFF,
        "change_url": link,
    }


def alert_record(alert: OwedAlert) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id, "created_at": alert.created_at, "kind": alert.kind,
        "organization_id": alert.org_id, "organization": alert.org_name,
        "monitor_id": alert.monitor_id, "monitor": alert.monitor_name,
        "monitor_url": alert.monitor_url, "failures": alert.failures, "error": alert.error,
    }


def signature(secret: str, body: bytes) -> str:
    """The value of ``X-Govwatch-Signature`` for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _where(url: str) -> str:
    """The URL's scheme, host and port only: hooks often carry a token in the path or the
    query, which must stay out of logs and of the errors stored in the database."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/..."


class WebhookNotifier(Notifier):
    channel = "webhook"
    settings: WebhookSettings

    def batches(self, digest: Digest) -> list[Digest]:
        if self.settings.per == "digest":
            return [digest]
        return ([replace(digest, changes=(change,), alerts=()) for change in digest.changes]
                + [replace(digest, changes=(), alerts=(alert,)) for alert in digest.alerts])

    def payload(self, digest: Digest, delivery_id: str) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION, "delivery_id": delivery_id,
            "per": self.settings.per, "created_at": iso(digest.created_at),
            "changes": [change_record(c, self.change_link(c.change_id))
                        for c in digest.changes],
            "alerts": [alert_record(a) for a in digest.alerts],
        }

    def compose(self, digest: Digest) -> list[OutgoingMessage]:
        delivery_id = f"govwatch-{secrets.token_hex(16)}"
        body = canonical_json(self.payload(digest, delivery_id)).encode()
        return [OutgoingMessage(delivery_id, (), body)]

    @contextmanager
    def session(self) -> Iterator[Session]:
        secret = None
        if self.settings.secret_env is not None:
            secret = os.environ.get(self.settings.secret_env)
            if not secret:
                raise DeliveryFailed(
                    f"the environment variable {self.settings.secret_env} "
                    "(notifications.webhook.secret_env) is not set or empty")
        timeout = self.settings.timeout.total_seconds()
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            yield WebhookSession(client, self.settings, secret)


class WebhookSession(Session):
    def __init__(self, client: httpx.Client, settings: WebhookSettings,
                 secret: str | None) -> None:
        self.client = client
        self.settings = settings
        self.secret = secret
        self.where = _where(settings.url)

    def headers(self, message: StoredMessage) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": "govwatch-webhook",
                   IDEMPOTENCY_HEADER: message.message_id or f"govwatch-message-{message.id}"}
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = signature(self.secret, message.body)
        return headers

    def send(self, message: StoredMessage) -> tuple[str, ...]:
        headers = self.headers(message)
        delay = self.settings.backoff.total_seconds()
        problem = ""
        for attempt in range(1, self.settings.attempts + 1):
            if attempt > 1:
                time.sleep(delay)
                delay *= 2
            try:
                response = self.client.post(self.settings.url, content=message.body,
                                            headers=headers)
            except httpx.TimeoutException:
                problem = f"no answer within {self.settings.timeout.total_seconds():g} s"
                continue
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if response.is_success:
                return ()
            status = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
            if response.is_server_error or response.status_code in _TRY_AGAIN:
                problem = status
                continue
            answer = " ".join(response.text[:200].split())
            raise DeliveryRejected(
                f"{self.where} refused delivery {headers[IDEMPOTENCY_HEADER]}: "
                f"{status}{': ' + answer if answer else ''}")
        raise DeliveryFailed(
            f"{self.where} did not take delivery {headers[IDEMPOTENCY_HEADER]} "
            f"after {self.settings.attempts} tries: {problem}")
