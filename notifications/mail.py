"""The email channel: multipart/alternative digests over SMTP (STARTTLS, TLS or plain).

A digest becomes one message per audience: the ``to`` addresses get every organization,
and an address that is only in ``routes`` gets the organizations routed to it. Each message
is rendered, given its Message-ID and Date, and stored before anything is sent, so a resend
after a crash is the same message byte for byte.
"""

from __future__ import annotations

import os
import secrets
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.policy import default as default_policy
from email.utils import format_datetime

from core.canonical import canonical_json
from core.errors import DeliveryFailed
from core.sanitise import clean_text
from notifications.base import Notifier, Session
from notifications.config import EmailSettings
from notifications.digest import Digest, counts, sections, subject
from notifications.render import render
from storage.db import Store
from storage.outbox import OutgoingMessage, StoredMessage

#: The chain heads travel with each digest as this attachment (``govwatch verify --against``).
HEADS_ATTACHMENT = "heads.json"
_PREVIEW_HEADERS = ("subject", "from", "to", "date", "message-id", "list-id")
Audience = tuple[tuple[str, ...], frozenset[str] | None]


class EmailNotifier(Notifier):
    channel = "email"
    settings: EmailSettings

    # -- who gets what -----------------------------------------------------------------
    def audiences(self) -> list[Audience]:
        """(recipients, organizations or None for all), one per distinct view."""
        everyone = tuple(dict.fromkeys(self.settings.to))
        routed: dict[str, set[str]] = {}
        for org_id, addresses in self.settings.routes.items():
            for address in addresses:
                if address not in everyone:
                    routed.setdefault(address, set()).add(org_id)
        groups: dict[frozenset[str], list[str]] = {}
        for address, orgs in routed.items():
            groups.setdefault(frozenset(orgs), []).append(address)
        result: list[Audience] = [(everyone, None)] if everyone else []
        for org_set, routed_to in sorted(groups.items(), key=lambda item: sorted(item[0])):
            result.append((tuple(routed_to), org_set))
        return result

    def wants(self, org_id: str) -> bool:
        return bool(self.settings.to) or bool(self.settings.routes.get(org_id))

    # -- composing -----------------------------------------------------------------------
    @property
    def list_id(self) -> str:
        return self.settings.list_id or f"digest.govwatch.{self.settings.domain}"

    def compose(self, digest: Digest) -> list[OutgoingMessage]:
        messages = []
        for recipients, orgs in self.audiences():
            part = digest.for_organizations(orgs)
            if not part.empty:
                messages.append(self.message(part, recipients))
        return messages

    def message(self, digest: Digest, recipients: tuple[str, ...]) -> OutgoingMessage:
        title = subject(digest, self.settings.subject_prefix)
        values = {
            "subject": title, "counts": counts(digest), "list_id": self.list_id,
            "sections": sections(digest, self.settings.max_excerpt_lines),
            "heads": len(digest.heads), "heads_url": self.links.heads,
            "page": self.links.change, "site": self.links.index,
        }
        message = EmailMessage()
        message["Subject"] = title
        message["From"] = self.settings.sender
        message["To"] = ", ".join(recipients)
        message["Date"] = format_datetime(digest.created_at)
        # Short enough that the header is never folded; random, so never reused.
        message_id = f"<{secrets.token_hex(12)}.digest@{self.settings.domain}>"
        message["Message-ID"] = message_id
        message["List-Id"] = f"govwatch digest <{self.list_id}>"
        message["Auto-Submitted"] = "auto-generated"
        # Every fetched value was made safe in the views; the whole text passes once more,
        # so nothing a template shows can carry a control character or a bidi override.
        message.set_content(clean_text(render("email.txt", **values)))
        message.add_alternative(clean_text(render("email.html", **values)), subtype="html")
        if digest.heads:
            # Every monitor's head: with a hundred monitors, too long to read in the body.
            message.add_attachment(canonical_json({"heads": digest.heads}).encode(),
                                   maintype="application", subtype="json",
                                   filename=HEADS_ATTACHMENT)
        return OutgoingMessage(message_id, recipients, message.as_bytes(policy=SMTP_POLICY))

    def preview(self, store: Store, digest: Digest, messages: list[OutgoingMessage]) -> str:
        """Headers and the plain-text part of each message, as the recipients would read it."""
        parts = []
        for message in messages:
            mime = message_from_bytes(message.body, policy=default_policy)
            assert isinstance(mime, EmailMessage)
            headers = "".join(f"{name}: {value}\n" for name, value in mime.items()
                              if name.lower() in _PREVIEW_HEADERS)
            text = mime.get_body(preferencelist=("plain",))
            body = text.get_content() if isinstance(text, EmailMessage) else ""
            parts.append(f"{headers}\n{body}")
        return "\n".join(parts)

    # -- sending -------------------------------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[Session]:
        client = self._connect()
        try:
            yield SmtpSession(client, self.settings.sender)
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    def _connect(self) -> smtplib.SMTP:
        smtp = self.settings.smtp
        where = f"SMTP server {smtp.host}:{smtp.effective_port}"
        password = None
        if smtp.username is not None and smtp.password_env is not None:
            password = os.environ.get(smtp.password_env)
            if password is None:
                raise DeliveryFailed(f"{where}: the environment variable {smtp.password_env} "
                                     "(notifications.email.smtp.password_env) is not set")
        timeout = smtp.timeout.total_seconds()
        client: smtplib.SMTP | None = None
        try:
            context = None
            if smtp.security != "none":
                context = ssl.create_default_context(cafile=smtp.ca_file)
            if smtp.security == "tls":
                client = smtplib.SMTP_SSL(smtp.host, smtp.effective_port, timeout=timeout,
                                          context=context)
            else:
                client = smtplib.SMTP(smtp.host, smtp.effective_port, timeout=timeout)
            if smtp.security == "starttls":
                client.ehlo()
                client.starttls(context=context)
                client.ehlo()
            if smtp.username is not None and password is not None:
                client.login(smtp.username, password)
            return client
        except (smtplib.SMTPException, OSError, ValueError) as exc:
            if client is not None:
                client.close()
            raise DeliveryFailed(f"cannot reach {where} ({smtp.security}): "
                                 f"{type(exc).__name__}: {exc}") from exc


class SmtpSession(Session):
    def __init__(self, client: smtplib.SMTP, sender: str) -> None:
        self.client = client
        self.sender = sender

    def send(self, message: StoredMessage) -> tuple[str, ...]:
        try:
            refused = self.client.sendmail(self.sender, list(message.recipients), message.body)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"SMTP did not accept digest message {message.message_id}: "
                                 f"{type(exc).__name__}: {exc}") from exc
        return tuple(sorted(refused))
