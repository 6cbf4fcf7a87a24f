"""The cache of parsed configs saves the YAML parsing only: what it holds is validated
again at every load, and a file it cannot vouch for is read the slow way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ConfigError
from pipeline.config import parse_config
from pipeline.config.cache import CACHE_ENV, cached_plain

CONFIG = ("organizations:\n  - id: office\n    name: Office\n    monitors:\n"
          "      - {id: news, kind: page, url: 'https://office.example/news'}\n")


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def entry(cache: Path) -> Path:
    (found,) = (cache / "config").glob("*.json")
    return found


def test_a_parsed_file_is_cached_and_the_cache_is_what_a_second_load_reads(
    own_cache: Path,
) -> None:
    assert cached_plain(CONFIG) is None
    assert parse_config(CONFIG).organizations[0].name == "Office"
    planted = json.loads(entry(own_cache).read_text())
    planted["organizations"][0]["name"] = "Read from the cache"
    entry(own_cache).write_text(json.dumps(planted))
    assert parse_config(CONFIG).organizations[0].name == "Read from the cache"


def test_an_edited_file_is_parsed_again(own_cache: Path) -> None:
    parse_config(CONFIG)
    edited = parse_config(CONFIG.replace("name: Office", "name: Bureau"))
    assert edited.organizations[0].name == "Bureau"
    assert len(list((own_cache / "config").glob("*.json"))) == 2


@pytest.mark.parametrize("content", [
    "{not json",
    json.dumps({"organizations": "not a list"}),
    # valid models, broken rule across entries: two monitors with one id
    json.dumps({"organizations": [{"id": "o", "name": "O", "monitors": [
        {"id": "m", "kind": "page", "url": "https://o.example/a"},
        {"id": "m", "kind": "page", "url": "https://o.example/b"}]}]}),
])
def test_a_cache_entry_that_does_not_validate_is_ignored(own_cache: Path, content: str) -> None:
    parse_config(CONFIG)
    entry(own_cache).write_text(content)
    config = parse_config(CONFIG)
    assert [m.id for _, m in config.monitors()] == ["news"]


def test_errors_name_their_line_whatever_the_cache_holds() -> None:
    parse_config(CONFIG)
    broken = CONFIG.replace("kind: page", "kind: pgae")
    with pytest.raises(ConfigError, match=r"t\.yaml:5"):
        parse_config(broken, "t.yaml")
    assert cached_plain(broken) is None  # an invalid file is never cached


def test_an_unusable_cache_directory_only_costs_time(own_cache: Path) -> None:
    own_cache.parent.mkdir(exist_ok=True)
    own_cache.write_text("a file where the directory should be")
    assert parse_config(CONFIG).organizations[0].id == "office"
    assert parse_config(CONFIG).organizations[0].id == "office"
