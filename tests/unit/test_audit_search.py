"""`govwatch search`: FTS5 over the extracted text of every version."""

from __future__ import annotations

import json
from pathlib import Path

from storage.db import Store
from tests.unit.audit_history import History, copy_as_before_audit, govwatch


def checks_with_text(store: Store, words: str, monitor: str = "principles") -> list[int]:
    """Check ids whose extracted text contains ``words`` (read without FTS)."""
    return [check_id for check_id, content_hash in store.db.execute(
        "SELECT id, content_hash FROM checks WHERE monitor_id = ? AND content_hash IS NOT NULL "
        "ORDER BY 1", [monitor])
        if words.lower() in store.load_content(content_hash).text.lower()]


def test_a_word_in_one_version_points_at_that_version(history: History, db: Path,
                                                      store: Store) -> None:
    result = govwatch(db, "search", "sandbox")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("oecd/principles  content ")
    assert "A regulatory [sandbox] is proposed." in lines[1]
    version_check, _ = history.versions[12]
    assert checks_with_text(store, "sandbox") == [version_check]
    assert f"version begun at #{version_check} " in lines[2]
    assert len(lines) == 3


def test_every_version_a_match_appears_in_is_listed(history: History, db: Path,
                                                    store: Store) -> None:
    result = govwatch(db, "search", "accountability", "--limit", "100", "--json")
    matches = json.loads(result.stdout)
    assert len(matches) == len([v for v in history.versions if v >= 30])
    seen = sorted(v["check_id"] for m in matches for v in m["versions"])
    assert seen == checks_with_text(store, "accountability")
    assert all("[Accountability]" in m["snippet"] for m in matches)
    default = json.loads(govwatch(db, "search", "accountability", "--json").stdout)
    assert len(default) == 20


def test_search_is_scoped_by_org_and_monitor(history: History, db: Path) -> None:
    assert "no match for 'accountability'" in govwatch(
        db, "search", "accountability", "--monitor", "ethics").stdout
    assert "no match" in govwatch(db, "search", "accountability", "--org", "unesco").stdout
    result = json.loads(govwatch(db, "search", "recommendation", "--org", "unesco",
                                 "--json").stdout)
    assert {v["monitor_id"] for m in result for v in m["versions"]} == {"ethics"}
    assert len(result) == 4, "editions 0..3 of the ethics page"
    feed = json.loads(govwatch(db, "search", '"wonk post 3"', "--json").stdout)
    assert {v["monitor_id"] for m in feed for v in m["versions"]} == {"wonk"}


def test_fts_syntax_works_with_the_switch_and_bad_syntax_is_an_error(history: History,
                                                                      db: Path) -> None:
    both = json.loads(govwatch(db, "search", "--fts", "sandbox OR accountability", "--limit",
                               "100", "--json").stdout)
    assert len(both) == 1 + len([v for v in history.versions if v >= 30])
    prefix = json.loads(govwatch(db, "search", "sandb*", "--json").stdout)
    assert len(prefix) == 1
    bad = govwatch(db, "search", "--fts", '"unbalanced')
    assert bad.exit_code == 1
    assert "not a valid FTS5 query" in bad.output


def test_the_migration_indexes_existing_texts(history: History, store: Store,
                                              tmp_path: Path) -> None:
    old = copy_as_before_audit(store, tmp_path / "before.db")
    result = json.loads(govwatch(old, "search", "sandbox", "--json").stdout)
    assert [m["content_hash"] for m in result] == [
        store.db.table("checks").get(history.versions[12][0])["content_hash"]]


def test_runs_do_not_index_and_search_catches_up(store: Store) -> None:
    from core.records import Extracted
    from pipeline.config import parse_config
    from storage.records import Check, Snapshot
    from storage.search import refresh_index, search

    config = parse_config("organizations:\n  - id: o\n    name: O\n    monitors:\n"
                          "      - {id: m, kind: page, url: 'https://o.org/'}\n")
    store.sync_monitors(config.organizations)
    for n, word in enumerate(("quokka", "axolotl")):
        content, snapshot = Extracted(text=f"a {word} appears"), Snapshot.of(word.encode())
        store.record(Check(monitor_id="m", started_at=f"2026-11-28T10:0{n}:00.000+00:00",
                           duration_ms=1, url="https://o.org/", outcome="new",
                           snapshot_hash=snapshot.hash, content_hash=content.content_hash),
                     snapshot=snapshot, content=content)
    indexed = store.db.execute("SELECT count(*) FROM contents_fts").fetchone()[0]
    assert indexed == 0, "recording a check leaves the full-text index alone"
    assert [m["snippet"] for m in search(store, "axolotl")] == ["a [axolotl] appears"]
    assert refresh_index(store) == 0, "search indexed everything pending"
    assert store.db.execute("SELECT count(*) FROM contents_fts").fetchone()[0] == 2


def test_the_index_keeps_each_text_once_and_plain(history: History, db: Path,
                                                  store: Store) -> None:
    assert govwatch(db, "search", "sandbox").exit_code == 0
    tables = {row[0] for row in store.db.execute("SELECT name FROM sqlite_master")}
    assert "contents_fts_content" not in tables, "an FTS5 table with a second copy"
    # Snippets read the texts from search_docs, which plain SQL reads as well.
    rows = store.db.execute("SELECT hash, text FROM search_docs").fetchall()
    assert rows and all(text == store.load_content(digest).text for digest, text in rows)


def test_search_holds_new_and_changed_versions_not_texts_that_differ_by_noise(
        store: Store) -> None:
    """A check judged unchanged read as the version before it but for what changes by
    itself: its text is not copied for search (a source without validators would add a
    page of text per check), unless a later version is that very text."""
    from core.records import Extracted
    from pipeline.config import parse_config
    from storage.records import Check, Snapshot
    from storage.search import search, store_texts

    config = parse_config("organizations:\n  - id: o\n    name: O\n    monitors:\n"
                          "      - {id: m, kind: page, url: 'https://o.org/'}\n")
    store.sync_monitors(config.organizations)

    def record(minute: int, outcome: str, text: str) -> str:
        content, snapshot = Extracted(text=text), Snapshot.of(text.encode())
        store.record(Check(monitor_id="m", started_at=f"2026-11-28T10:{minute:02d}:00.000+00:00",
                           duration_ms=1, url="https://o.org/", outcome=outcome,
                           snapshot_hash=snapshot.hash, content_hash=content.content_hash),
                     snapshot=snapshot, content=content)
        return content.content_hash

    first = record(0, "new", "the quokka consultation (request 17)")
    noisy = record(1, "unchanged", "the quokka consultation (request 18)")
    record(2, "confirm", "the quokka consultation (request 19)")
    assert store_texts(store) == 1
    copied = {row[0] for row in store.db.execute("SELECT hash FROM search_docs")}
    assert copied == {first}
    found = search(store, "quokka")
    assert [m["content_hash"] for m in found] == [first], "one page, not one hit per check"
    assert search(store, "18") == []
    # The same text as a version of its own later (a revert to it): copied then.
    record(3, "changed", "the axolotl consultation")
    record(4, "changed", "the quokka consultation (request 18)")
    assert store_texts(store) == 2
    assert [m["content_hash"] for m in search(store, "18")] == [noisy]
    texts = dict(store.db.execute("SELECT hash, text FROM content_text").fetchall())
    assert texts[noisy] == "the quokka consultation (request 18)"
