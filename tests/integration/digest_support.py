"""Helpers of the digest tests: a real SMTP server on loopback, certificates, changes.

``smtp_server`` runs aiosmtpd on 127.0.0.1 in its own thread and keeps every message it
accepted; it stops when the ``with`` block ends. ``record_change`` writes a change through
the real ``Store.record``, as a cycle would.
"""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.records import Change
from pipeline.config import Config, parse_config
from pipeline.digest import start_channels
from storage.db import Store
from storage.records import Check

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_ATTRIBUTE = '"><img src=x onerror=alert(1)>'


def free_port() -> int:
    """A loopback port nothing listens on (bound, noted, closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Received:
    mail_from: str
    recipients: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None and body.get_content_type() == f"text/{subtype}"
        content = body.get_content()
        assert isinstance(content, str)
        return content

    def change_ids(self) -> list[int]:
        """Every ``change #N`` heading of the plain-text part, in order (duplicates kept)."""
        return [int(n) for n in re.findall(r"\* change #(\d+) \[", self.part("plain"))]


@dataclass
class Mailbox:
    port: int
    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTPServer, session: Session,
                          envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content
        assert isinstance(data, bytes)
        self.messages.append(Received(str(envelope.mail_from),
                                      tuple(str(r) for r in envelope.rcpt_tos), data))
        return "250 Message accepted for delivery"

    def authenticate(self, server: SMTPServer, session: Session, envelope: Envelope,
                     mechanism: str, auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        return AuthResult(success=(login, password) == ("govwatch", "s3cret-relay"))


@contextmanager
def smtp_server(port: int | None = None, **options: Any) -> Iterator[Mailbox]:
    auth_by_mailbox = options.get("authenticator") is True
    for attempt in range(1 if port else 5):
        mailbox = Mailbox(port or free_port())
        if auth_by_mailbox:
            options["authenticator"] = mailbox.authenticate
        controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port, **options)
        try:
            controller.start()
            break
        except OSError:  # another test process bound the free port first: draw again
            if port or attempt == 4:
                raise
    try:
        yield mailbox
    finally:
        controller.stop()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, written as PEM files: (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "govwatch test relay")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "relay.pem", directory / "relay.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert_path, key_path


class _Pages(BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, tuple[str, bytes]]] = {}

    def do_GET(self) -> None:
        content_type, body = self.pages.get(self.path, ("text/plain", b""))
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def web_site() -> Iterator[tuple[str, dict[str, tuple[str, bytes]]]]:
    """A small HTTP server on 127.0.0.1: (base URL, path -> (content type, body))."""
    pages: ClassVar[dict[str, tuple[str, bytes]]] = {}
    handler = type("Pages", (_Pages,), {"pages": pages})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", pages
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


ORGANIZATIONS = """
organizations:
  - id: unidir
    name: UNIDIR
    homepage: https://unidir.org/
    monitors:
      - {id: unidir-pubs, name: UNIDIR publications, kind: page, url: "https://unidir.org/publications"}
      - {id: unidir-feed, name: UNIDIR news feed, kind: feed, url: "https://unidir.org/feed/"}
  - id: oecd
    name: OECD
    monitors:
      - {id: oecd-news, name: OECD.AI news, kind: page, url: "https://oecd.ai/en/news"}
"""


def config_text(port: int, feed_dir: Path | str = "feeds", *, smtp: str = "security: none",
                email_extra: str = "", top_extra: str = "") -> str:
    return ORGANIZATIONS + f"""
notifications:
  email:
    smtp: {{host: 127.0.0.1, port: {port}, {smtp}, timeout: 5s}}
    from: govwatch@example.org
    to: [analyst@example.org, second@example.org]
{email_extra}
  feed:
    directory: {feed_dir}
{top_extra}
"""


_CLOCK = iter(range(10_000))


def record_change(store: Store, monitor_id: str, change: Change,
                  started_at: str | None = None) -> int:
    """Commit a ``changed`` check with ``change`` through the real store; returns its id."""
    if started_at is None:
        minute = next(_CLOCK)
        started_at = f"2026-11-28T{10 + minute // 60:02d}:{minute % 60:02d}:00.000+00:00"
    recorded = store.record(
        Check(monitor_id=monitor_id, started_at=started_at, duration_ms=5,
              url="https://example.org/", outcome="changed", status=200),
        change=change)
    assert recorded.change_id is not None
    return int(recorded.change_id)


def record_failure(store: Store, monitor_id: str, started_at: str, error: str) -> None:
    store.record(Check(monitor_id=monitor_id, started_at=started_at, duration_ms=5,
                       url="https://example.org/", outcome="error", error=error))


def record_success(store: Store, monitor_id: str, started_at: str) -> None:
    store.record(Check(monitor_id=monitor_id, started_at=started_at, duration_ms=5,
                       url="https://example.org/", outcome="unchanged", status=200))


def page_change(title: str, url: str, line: str) -> Change:
    """A listing page that shows a new document (as the detection stage reports it)."""
    return Change(
        kind="text", summary="1 line(s) added, 1 removed",
        diff=f"--- before\n+++ after\n@@ -1,2 +1,2 @@\n Publications\n+{line}\n-Old teaser",
        detail={"links_added": [[url, title]], "documents": [{"url": url, "title": title}]},
        significance=0.8, reasons=("new document",))


def feed_change(title: str, url: str) -> Change:
    return Change(
        kind="feed", summary=f"1 new entry: {title}", diff="",
        detail={"entries_added": [{"id": url, "link": url, "title": title,
                                   "published": None, "summary": ""}],
                "documents": [{"url": url, "title": title}]})


def started(config: Config, store: Store) -> Store:
    """Monitors synced and channels started: what a run does before its cycle."""
    store.sync_monitors(config.organizations)
    start_channels(config, store)
    return store


def database_with_one_change(port: int, tmp_path: Path, change: Change) -> tuple[Path, Path, int]:
    """A config file and a closed, checkpointed database owing one change: (config, db, id)."""
    config_path = tmp_path / "config.yaml"
    config_path.write_text(config_text(port, tmp_path / "feeds"))
    db = tmp_path / "govwatch.db"
    with Store(db) as store:
        started(parse_config(config_path.read_text()), store)
        change_id = record_change(store, "oecd-news", change)
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return config_path, db, change_id
