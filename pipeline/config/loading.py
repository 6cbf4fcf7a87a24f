"""Load ``config.yaml`` into the typed models, with errors that name file and line.

Validation errors are mapped back to the YAML line that caused them, and unknown keys are
reported with the keys that are allowed there (``yamllines``), so a typo fails at start
with a message a person can act on. Rules that span entries (unique ids, known kinds,
kind-specific keys, cron) are checked here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.errors import ConfigError
from monitors import MonitorConfig, monitor_class, monitor_kinds
from pipeline.config.cache import cached_plain, remember_plain
from pipeline.config.models import Config
from pipeline.config.yamllines import Budget, describe, line_of, plain, read_with_lines

DEFAULT_CONFIG = "config.yaml"
CONFIG_ENV = "GOVWATCH_CONFIG"

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
    cached = cached_plain(text)
    if cached is not None:
        try:
            config = Config.model_validate(cached)
            _check_semantics(config, cached, source)
            return config
        except (ValidationError, ConfigError):
            pass  # reported below, by the reading that knows every line
    tree = read_with_lines(text, source)
    data = plain(tree, Budget(source))
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe(exc, tree, source, Config)) from exc
    _check_semantics(config, tree, source)
    remember_plain(text, data)
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
