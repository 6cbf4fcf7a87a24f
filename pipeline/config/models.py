"""The typed models of ``config.yaml``: defaults, organizations, retention, the whole file.

Each monitor's settings are the monitors package's model, notifications' are the
notifications package's; this module composes them.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    model_validator,
)

from core.settings import ByteSize, Duration, HttpURL, StrictModel
from core.units import check_http_url
from monitors import MonitorConfig
from monitors.config import Render
from notifications.config import (
    AFTER_RUN,
    NotificationsConfig,
    SiteSettings,
    parse_digest_schedule,
)
from pipeline import VERSION

DEFAULT_USER_AGENT = f"govwatch/{VERSION} (public-sector source monitor)"


def _check_contact(value: str) -> str:
    if value.startswith("mailto:") and "@" in value:
        return value
    return check_http_url(value)


def _check_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {value!r} (use an IANA name such as UTC or "
                         "Europe/Paris)") from exc
    return value


ContactURL = Annotated[str, AfterValidator(_check_contact)]
TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]


class Defaults(StrictModel):
    """Values every monitor inherits unless it sets its own."""

    every: Duration = timedelta(hours=6)
    timeout: Duration = Field(default=timedelta(seconds=30), description="overall deadline")
    connect_timeout: Duration = timedelta(seconds=10)
    read_timeout: Duration = timedelta(seconds=20)
    max_bytes: ByteSize = 20_000_000
    max_redirects: int = Field(default=10, ge=0, le=50)
    user_agent: str = DEFAULT_USER_AGENT
    concurrency: int = Field(default=32, ge=1, le=1024)
    per_host: int = Field(default=2, ge=1, le=64)
    #: Worker processes that parse pages and feeds (None: one per core, at most 4, for cycles
    #: of 40 monitors or more; 0: parse in the main process).
    workers: int | None = Field(default=None, ge=0, le=16)
    #: The longest one body may be parsed and compared in a worker process; past it the
    #: worker is killed and replaced and the check fails, naming the source.
    parse_timeout: Duration = timedelta(seconds=60)
    #: The longest a whole ``govwatch run`` may take: past it the checks still running are
    #: stopped and recorded as failed, and the run ends (so its lock is released).
    run_timeout: Duration = timedelta(minutes=50)
    # Unattended operation (scheduling, politeness, health); see pipeline/schedule.py.
    host_delay: Duration = timedelta(0)
    contact: ContactURL | None = None
    timezone: TimeZoneName = "UTC"
    jitter: Duration = timedelta(minutes=1)
    max_backoff: Duration = timedelta(days=1)
    robots_ttl: Duration = timedelta(days=1)
    #: What a monitor learned changes by itself is forgotten when it has not been seen
    #: again within this many of its checks (it is learned again if it comes back).
    forget_noise_after: int = Field(default=100, ge=1)
    #: Between a check and its confirming copy (pipeline/copies.py): long enough for a
    #: clock that ticks every second to have ticked, or that noise is not learned.
    confirm_pause: Duration = Field(default=timedelta(seconds=1.1), ge=timedelta(0),
                                    le=timedelta(minutes=1))
    stale_after: Duration = timedelta(days=3)
    expect_run_every: Duration = timedelta(hours=1)
    #: ``browser``: every ``page`` monitor is rendered in headless Chromium unless it says
    #: ``render: plain`` (docs/render.md).
    render: Render = "plain"

    @model_validator(mode="after")
    def _contact_in_user_agent(self) -> Defaults:
        # Sites that see an unexpected crawler should find whom to ask, so a contact URL
        # goes into the default User-Agent; an explicit user_agent is left as written.
        if self.contact and "user_agent" not in self.model_fields_set:
            object.__setattr__(self, "user_agent", f"govwatch/{VERSION} (+{self.contact})")
        return self


class BrowserSettings(StrictModel):
    """The one headless Chromium of a run or a daemon, for ``render: browser`` monitors."""

    #: The browser program; None: ``chromium`` (or ``chromium-browser``) on the PATH.
    executable: str | None = None
    #: Pages rendered at once: each costs a renderer process (tens of MB and a core).
    pages: int = Field(default=2, ge=1, le=16)
    #: Resource types the page may not load (Playwright's names); none of them is text.
    block: tuple[Literal["image", "font", "media", "stylesheet", "websocket", "manifest",
                         "other"], ...] = ("image", "font", "media")
    #: Requests one page may make (scripts, data, its own document aside): a page that
    #: needs more fails its check rather than be compared half-rendered.
    max_requests: int = Field(default=100, ge=1, le=10_000)
    #: The largest rendered DOM (serialized HTML) a page may produce.
    max_dom_bytes: ByteSize = 5_000_000


class Organization(StrictModel):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: str
    homepage: HttpURL | None = None
    #: The longest time this organization's sources should go without any change.
    expect_change_every: Duration | None = None
    monitors: tuple[MonitorConfig, ...]


class Retention(StrictModel):
    """How long raw bodies are kept. Hashes, extracted text and the chain are always kept."""

    keep_days: int | None = Field(default=None, ge=1)
    keep_versions: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_rule_at_least(self) -> Retention:
        if self.keep_days is None and self.keep_versions is None:
            raise ValueError("retention needs keep_days, keep_versions or both")
        return self


class Config(StrictModel):
    database: str = "govwatch.db"
    defaults: Defaults = Defaults()
    retention: Retention | None = None
    organizations: tuple[Organization, ...]
    notifications: NotificationsConfig = NotificationsConfig()
    browser: BrowserSettings = BrowserSettings()
    #: The static archive site: written after every run and by ``govwatch site``.
    site: SiteSettings | None = None
    digest: Annotated[str, BeforeValidator(parse_digest_schedule)] = AFTER_RUN

    @model_validator(mode="after")
    def _resolve_defaults(self) -> Config:
        """Fill each monitor's unset keys from ``defaults`` so later stages never branch."""
        inherited = {"every": self.defaults.every, "timeout": self.defaults.timeout,
                     "max_bytes": self.defaults.max_bytes, "per_host": self.defaults.per_host,
                     "host_delay": self.defaults.host_delay}
        organizations = []
        for org in self.organizations:
            resolved = []
            for monitor in org.monitors:
                update = {k: v for k, v in inherited.items() if getattr(monitor, k) is None}
                update.update(_render(monitor, self.defaults.render))
                resolved.append(monitor.model_copy(update=update))
            organizations.append(org.model_copy(update={"monitors": tuple(resolved)}))
        object.__setattr__(self, "organizations", tuple(organizations))
        return self

    def rendered(self) -> bool:
        """Does any enabled monitor need the browser?"""
        return any(m.render == "browser" and m.enabled for _, m in self.monitors())

    @property
    def site_url(self) -> str | None:
        """The public URL of the archive site, when one is written and served."""
        return self.site.public_url if self.site is not None and self.site.enabled else None

    def monitors(self) -> Iterator[tuple[Organization, MonitorConfig]]:
        for org in self.organizations:
            for monitor in org.monitors:
                yield org, monitor


def _render(monitor: MonitorConfig, default: str) -> dict[str, str | None]:
    """A page monitor's resolved ``render``: "browser", or None for plain. Plain is stored
    as None, as it was before the key existed, so that no stored baseline starts over."""
    if monitor.kind != "page":
        return {}
    wanted = monitor.render or default
    resolved = "browser" if wanted == "browser" else None
    return {"render": resolved} if resolved != monitor.render else {}
