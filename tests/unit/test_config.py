"""Config loading: typed models, defaults, and errors that name the line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from core.errors import ConfigError
from core.units import format_duration, parse_duration, parse_size
from pipeline.config import config_path, load_config, parse_config

CASES = Path(__file__).parent / "cases"


def _cases(name: str) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = YAML(typ="safe").load((CASES / name).read_text())
    return loaded


@pytest.mark.parametrize("case", _cases("config_errors.yaml"), ids=lambda c: c["name"])
def test_bad_config_fails_with_file_line_and_hint(case: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(case["yaml"], "site.yaml")
    message = str(caught.value)
    assert message.startswith(f"site.yaml:{case['line']}:"), message
    for fragment in case["expect"]:
        assert fragment in message, f"{fragment!r} not in {message!r}"


GOOD = """
database: data/gw.db
defaults:
  every: 2h
  timeout: 45s
  max_bytes: 5MB
organizations:
  - id: oecd
    name: OECD
    homepage: https://www.oecd.org/
    monitors:
      - id: principles
        kind: page
        url: https://www.oecd.org/en/topics/ai-principles.html
        select: main
        exclude: [".share", "nav"]
      - id: wonk
        kind: feed
        url: https://oecd.ai/en/wonk/rss.xml
        every: 30m
        timeout: 10s
      - id: report
        kind: pdf
        url: https://gpai.ai/report.pdf
        enabled: false
"""


def test_good_config_inherits_defaults() -> None:
    config = parse_config(GOOD)
    principles, wonk, report = config.organizations[0].monitors
    assert config.database == "data/gw.db"
    assert principles.every == timedelta(hours=2)
    assert principles.timeout == timedelta(seconds=45)
    assert principles.max_bytes == 5_000_000
    assert principles.exclude == (".share", "nav")
    assert wonk.every == timedelta(minutes=30)
    assert wonk.timeout == timedelta(seconds=10)
    assert report.enabled is False
    assert [m.id for _, m in config.monitors()] == ["principles", "wonk", "report"]


def test_builtin_defaults_apply_without_defaults_section() -> None:
    config = parse_config(
        "organizations:\n  - {id: o, name: O, monitors: [{id: m, kind: page, url: 'http://x.org/'}]}\n"
    )
    monitor = config.organizations[0].monitors[0]
    assert monitor.every == timedelta(hours=6)
    assert monitor.enabled is True
    assert config.database == "govwatch.db"
    assert config.defaults.per_host == 2


def test_exclude_accepts_a_single_selector() -> None:
    config = parse_config(
        "organizations:\n  - id: o\n    name: O\n    monitors:\n"
        "      - {id: m, kind: page, url: 'http://x.org/', exclude: footer}\n"
    )
    assert config.organizations[0].monitors[0].exclude == ("footer",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30s", timedelta(seconds=30)), ("15m", timedelta(minutes=15)), ("6h", timedelta(hours=6)),
     ("1d", timedelta(days=1)), ("1.5h", timedelta(minutes=90)), (" 2 m ", timedelta(minutes=2))],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "6", "6 hours", "h", "-1h", "1w", "1h30m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "expected"), [(timedelta(hours=6), "6h"), (timedelta(days=2), "2d"),
                            (timedelta(seconds=90), "90s"), (timedelta(minutes=15), "15m")],
)
def test_duration_round_trip(value: timedelta, expected: str) -> None:
    assert format_duration(value) == expected
    assert parse_duration(expected) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [(1000, 1000), ("500kB", 500_000), ("10MB", 10_000_000), ("8MiB", 8 * 1024 * 1024),
     ("123", 123)],
)
def test_sizes(text: object, expected: int) -> None:
    assert parse_size(text) == expected


def test_config_path_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVWATCH_CONFIG", "/etc/govwatch.yaml")
    assert config_path("cli.yaml") == Path("cli.yaml")
    assert config_path(None) == Path("/etc/govwatch.yaml")
    monkeypatch.delenv("GOVWATCH_CONFIG")
    assert config_path(None) == Path("config.yaml")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "nope.yaml")


RENDERED = """
defaults: {render: browser}
browser: {executable: /usr/bin/chromium, pages: 3}
organizations:
  - id: a
    name: A
    monitors:
      - {id: app, kind: page, url: 'https://a.org/app'}
      - {id: plain, kind: page, url: 'https://a.org/plain', render: plain}
      - {id: news, kind: feed, url: 'https://a.org/feed'}
      - {id: ready, kind: page, url: 'https://a.org/r', wait_for: '#list li'}
"""


def test_render_resolves_per_page_monitor_from_defaults() -> None:
    config = parse_config(RENDERED, "site.yaml")
    render = {m.id: m.render for _, m in config.monitors()}
    # Plain is stored as unset, as before the key existed: no baseline starts over.
    assert render == {"app": "browser", "plain": None, "news": None, "ready": "browser"}
    assert next(m for _, m in config.monitors() if m.id == "ready").wait_for == "#list li"
    assert config.rendered()
    assert (config.browser.executable, config.browser.pages) == ("/usr/bin/chromium", 3)
    assert config.browser.block == ("image", "font", "media")


def test_nothing_renders_by_default() -> None:
    config = parse_config(GOOD, "site.yaml")
    assert not config.rendered()
    assert {m.render for _, m in config.monitors()} == {None}


@pytest.mark.parametrize(("monitor", "expected"), [
    ("{id: f, kind: feed, url: 'https://a.org/f', render: browser}",
     "key 'render' does not apply to kind 'feed'"),
    ("{id: f, kind: pdf, url: 'https://a.org/f.pdf', wait_for: main}",
     "key 'wait_for' does not apply to kind 'pdf'"),
    ("{id: p, kind: page, url: 'https://a.org/', render: chrome}",
     "render"),
])
def test_render_keys_belong_to_pages(monitor: str, expected: str) -> None:
    text = f"organizations:\n  - id: a\n    name: A\n    monitors:\n      - {monitor}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "site.yaml")
    assert expected in str(caught.value)
