"""Typed settings of the notification channels and of the digest schedule.

``pipeline.config.Config`` plugs these in as ``notifications`` and ``digest``; they live
here, with the code that reads them.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from core.settings import Duration, HttpURL, StrictModel

_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
AFTER_RUN = "after-run"


def check_address(value: str) -> str:
    if not _ADDRESS.match(value):
        raise ValueError(f"{value!r} is not a plain email address (name@domain)")
    return value


class SmtpSettings(StrictModel):
    """How to reach the mail relay. The password is never in the file, only its env var."""

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    # Upper case, as POSIX names them: a password typed here by mistake is refused.
    password_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    ca_file: str | None = None
    timeout: Duration = timedelta(seconds=30)

    @model_validator(mode="after")
    def _login_needs_password_and_encryption(self) -> SmtpSettings:
        if self.username is not None and self.password_env is None:
            raise ValueError("'username' needs 'password_env', the variable holding the password")
        if self.username is not None and self.security == "none":
            raise ValueError("login with security 'none' would send the password in clear; "
                             "use 'starttls' or 'tls'")
        return self

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return {"starttls": 587, "tls": 465, "none": 25}[self.security]


class EmailSettings(StrictModel):
    enabled: bool = True
    smtp: SmtpSettings
    sender: str = Field(alias="from")
    to: tuple[str, ...] = ()
    routes: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    subject_prefix: str = "[govwatch]"
    list_id: str | None = None
    min_significance: float = Field(default=0.0, ge=0.0, le=1.0)
    max_excerpt_lines: int = Field(default=12, ge=1, le=200)

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        return check_address(value)

    @field_validator("to")
    @classmethod
    def _recipients(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_address(v) for v in value)

    @field_validator("routes")
    @classmethod
    def _routes(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        return {org: tuple(check_address(v) for v in addresses) for org, addresses in
                value.items()}

    @field_validator("subject_prefix", "list_id")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and ("\n" in value or "\r" in value):
            raise ValueError("must be one line")
        return value

    @model_validator(mode="after")
    def _someone_receives(self) -> EmailSettings:
        if not self.to and not any(self.routes.values()):
            raise ValueError("email needs recipients: 'to', 'routes' or both")
        return self

    @property
    def domain(self) -> str:
        return self.sender.rsplit("@", 1)[1]


class FeedSettings(StrictModel):
    enabled: bool = True
    directory: str = "feeds"
    formats: tuple[Literal["atom", "rss"], ...] = ("atom", "rss")
    max_entries: int = Field(default=200, ge=1, le=10_000)
    title: str = "govwatch"
    #: Where ``directory`` is served: the feeds' self links are made from it. Without it
    #: a feed has no self link (a ``file://`` path is no use to a reader elsewhere).
    public_url: HttpURL | None = None
    #: The older name of ``public_url``.
    base_url: HttpURL | None = None
    id_prefix: str | None = Field(default=None, pattern=r"^tag:[^\s,]+,\d{4}(-\d\d){0,2}:\S*$")
    min_significance: float = Field(default=0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _one_public_url(self) -> FeedSettings:
        if self.base_url is not None:
            if self.public_url is not None and self.public_url != self.base_url:
                raise ValueError("'base_url' is the older name of 'public_url'; keep one")
            object.__setattr__(self, "public_url", self.base_url)
        return self

    @field_validator("formats")
    @classmethod
    def _formats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one format: atom, rss")
        return tuple(dict.fromkeys(value))


class SiteSettings(StrictModel):
    """The static archive site (``notifications/site``), written after every run."""

    enabled: bool = True
    directory: str = "site"
    #: Where ``directory`` is served. Links inside the site are relative either way; with
    #: it, digests and feeds link each change to its page.
    public_url: HttpURL | None = None
    #: Changes per page of an organization's timeline.
    page_size: int = Field(default=50, ge=5, le=1000)
    #: Checks listed on a monitor's page (its changes are all listed).
    checks_shown: int = Field(default=100, ge=1, le=10_000)


_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class WebhookSettings(StrictModel):
    """A JSON POST per digest or per change, signed with a secret from the environment
    (notifications/webhook.py; the body's schema is in docs/notifications.md)."""

    enabled: bool = True
    url: HttpURL
    #: The variable holding the HMAC-SHA256 key; without it the POSTs are unsigned.
    secret_env: str | None = Field(default=None, pattern=_ENV_NAME)
    per: Literal["digest", "change"] = "digest"
    timeout: Duration = timedelta(seconds=30)
    #: Tries of one POST within a delivery run (5xx, timeouts, refused connections);
    #: after the last, the message waits for the next run.
    attempts: int = Field(default=3, ge=1, le=10)
    #: The wait before the second try, doubled before each further one.
    backoff: Duration = timedelta(seconds=2)
    min_significance: float = Field(default=0.0, ge=0.0, le=1.0)


class AppriseSettings(StrictModel):
    """Chat and push services through the Apprise library (notifications/chat.py)."""

    enabled: bool = True
    #: The variable holding one or more Apprise URLs, space-separated: they hold tokens,
    #: so they are never in the config file or the database.
    urls_env: str = Field(pattern=_ENV_NAME)
    min_significance: float = Field(default=0.0, ge=0.0, le=1.0)


ChannelSettings = EmailSettings | FeedSettings | WebhookSettings | AppriseSettings


class NotificationsConfig(StrictModel):
    email: EmailSettings | None = None
    feed: FeedSettings | None = None
    webhook: WebhookSettings | None = None
    apprise: AppriseSettings | None = None
    alert_after_failures: int = Field(default=3, ge=1, le=1000)

    def enabled_channels(self) -> dict[str, ChannelSettings]:
        """Each enabled channel's settings by channel name, in delivery order."""
        channels: dict[str, ChannelSettings] = {}
        for name in ("email", "feed", "webhook", "apprise"):
            settings = getattr(self, name)
            if settings is not None and settings.enabled:
                channels[name] = settings
        return channels


def parse_digest_schedule(value: object) -> str:
    """``after-run`` or a time of day ``HH:MM`` (UTC)."""
    if isinstance(value, str) and (value == AFTER_RUN or _TIME_OF_DAY.match(value)):
        return value
    raise ValueError(f"digest must be 'after-run' or a time of day like \"08:00\" (UTC), "
                     f"not {value!r}")


def digest_time(schedule: str) -> time | None:
    """The time of day of a timed schedule; ``None`` for ``after-run``."""
    match = _TIME_OF_DAY.match(schedule)
    return time(int(match.group(1)), int(match.group(2))) if match else None
