"""Change detection: normalization and each diff kind, as tables of cases (cases/*.yaml)."""

from __future__ import annotations

import random
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from monitors import MonitorConfig, build_monitor, clocks
from monitors.base import Monitor
from monitors.clocks import mask_clocks
from monitors.normalize import comparable_pair, compile_ignores, normalize_url
from monitors.volatility import NO_NOISE, Noise
from tests.pdfs import make_pdf

CASES = Path(__file__).parent / "cases"


def load(name: str) -> Any:
    return YAML(typ="safe").load((CASES / name).read_text(encoding="utf-8"))


def make(kind: str, **options: Any) -> Monitor:
    return build_monitor(
        MonitorConfig(id="m", kind=kind, url="https://example.org/", **options), "org"
    )


NORMALIZE = load("normalize.yaml")


@pytest.mark.parametrize(("line", "at", "expected"), NORMALIZE["clocks"])
def test_a_stamp_is_a_clock_only_when_it_reads_as_its_fetch_time(
    line: str, at: str | None, expected: str
) -> None:
    assert mask_clocks(line, _moment(at)) == expected


@pytest.mark.parametrize(("old", "new", "old_at", "new_at", "same"), [
    # A site's clock keeps its zone: 04:01 at 03:01 UTC and 10:01 at 09:01 are UTC+1.
    (["Agenda", "Generated 7 December 2026, 04:01"], ["Agenda", "Generated 7 December 2026, 10:01"],
     "2026-12-07T03:01:10+00:00", "2026-12-07T09:01:10+00:00", True),
    # An agenda's time on the day read at two fetch times fits no one zone: an edit.
    (["Session: 7 December 2026, 14:00"], ["Session: 7 December 2026, 15:30"],
     "2026-12-07T03:01:00+00:00", "2026-12-07T09:01:00+00:00", False),
    (["Live at 14:00:00"], ["Live at 15:30:00"],
     "2026-12-07T03:00:30+00:00", "2026-12-07T09:00:30+00:00", False),
    # Both on one page: the clock is masked in its zone, the agenda edit shows.
    (["Session: 7 December 2026, 14:00", "Generated 7 December 2026, 04:01"],
     ["Session: 7 December 2026, 15:30", "Generated 7 December 2026, 10:01"],
     "2026-12-07T03:01:10+00:00", "2026-12-07T09:01:10+00:00", False),
    (["Session: 7 December 2026, 14:00", "Generated 7 December 2026, 04:01"],
     ["Session: 7 December 2026, 14:00", "Generated 7 December 2026, 10:01"],
     "2026-12-07T03:01:10+00:00", "2026-12-07T09:01:10+00:00", True),
    # A stamp that names its zone, and a stamp on one side only, read as before.
    (["Built 2026-12-07 03:01:05 UTC"], ["Built 2026-12-07 09:01:06 UTC"],
     "2026-12-07T03:01:10+00:00", "2026-12-07T09:01:10+00:00", True),
], ids=["clock-one-zone", "agenda-no-zone", "seconds-no-zone", "clock-and-agenda-edit",
        "clock-and-agenda-kept", "zoned"])
def test_stamps_without_a_zone_are_clocks_only_in_one_zone_on_both_sides(
        old: list[str], new: list[str], old_at: str, new_at: str, same: bool) -> None:
    pair = comparable_pair(old, new, old_at=_moment(old_at), new_at=_moment(new_at))
    assert pair.same_lines() is same, (pair.old, pair.new)


def test_a_line_is_read_for_clocks_whenever_one_of_its_words_could_state_the_time() -> None:
    # The whole-line search only spares reading; it must never skip a line that holds a
    # word the word-by-word reading would try (random lines of digits and separators).
    rng = random.Random(7)
    years = clocks._year_forms(2026)
    for _ in range(20_000):
        line = "".join(rng.choice("0123456789 :-./T,aZ()") for _ in range(rng.randint(1, 30)))
        if any(clocks._could_state(w, years) for w in line.split()):
            assert clocks._may_hold_stamp(line, years), line


@pytest.mark.parametrize(("url", "expected"), NORMALIZE["url"])
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize("url", [
    "https://www.oecd.org/en/publications.html", "http://127.0.0.1:8080/a/b.pdf",
    "https://oecd.ai", "https://h.org/~x/a,b;c", "https://h.org/a/./b", "https://h.org/a/..",
    "https://h.org//x//", "http://h.org:80/", "https://h.org/%41", "https://H.org/x",
    "https://h.org/caf\u00e9", "https://h.org/x?b=2&a=1", "https://h.org/x#top",
    "https://h.org/$!'()*+,=:@-_.~", "http://127.0.0.1:45371/news/1", "http://h.org:65535/",
    "http://h.org:65536/x", "http://h.org:00080/x", "http://10.0.0.255/a", "http://127.0.0.01/",
    "http://256.1.1.1/", "http://1.2.3.4./", "http://1.2.3/", "http://0x7f.0.0.1/",
])
def test_normalize_url_shortcut_agrees_with_w3lib(url: str) -> None:
    # Links w3lib would leave as they are skip it; every other link still goes through it.
    from monitors.normalize import _canonical

    assert normalize_url(url) == _canonical(url)


@pytest.mark.parametrize("url", ["http://h.org:99999/x", "http://h.org:8o/x", "http://h.org:-1/"])
def test_normalize_url_keeps_a_link_with_a_broken_port(url: str) -> None:
    # w3lib raised ValueError on these, and a hostile page's link stopped the comparison.
    assert normalize_url(url) == url


@pytest.mark.parametrize("case", NORMALIZE["comparable"], ids=lambda c: c["name"])
def test_comparable_lines(case: dict[str, Any]) -> None:
    pair = comparable_pair(case["lines"], [], removed=case.get("noise", ()),
                           ignore=compile_ignores(case.get("ignore", ())))
    assert [key for key, _ in pair.old] == case["keys"]


def _within(value: float, bounds: list[float]) -> None:
    assert bounds[0] <= value <= bounds[1], f"{value} not in {bounds}"


@pytest.mark.parametrize("case", load("page_compare.yaml"), ids=lambda c: c["name"])
def test_page_compare(case: dict[str, Any]) -> None:
    monitor = make("page", **case.get("config", {}))
    old, new = (monitor.extract(f"<html><body>{case[side]}</body></html>".encode())
                for side in ("old", "new"))
    old_at, new_at = (_moment(case.get(f"{side}_at")) for side in ("old", "new"))
    noise = NO_NOISE
    if "again" in case:
        again = monitor.extract(f"<html><body>{case['again']}</body></html>".encode())
        learned = monitor.learn(new, again, NO_NOISE, new_at, new_at)
        noise = Noise(frozenset(learned))
    change = monitor.compare(old, new, noise, old_at=old_at, new_at=new_at)
    expect = case["expect"]
    if expect is None:
        assert change is None, change
        return
    assert change is not None
    assert monitor.compare(old, old) is None
    if "kind" in expect:
        assert change.kind == expect["kind"]
    if "summary" in expect:
        assert expect["summary"] in change.summary
    for fragment in expect.get("diff", []):
        assert fragment in change.diff.splitlines(), change.diff
    for fragment in expect.get("not_in_diff", []):
        assert fragment not in change.diff.splitlines(), change.diff
    if "inline" in expect:
        assert change.detail["inline"] == expect["inline"]
    if "links_added" in expect:
        assert [url for url, _ in change.detail["links_added"]] == expect["links_added"]
    if "links_removed" in expect:
        assert [url for url, _ in change.detail["links_removed"]] == expect["links_removed"]
    if "documents" in expect:
        assert [d["title"] for d in change.detail["documents"]] == expect["documents"]
    if "significance" in expect:
        _within(change.significance, expect["significance"])
    for fragment in expect.get("reasons", []):
        assert any(fragment in reason for reason in change.reasons), change.reasons
    assert change.quiet == expect.get("quiet")


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def rss(entries: list[dict[str, str]]) -> bytes:
    items = []
    for entry in entries:
        parts = [f"<title>{escape(entry.get('title', ''))}</title>",
                 f"<link>{escape(entry.get('link', ''))}</link>"]
        if "id" in entry:
            parts.append(f"<guid isPermaLink='false'>{entry['id']}</guid>")
        if "summary" in entry:
            parts.append(f"<description>{escape(entry['summary'])}</description>")
        if "published" in entry:
            parts.append(f"<pubDate>{entry['published']}</pubDate>")
        items.append("<item>" + "".join(parts) + "</item>")
    return (f"<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>"
            f"{''.join(items)}</channel></rss>").encode()


@pytest.mark.parametrize("case", load("feed_compare.yaml"), ids=lambda c: c["name"])
def test_feed_compare(case: dict[str, Any]) -> None:
    monitor = make("feed", **case.get("config", {}))
    change = monitor.compare(monitor.extract(rss(case["old"])), monitor.extract(rss(case["new"])))
    expect = case["expect"]
    if expect is None:
        assert change is None, change
        return
    assert change is not None and change.kind == "feed"

    def keys(group: str) -> list[str]:
        return [e["id"] or e["link"] for e in change.detail[group]]

    for field, group in (("added", "entries_added"), ("updated", "entries_updated"),
                         ("removed", "entries_removed")):
        if field in expect:
            assert keys(group) == expect[field]
    if "fields" in expect:
        assert [e["fields"] for e in change.detail["entries_updated"]] == expect["fields"]
    if "summary" in expect:
        assert change.summary == expect["summary"]
    if "significance" in expect:
        _within(change.significance, expect["significance"])
    if "words" in expect:
        edits = change.detail["entries_updated"][0]["changes"]
        assert {name: edit["words"] for name, edit in edits.items()} == expect["words"]
        before, after = case["old"][0], case["new"][0]
        for name, edit in edits.items():
            assert (edit["old"], edit["new"]) == (before.get(name, ""), after.get(name, ""))
    for line in expect.get("diff", []):
        assert line in change.diff.splitlines()
    added_links = [e["link"] for e in change.detail["entries_added"]]
    assert [d["url"] for d in change.detail["documents"]] == added_links


def _pdf(spec: dict[str, Any]) -> bytes:
    body = make_pdf(spec["pages"], title=spec.get("title", ""))
    return body + ("\n" + spec["suffix"] + "\n").encode() if "suffix" in spec else body


@pytest.mark.parametrize("case", load("pdf_compare.yaml"), ids=lambda c: c["name"])
def test_pdf_compare(case: dict[str, Any]) -> None:
    monitor = make("pdf")
    new = monitor.extract(_pdf(case["new"]))
    noise = NO_NOISE
    if "again" in case:
        noise = Noise(frozenset(monitor.learn(new, monitor.extract(_pdf(case["again"])))))
    change = monitor.compare(monitor.extract(_pdf(case["old"])), new, noise,
                             old_at=_moment(case.get("old_at")),
                             new_at=_moment(case.get("new_at")))
    expect = case["expect"]
    if expect is None:
        assert change is None
        return
    assert change is not None and change.kind == "pdf"
    assert change.detail["pages_changed"] == expect["pages_changed"]
    if "metadata" in expect:
        assert sorted(change.detail["metadata_changed"]) == expect["metadata"]
    assert expect["summary"] in change.summary
    for fragment in expect.get("diff", []):
        assert fragment in change.diff.splitlines()
    if "significance" in expect:
        _within(change.significance, expect["significance"])
    assert change.quiet == expect.get("quiet")


def test_bounded_diff_falls_back_and_says_so() -> None:
    monitor = make("page")
    old_lines = [f"<p>line {n} alpha {n * 7919 % 10007}</p>" for n in range(40000)]
    new_lines = [f"<p>line {n} beta {n * 104729 % 10007}</p>" for n in range(40000)]
    old = monitor.extract(("<body>" + "".join(old_lines) + "</body>").encode())
    new = monitor.extract(("<body>" + "".join(new_lines[::-1]) + "</body>").encode())
    change = monitor.compare(old, new)
    assert change is not None
    assert re.search(r"^\+line \d+ beta", change.diff, re.MULTILINE)
    if change.detail["coarse"]:
        assert any("coarse" in reason for reason in change.reasons)


_URL_PATH_CHARS = "abcXYZ019._~!$&'()*+,=:@/-"


@settings(max_examples=300, deadline=None)
@given(host=st.from_regex(r"[a-z0-9][a-z0-9-]{0,6}(\.[a-z0-9]{1,5}){0,2}", fullmatch=True)
       | st.from_regex(r"(0x)?[0-9]{1,4}(\.[0-9]{1,4}){0,4}\.?", fullmatch=True),
       port=st.none() | st.integers(min_value=1, max_value=65535),
       path=st.text(alphabet=_URL_PATH_CHARS, max_size=24))
def test_normalize_url_shortcut_agrees_with_w3lib_everywhere(
    host: str, port: int | None, path: str
) -> None:
    from monitors.normalize import _canonical

    url = f"https://{host}{'' if port is None else f':{port}'}{'/' + path if path else ''}"
    assert normalize_url(url) == _canonical(url)
