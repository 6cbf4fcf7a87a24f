"""Monitor kinds: the registry and the pure extract/compare of each kind."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, ClassVar

import pytest
from ruamel.yaml import YAML

from core.errors import ConfigError, ExtractError
from core.records import Extracted
from monitors import MonitorConfig, build_monitor, monitor_class, monitor_kinds
from monitors.base import Monitor
from monitors.html import (
    BLOCK_TAGS,
    PageFacts,
    lines_and_lists,
    lines_of,
    mark_block_boundaries,
    mark_repeated_siblings,
    page_facts,
    parse_bounded,
    prefix_tree,
)
from tests.pdfs import make_pdf

CASES = Path(__file__).parent / "cases"


def make(kind: str, url: str = "https://example.org/", **options: Any) -> Monitor:
    return build_monitor(MonitorConfig(id="m", kind=kind, url=url, **options), "org")


def test_builtin_kinds_are_registered() -> None:
    assert set(monitor_kinds()) >= {"page", "feed", "pdf"}
    assert monitor_class("feed").kind == "feed"


def test_duplicate_kind_is_refused() -> None:
    with pytest.raises(TypeError, match="already registered"):
        type("AnotherPage", (Monitor,), {"kind": "page"})
    assert monitor_class("page").__name__ == "PageMonitor"


def test_kind_must_be_declared() -> None:
    with pytest.raises(TypeError, match="must declare"):
        type("Nameless", (Monitor,), {})


def test_unknown_kind_lookup_lists_known_kinds() -> None:
    with pytest.raises(ConfigError, match="known kinds: feed, page, pdf"):
        monitor_class("webpage")


def test_a_new_kind_registers_itself() -> None:
    class Shout(Monitor):
        kind = "test-shout"
        own_keys: ClassVar[frozenset[str]] = frozenset()

        def extract(self, body: bytes, *, content_type: str = "", url: str = "") -> Extracted:
            return Extracted(text=body.decode().upper())

    try:
        monitor = make("test-shout")
        assert isinstance(monitor, Shout)
        assert monitor.extract(b"hi").text == "HI"
    finally:
        from monitors import base

        base.KINDS.pop("test-shout")


def _page_cases() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = YAML(typ="safe").load((CASES / "page_extract.yaml").read_text())
    return loaded


@pytest.mark.parametrize("case", _page_cases(), ids=lambda c: c["name"])
def test_page_extract(case: dict[str, Any]) -> None:
    url = case.get("url", "https://example.org/")
    monitor = make("page", url, **case.get("config", {}))
    if "html_latin1" in case:
        body = case["html_latin1"].encode("latin-1")
    else:
        body = case["html"].encode("utf-8")
    extracted = monitor.extract(body, content_type="text/html", url=url)
    if "text" in case:
        assert extracted.text == case["text"]
    if "links" in case:
        assert extracted.data["links"] == case["links"]
    if "title" in case:
        assert extracted.data["title"] == case["title"]


FACTS = {
    "a plain page": ("<html><head><title> Guidance </title></head><body><p>x</p></body></html>",
                     PageFacts(None, "Guidance", 0, False)),
    "the first title and the first base with an href":
        ("<head><base target='_top'><base href='/a/'><base href='/b/'><title>One</title>"
         "<title>Two</title></head>", PageFacts("/a/", "One", 0, False)),
    "a script that is also an app root counts once":
        ("<body><script id='root'></script><p>x</p></body>", PageFacts(None, "", 1, True)),
    "an app root without scripts is no shell": ("<body><div id='app'></div></body>",
                                                PageFacts(None, "", 0, False)),
    "scripts and a noscript asking for JavaScript":
        ("<body><script src='/a.js'></script><script></script>"
         "<noscript>Please enable JavaScript.</noscript></body>", PageFacts(None, "", 2, True)),
    "scripts and a noscript about something else":
        ("<body><script></script><noscript><img src='/pixel.gif'></noscript></body>",
         PageFacts(None, "", 1, False)),
    "scripts and an Angular root": ("<body><app-root></app-root><script></script></body>",
                                    PageFacts(None, "", 1, True)),
}


@pytest.mark.parametrize("html, facts", list(FACTS.values()), ids=list(FACTS))
def test_page_facts_come_from_one_query(html: str, facts: PageFacts) -> None:
    assert page_facts(parse_bounded(html)[0]) == facts


PREFIX_TREES = {
    "one word": (["nav"], "nav"),
    "a word that is a prefix of another": (["p", "pre"], "p(?:re)?"),
    "shared prefixes": (["h1", "h2", "header"], "h(?:1|2|eader)"),
    "no shared letter": (["ul", "li"], "(?:li|ul)"),
}


@pytest.mark.parametrize("words, pattern", list(PREFIX_TREES.values()), ids=list(PREFIX_TREES))
def test_prefix_tree_factors_an_alternation(words: list[str], pattern: str) -> None:
    assert prefix_tree(words) == pattern
    for word in words:
        assert re.fullmatch(pattern, word)
    for other in ("", "x", *(word + "x" for word in words), *(word[:-1] for word in words)):
        if other not in words:
            assert not re.fullmatch(pattern, other), other


# Every HTML element name, and near misses of block names.
ALL_TAGS = (
    "a abbr address area article aside audio b base bdi bdo blockquote body br button canvas "
    "caption cite code col colgroup data datalist dd del details dfn dialog div dl dt em embed "
    "fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 head header hgroup hr html i "
    "iframe img input ins kbd label legend li link main map mark menu meta meter nav noscript "
    "object ol optgroup option output p param picture pre progress q rp rt ruby s samp script "
    "section select slot small source span strong sub summary sup table tbody td template "
    "textarea tfoot th thead time title tr track u ul var video wbr h7 pr divx navbar"
).split()


@pytest.mark.parametrize("upper", [False, True], ids=["lower case", "upper case"])
def test_block_boundaries_are_marked_at_block_tags_only(upper: bool) -> None:
    blocks = {name.strip() for name in BLOCK_TAGS.split(",")}
    for tag in ALL_TAGS:
        name = tag.upper() if upper else tag
        for html in (f"<{name}>", f"</{name}>", f"<{name} class='x'>", f"<{name}/>"):
            marked = mark_block_boundaries(html)
            expected = "\x1f" + html if tag in blocks else html
            # A list also says where it opens, and after its end tag where it closes.
            if tag in ("ul", "ol", "table") and not html.startswith("</"):
                expected = "\x1f\x1c" + html
            elif tag in ("ul", "ol", "table") and html == f"</{name}>":
                expected = "\x1f" + html + "\x1d"
            assert marked == expected, html


@pytest.mark.parametrize(("html", "runs"), [
    ("<p>a</p><ul><li>b</li><li>c</li></ul><p>d</p>", [[1, 2]]),
    # The outermost list only, nested items counted in it; lists of one line, or longer
    # than a slot can be, are not recorded.
    ("<ol><li>a<ul><li>b</li><li>c</li></ul></li><li>d</li></ol>", [[0, 4]]),
    ("<ul><li>a</li></ul><UL><LI>b</LI><LI>c</LI></UL>", [[1, 2]]),
    ("<ul>" + "".join(f"<li>{i}</li>" for i in range(25)) + "</ul>", []),
    ("<ul><li> </li><li></li></ul><p>x</p>", []),
    # A table's rows (a parser moves text between rows out of the table: its end is
    # marked after its end tag).
    ("<table><tr><td>a</td><td>1</td></tr><tr><td>b</td></tr></table><p>c</p>", [[0, 3]]),
])
def test_lists_are_found_among_the_lines(html: str, runs: list[list[int]]) -> None:
    tree, _ = parse_bounded(f"<html><body>{html}</body></html>")
    assert tree.body is not None
    lines, found = lines_and_lists(tree.body)
    assert lines == lines_of(tree.body)
    assert found == runs


@pytest.mark.parametrize(("html", "runs"), [
    # Sibling blocks that share their tag and class, each with a link, are a list (cards).
    ('<p>a</p><div class="c"><h4><a href="/b">b</a></h4><p>c</p></div>'
     '<div class="c"><a href="/d">d</a></div><p>e</p>', [[1, 3]]),
    ('<article class="x y"><a href="/a">a</a></article><article class="x y"><a href="/b">b'
     '</a></article><article class="x y"><a href="/c">c</a></article>', [[0, 3]]),
    # Another class, no class, inline elements, or a block without a link (paragraphs of
    # a text that share a word processor's class) are no such list.
    ('<div class="c"><a href="/a">a</a></div><div class="d"><a href="/b">b</a></div>', []),
    ('<p><a href="/a">a</a></p><p><a href="/b">b</a></p>', []),
    ('<p><span class="c"><a href="/a">a</a></span><span class="c"><a href="/b">b</a></span>'
     "</p>", []),
    ('<p class="MsoNormal">a</p><p class="MsoNormal">b <a href="/b">b</a></p>', []),
])
def test_sibling_blocks_that_share_a_class_are_a_list(html: str, runs: list[list[int]]
                                                      ) -> None:
    tree, _ = parse_bounded(f"<html><body>{html}</body></html>")
    assert tree.body is not None
    before = lines_of(tree.body)
    mark_repeated_siblings(tree.body)
    lines, found = lines_and_lists(tree.body)
    assert lines == before
    assert found == runs


def test_page_select_matching_nothing_is_an_extract_error() -> None:
    with pytest.raises(ExtractError, match="matched nothing"):
        make("page", select="#content").extract(b"<body><p>x</p></body>")


def test_page_compare_reports_a_unified_diff() -> None:
    monitor = make("page")
    old = monitor.extract(b"<body><li>Report A</li></body>")
    new = monitor.extract(b"<body><li>Report A</li><li>Report B</li></body>")
    change = monitor.compare(old, new)
    assert change is not None
    assert change.kind == "text"
    assert "+Report B" in change.diff
    assert change.summary == "1 line(s) added, 0 removed"
    assert monitor.compare(old, old) is None


RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>ITU News</title>
<item><title>AI for Good 2026</title><link>https://itu.int/n/1</link><guid>n1</guid>
<pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate>
<description>&lt;p&gt;Summit &lt;b&gt;opens&lt;/b&gt;&lt;/p&gt;</description></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>AISI</title><id>tag:gov.uk,2026:aisi</id><updated>2026-11-01T00:00:00Z</updated>
<entry><id>tag:gov.uk,2026:1</id><title>Frontier AI Trends</title>
<link href="https://www.gov.uk/x"/><updated>2026-11-01T00:00:00Z</updated>
<summary>Report</summary></entry></feed>"""


def test_feed_extract_rss_entries() -> None:
    extracted = make("feed").extract(RSS, content_type="application/rss+xml")
    assert extracted.data["title"] == "ITU News"
    (entry,) = extracted.data["entries"]
    assert entry["id"] == "n1"
    assert entry["link"] == "https://itu.int/n/1"
    assert entry["title"] == "AI for Good 2026"
    assert entry["summary"] == "Summit opens"
    assert "2026" in entry["published"]
    assert "AI for Good 2026" in extracted.text


def test_feed_extract_atom_entries() -> None:
    (entry,) = make("feed").extract(ATOM).data["entries"]
    assert entry == {
        "id": "tag:gov.uk,2026:1", "link": "https://www.gov.uk/x", "title": "Frontier AI Trends",
        "published": "2026-11-01T00:00:00Z", "summary": "Report",
    }


@pytest.mark.parametrize(
    "body", [b"<html><body>Not a feed</body></html>", b"", b"\x00\x01\x02garbage", b"{}"]
)
def test_feed_extract_refuses_non_feeds(body: bytes) -> None:
    with pytest.raises(ExtractError, match="invalid feed"):
        make("feed").extract(body)


def test_feed_compare_lists_new_entries_by_guid() -> None:
    monitor = make("feed")
    old = monitor.extract(RSS)
    newer = RSS.replace(
        b"<item>",
        b"<item><title>Global Dialogue on AI</title><link>https://itu.int/n/2</link>"
        b"<guid>n2</guid></item><item>",
        1,
    )
    change = monitor.compare(old, monitor.extract(newer))
    assert change is not None
    assert change.kind == "feed"
    assert change.summary == "1 new entry: Global Dialogue on AI"
    assert [e["link"] for e in change.detail["entries_added"]] == ["https://itu.int/n/2"]
    assert change.detail["entries_removed"] == []
    assert "+Global Dialogue on AI" in change.diff


REPORT = [["Climate Change and AI", "Recommendations for Government Action"],
          ["1. Fund open data", "2. Share compute"]]


def test_pdf_extract_keeps_text_page_by_page_and_metadata() -> None:
    body = make_pdf(REPORT, title="GPAI report", modified="D:20240101000000Z")
    extracted = make("pdf").extract(body)
    assert extracted.data["sha256"] == hashlib.sha256(body).hexdigest()
    assert extracted.data["size"] == len(body)
    assert (extracted.data["title"], extracted.data["pages"]) == ("GPAI report", 2)
    assert extracted.data["modified"] == "D:20240101000000Z"
    assert extracted.text.splitlines() == [
        "[page 1]", "Climate Change and AI", "Recommendations for Government Action",
        "[page 2]", "1. Fund open data", "2. Share compute",
    ]


def test_pdf_new_edition_is_compared_page_by_page() -> None:
    monitor = make("pdf")
    old = monitor.extract(make_pdf(REPORT, title="GPAI report", modified="D:2024"))
    edited = [REPORT[0], ["1. Fund open data", "2. Share compute", "3. Audit models"],
              ["Annex"]]
    new = monitor.extract(make_pdf(edited, title="GPAI report (2nd ed.)", modified="D:2025"))
    change = monitor.compare(old, new)
    assert change is not None and change.kind == "pdf"
    assert change.detail["pages_changed"] == [2]
    assert "title" in change.detail["metadata_changed"]
    assert "pages" in change.detail["metadata_changed"]
    assert "+3. Audit models" in change.diff and "+Annex" in change.diff
    assert "text changed on page(s) 2" in change.summary and "2 -> 3 pages" in change.summary
    assert change.significance > 0.2


def test_pdf_resaved_with_same_text_is_a_minor_change() -> None:
    monitor = make("pdf")
    old = monitor.extract(make_pdf(REPORT, title="GPAI report"))
    new = monitor.extract(make_pdf(REPORT, title="GPAI report") + b"\n% re-saved\n")
    change = monitor.compare(old, new)
    assert change is not None
    assert change.summary.startswith("PDF: new edition, same text")
    assert change.significance <= 0.2 and change.reasons == ("metadata only",)
    assert monitor.compare(old, old) is None


def test_pdf_that_cannot_be_parsed_keeps_its_hash_and_says_why() -> None:
    extracted = make("pdf").extract(b"%PDF-1.7\n1 0 obj\n%%EOF")
    assert extracted.text == ""
    assert "text_error" in extracted.data
    assert len(extracted.data["sha256"]) == 64


def test_pdf_extract_refuses_html() -> None:
    with pytest.raises(ExtractError, match="not a PDF"):
        make("pdf").extract(b"<html>Access denied</html>", content_type="text/html")
