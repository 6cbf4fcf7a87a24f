"""Load ``config.yaml`` into typed, validated models.

Validation errors are mapped back to the YAML line that caused them, and unknown keys are
reported with the keys that are allowed there (pipeline/yamllines.py), so a typo fails at
start with a message a person can act on. Rules that span entries (unique ids, known
kinds, kind-specific keys, cron) are checked here.
"""

from __future__ import annotations

import os
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    model_validator,
)

from monitors import MonitorConfig, monitor_class, monitor_kinds
from monitors.config import ByteSize, Duration, HttpURL, StrictModel, check_http_url
from monitors.errors import ConfigError
from notifications.config import AFTER_RUN, NotificationsConfig, parse_digest_schedule
from pipeline import VERSION
from pipeline.yamllines import Budget, describe, line_of, plain, read_with_lines

DEFAULT_CONFIG = "config.yaml"
CONFIG_ENV = "GOVWATCH_CONFIG"
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
    # Unattended operation (scheduling, politeness, health); see pipeline/schedule.py.
    host_delay: Duration = timedelta(0)
    contact: ContactURL | None = None
    timezone: TimeZoneName = "UTC"
    jitter: Duration = timedelta(minutes=1)
    max_backoff: Duration = timedelta(days=1)
    robots_ttl: Duration = timedelta(days=1)
    stale_after: Duration = timedelta(days=3)
    expect_run_every: Duration = timedelta(hours=1)

    @model_validator(mode="after")
    def _contact_in_user_agent(self) -> Defaults:
        # Sites that see an unexpected crawler should find whom to ask, so a contact URL
        # goes into the default User-Agent; an explicit user_agent is left as written.
        if self.contact and "user_agent" not in self.model_fields_set:
            object.__setattr__(self, "user_agent", f"govwatch/{VERSION} (+{self.contact})")
        return self


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
                resolved.append(monitor.model_copy(update=update))
            organizations.append(org.model_copy(update={"monitors": tuple(resolved)}))
        object.__setattr__(self, "organizations", tuple(organizations))
        return self

    def monitors(self) -> Iterator[tuple[Organization, MonitorConfig]]:
        for org in self.organizations:
            for monitor in org.monitors:
                yield org, monitor


@dataclass(frozen=True)
class LoadedConfig:
    path: Path
    config: Config


def config_path(option: str | None) -> Path:
    """``--config`` wins, then ``$GOVWATCH_CONFIG``, then ``./config.yaml``."""
    return Path(option or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_config(path: str | Path) -> LoadedConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from exc
    return LoadedConfig(path=path, config=parse_config(text, str(path)))


def parse_config(text: str, source: str = DEFAULT_CONFIG) -> Config:
    """The validated config; every error names its file, line and the allowed keys."""
    tree = read_with_lines(text, source)
    try:
        config = Config.model_validate(plain(tree, Budget(source)))
    except ValidationError as exc:
        raise ConfigError(describe(exc, tree, source, Config)) from exc
    _check_semantics(config, tree, source)
    return config


def _check_semantics(config: Config, tree: Any, source: str) -> None:
    """Rules that span entries: unique ids, known kinds, kind-specific keys."""
    problems = []
    seen_orgs: dict[str, int] = {}
    seen_monitors: dict[str, int] = {}
    base_keys = set(MonitorConfig.model_fields) - _kind_specific_keys()
    for o, org in enumerate(config.organizations):
        line = line_of(tree, ("organizations", o, "id"))
        if org.id in seen_orgs:
            problems.append(f"{source}:{line}: duplicate organization id {org.id!r} "
                            f"(first at line {seen_orgs[org.id]})")
        seen_orgs.setdefault(org.id, line)
        for m, monitor in enumerate(org.monitors):
            loc: tuple[int | str, ...] = ("organizations", o, "monitors", m)
            line = line_of(tree, (*loc, "id"))
            if monitor.id in seen_monitors:
                problems.append(f"{source}:{line}: duplicate monitor id {monitor.id!r} "
                                f"(first at line {seen_monitors[monitor.id]})")
            seen_monitors.setdefault(monitor.id, line)
            try:
                kind_class = monitor_class(monitor.kind)
            except ConfigError as exc:
                problems.append(f"{source}:{line_of(tree, (*loc, 'kind'))}: {exc}")
                continue
            problems.extend(_schedule_problems(monitor, tree, loc, source, config))
            allowed = base_keys | kind_class.own_keys
            for key in sorted(monitor.model_fields_set - allowed):
                problems.append(
                    f"{source}:{line_of(tree, (*loc, key))}: key {key!r} does not apply to "
                    f"kind {monitor.kind!r}; allowed keys: {', '.join(sorted(allowed))}"
                )
    email = config.notifications.email
    for org_id in sorted(set(email.routes if email else ()) - seen_orgs.keys()):
        line = line_of(tree, ("notifications", "email", "routes", org_id))
        problems.append(f"{source}:{line}: notifications.email.routes: unknown organization "
                        f"{org_id!r}")
    if problems:
        raise ConfigError("\n".join(problems))


def _schedule_problems(
    monitor: MonitorConfig, tree: Any, loc: tuple[int | str, ...], source: str, config: Config
) -> list[str]:
    if monitor.cron is None:
        return []
    from pipeline.schedule import crontab_trigger  # the scheduler is only needed for cron

    line = line_of(tree, (*loc, "cron"))
    node = tree["organizations"][loc[1]]["monitors"][loc[3]]
    if "every" in node:  # the loaded model has 'every' filled from defaults either way
        return [f"{source}:{line}: monitor {monitor.id!r} sets both 'every' and 'cron'; "
                "keep one"]
    try:
        crontab_trigger(monitor.cron, config.defaults.timezone)
    except ValueError as exc:
        return [f"{source}:{line}: bad cron {monitor.cron!r}: {exc}"]
    return []


def _kind_specific_keys() -> set[str]:
    keys: set[str] = set()
    for kind_class in monitor_kinds().values():
        keys |= kind_class.own_keys
    return keys
