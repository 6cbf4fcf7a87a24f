"""`govwatch search`: plain words are searched as typed; FTS5 syntax only with --fts."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.records import Extracted
from pipeline.cli.group import EXIT_FAILURE
from pipeline.config import parse_config
from storage.db import Store
from storage.records import Check, Snapshot
from storage.search import search
from tests.unit.cli_support import config_text, invoke

TEXTS = {
    "act": "The AI Act's high-risk systems (draft) rules, e.g. general-purpose models, "
           "apply EU-wide.",
    "code": "C++ code reviewed by naïve Ärzte in 東京.",
    "phrase": "an exact phrase appears here",
    "apart": "the phrase is not exact here",
}
_minutes = count()


def record_text(store: Store, monitor: str, text: str) -> str:
    """Record one check of ``monitor`` that extracted ``text``; returns its content hash."""
    content = Extracted(text=text)
    snapshot = Snapshot.of(text.encode())
    minute = next(_minutes)
    store.record(Check(monitor_id=monitor,
                       started_at=f"2026-11-28T{minute // 60 % 24:02d}:{minute % 60:02d}:00"
                                  ".000+00:00",
                       duration_ms=1, url="https://o.org/", outcome="new",
                       snapshot_hash=snapshot.hash, content_hash=content.content_hash),
                 snapshot=snapshot, content=content)
    return content.content_hash


def open_store(path: Path) -> Store:
    store = Store(path)
    monitors = "".join(f"      - {{id: {name}, kind: page, url: 'https://o.org/{name}'}}\n"
                       for name in [*TEXTS, "any"])
    store.sync_monitors(parse_config(
        f"organizations:\n  - id: o\n    name: O\n    monitors:\n{monitors}").organizations)
    return store


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "gw.db"
    with open_store(path) as store:
        for name, text in TEXTS.items():
            record_text(store, name, text)
    (tmp_path / "config.yaml").write_text(config_text(path), encoding="utf-8")
    return path


def found(db: Path, *args: str) -> set[str]:
    """The monitors whose text ``govwatch search ARGS`` finds."""
    result = invoke("--db", str(db), "search", "--json", *args)
    assert result.exit_code == 0, result.output
    return {v["monitor_id"] for match in json.loads(result.stdout) for v in match["versions"]}


@pytest.mark.parametrize(("query", "expected"), [
    ("high-risk", {"act"}),
    ("general-purpose", {"act"}),
    ("EU-wide", {"act"}),
    ("AI Act's", {"act"}),
    ("(draft)", {"act"}),
    ("e.g.", {"act"}),
    ("C++", {"code"}),
    ("naive arzte", {"code"}),
    ("東京", {"code"}),
    ('"exact phrase"', {"phrase"}),
    ("exact phrase", {"phrase", "apart"}),
    ('"exact\x00phrase"', {"phrase"}),
    ("high-ris*", {"act"}),
    ("phrase OR nothing", set()),  # plain: OR is a word like any other
    ("risk:high", set()),
    ("-", set()),
    ('"', set()),
])
def test_plain_words_are_searched_as_typed(db: Path, query: str, expected: set[str]) -> None:
    assert found(db, query) == expected


def test_fts_syntax_is_available_with_the_switch(db: Path) -> None:
    assert found(db, "--fts", "C OR phrase") == {"code", "phrase", "apart"}
    assert found(db, "--fts", "exact NOT appears") == {"apart"}
    assert found(db, "--fts", "NEAR(exact phrase, 0)") == {"phrase"}


@pytest.mark.parametrize("query", ["high-risk", '"unbalanced', "a AND", "NEAR(", '"x\x00y"'])
def test_a_bad_fts_query_is_one_line_naming_it(db: Path, query: str) -> None:
    result = invoke("--db", str(db), "search", "--fts", query)
    assert result.exit_code == EXIT_FAILURE, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and repr(query) in lines[0]
    assert lines[0].startswith("error: not a valid FTS5 query")
    for raw in ("sqlite", "fts5:", "no such column", "syntax error", "unterminated"):
        assert raw not in lines[0]


@pytest.fixture(scope="module")
def shared_store() -> Iterator[Store]:
    with tempfile.TemporaryDirectory() as directory, \
            open_store(Path(directory) / "gw.db") as store:
        for name, text in TEXTS.items():
            record_text(store, name, text)
        yield store


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_plain_query_gives_a_clean_result(shared_store: Store, query: str) -> None:
    matches = search(shared_store, query, limit=5)
    assert isinstance(matches, list)
    assert all(set(m) == {"content_hash", "snippet", "versions"} for m in matches)


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=1, max_size=60))
def test_a_text_is_found_by_searching_for_itself(shared_store: Store, text: str) -> None:
    assume(re.search("[A-Za-z0-9]", text))  # at least one word for the tokenizer
    digest = record_text(shared_store, "any", text)
    matches = search(shared_store, text, limit=10_000)
    assert digest in {m["content_hash"] for m in matches}
