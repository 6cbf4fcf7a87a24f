"""The docs are tested: examples load, and every command, kind and key is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import pipeline.cli.main  # noqa: F401  (registers the subcommands)
from monitors import MonitorConfig, monitor_kinds
from notifications.config import (
    EmailSettings,
    FeedSettings,
    NotificationsConfig,
    SmtpSettings,
)
from pipeline.cli.group import cli
from pipeline.config import Config, Defaults, Organization, Retention, parse_config

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
ARCHITECTURE = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", README, flags=re.DOTALL)


def test_readme_has_config_examples() -> None:
    assert YAML_BLOCKS


@pytest.mark.parametrize("block", YAML_BLOCKS)
def test_readme_config_examples_load(block: str) -> None:
    config = parse_config(block, "README.md")
    assert config.organizations


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_documented(command: str) -> None:
    assert f"`govwatch {command}" in README


@pytest.mark.parametrize("kind", sorted(monitor_kinds()))
def test_every_monitor_kind_is_documented(kind: str) -> None:
    assert f"| `{kind}` |" in README


@pytest.mark.parametrize(
    "key",
    sorted(set(Config.model_fields) | set(Defaults.model_fields)
           | set(Organization.model_fields) | set(MonitorConfig.model_fields)
           | set(Retention.model_fields)),
)
def test_every_config_key_is_documented(key: str) -> None:
    assert f"`{key}`" in README


NOTIFICATION_MODELS = (NotificationsConfig, EmailSettings, SmtpSettings, FeedSettings)


@pytest.mark.parametrize(
    "key",
    sorted({field.alias or name for model in NOTIFICATION_MODELS
            for name, field in model.model_fields.items()}),
)
def test_every_notification_key_is_documented(key: str) -> None:
    assert f"`{key}`" in README


@pytest.mark.parametrize(
    "module",
    sorted(p.relative_to(REPO).as_posix()
           for package in ("monitors", "pipeline", "storage", "notifications")
           for p in (REPO / package).glob("*.py") if p.name != "__init__.py"),
)
def test_architecture_names_every_module(module: str) -> None:
    assert Path(module).name in ARCHITECTURE
