"""Realistic pages in the style of the seed organizations: noise stays quiet, news speaks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import ExtractError
from monitors import MonitorConfig, build_monitor
from monitors.base import Monitor
from monitors.diffing import diff_lines, plain_lines
from monitors.volatility import Noise
from tests.pdfs import make_pdf

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LISTING = (FIXTURES / "unesco_listing.html").read_text(encoding="utf-8")
ITEMS = [
    ("/en/articles/readiness-assessment-kenya", "Kenya completes its AI readiness assessment",
     "12 November 2026"),
    ("/en/articles/global-forum-ethics-ai-2026", "Global Forum on the Ethics of AI 2026",
     "3 October 2026"),
]
NEW_ITEM = ("/sites/default/files/2026-11/ai-competency-framework.pdf",
            "AI competency framework for civil servants", "27 November 2026")


def listing(items: list[tuple[str, str, str]] = ITEMS, **overrides: Any) -> bytes:
    values: dict[str, Any] = {
        "token": "3f1b9c0e5d2a4f6b8c7d9e0a1b2c3d4e", "build": "1732700000",
        "clock": "10:31", "menu": "Sciences", "updated": "2 November 2026", "views": "1,204",
        "photo": 3, "caption": "Youth forum", "year": 2026,
    }
    values.update(overrides)
    lis = "\n".join(f'        <li><a href="{href}">{title}</a> <time>{date}</time></li>'
                    for href, title, date in items)
    page = LISTING.replace("{items}", lis)
    for key, value in values.items():
        page = page.replace("{" + key + "}", str(value))
    return page.encode("utf-8")


# What changes by itself on this page, as two later copies fetched a second apart show it
# (the header clock ticks over a minute between them).
NOISE = {
    "token": "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d", "build": "1732788000", "clock": "10:47",
    "views": "1,391", "photo": 8, "caption": "Open science day",
}
AGAIN = {
    "token": "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f", "build": "1732788001", "clock": "10:48",
    "views": "1,392", "photo": 5, "caption": "Ministers meet",
}


def learned(page: Monitor, items: list[tuple[str, str, str]] = ITEMS) -> Noise:
    """What the monitor learns from a confirming copy of ``listing(items, **NOISE)``."""
    first, second = page.extract(listing(items, **NOISE)), page.extract(listing(items, **AGAIN))
    return Noise(frozenset(page.learn(first, second)))


@pytest.fixture
def page() -> Monitor:
    return build_monitor(
        MonitorConfig(id="unesco-ai", kind="page", url="https://www.unesco.org/en/ai"), "unesco"
    )


def test_clock_counter_token_and_photo_raise_nothing_once_learned(page: Monitor) -> None:
    before, after = page.extract(listing()), page.extract(listing(**NOISE))
    assert before.content_hash != after.content_hash, "the bytes and text really differ"
    assert page.compare(before, after) is not None, "two versions alone cannot tell"
    assert page.compare(before, after, learned(page)) is None


def test_an_edited_last_updated_date_is_reported(page: Monitor) -> None:
    before, after = page.extract(listing()), page.extract(listing(updated="28 November 2026"))
    change = page.compare(before, after, learned(page))
    assert change is not None
    assert "+Last updated: 28 November 2026" in change.diff.splitlines()


def test_a_new_publication_is_named_without_the_noise(page: Monitor) -> None:
    before = page.extract(listing())
    after = page.extract(listing([NEW_ITEM, *ITEMS], **NOISE))
    change = page.compare(before, after, learned(page))
    assert change is not None
    assert change.kind == "links"
    assert change.summary == "1 new document: AI competency framework for civil servants"
    assert change.detail["documents"] == [{
        "url": "https://www.unesco.org/sites/default/files/2026-11/ai-competency-framework.pdf",
        "title": "AI competency framework for civil servants",
    }]
    changed_lines = [line for line in change.diff.splitlines()
                     if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed_lines == ["+AI competency framework for civil servants 27 November 2026"]
    assert change.significance >= 0.8


def test_a_renamed_menu_entry_is_reported_as_minor(page: Monitor) -> None:
    change = page.compare(page.extract(listing()), page.extract(listing(menu="Natural sciences")))
    assert change is not None and change.kind == "text"
    assert "+Natural sciences" in change.diff.splitlines()
    assert change.significance <= 0.15
    assert any("template" in reason for reason in change.reasons)


def test_pdf_replaced_by_a_new_edition() -> None:
    pdf = build_monitor(MonitorConfig(id="r", kind="pdf", url="https://gpai.ai/r.pdf"), "gpai")
    first = make_pdf([["Responsible AI", "Working group report"], ["Findings"]],
                     title="RAI WG report 2021")
    second = make_pdf([["Responsible AI", "Working group report"], ["Findings", "Update 2022"]],
                      title="RAI WG report 2022")
    change = pdf.compare(pdf.extract(first), pdf.extract(second))
    assert change is not None
    assert change.detail["pages_changed"] == [2]
    assert "title 'RAI WG report 2021' -> 'RAI WG report 2022'" in change.summary
    assert "+Update 2022" in change.diff.splitlines()


def test_coarse_fallback_is_flagged_and_still_correct() -> None:
    old = "\n".join(f"line {n} alpha {n * 7919 % 10007}" for n in range(30000))
    new = "\n".join(f"line {n} beta {n * 104729 % 10007}" for n in range(30000, 0, -1))
    diff = diff_lines(plain_lines(old), plain_lines(new), deadline=0.001)
    assert diff.coarse
    old_lines, new_lines = old.splitlines(), new.splitlines()
    assert len(old_lines) - len(diff.removed) + len(diff.added) == len(new_lines)
    assert set(diff.added) <= set(new_lines) and set(diff.removed) <= set(old_lines)


# -- properties ---------------------------------------------------------------------
KINDS = ("page", "feed", "pdf")
MONITORS = {kind: build_monitor(MonitorConfig(id=kind, kind=kind, url="https://x.org/"), "o")
            for kind in KINDS}
html_text = st.recursive(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
    lambda inner: st.builds(
        lambda tag, attrs, body: f"<{tag} {attrs}>{body}</{tag}>",
        st.sampled_from(["div", "p", "a", "li", "script", "style", "nav", "time", "span"]),
        st.sampled_from(["", "class='carousel'", "href='/x?v=1'", "hidden",
                         "style='display:none'"]),
        inner,
    ),
    max_leaves=20,
)


def _extract_or_none(kind: str, body: bytes) -> Any:
    try:
        return MONITORS[kind].extract(body)
    except ExtractError:
        return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), body=st.binary(max_size=3000))
def test_compare_never_crashes_on_arbitrary_bytes(kind: str, body: bytes) -> None:
    extracted = _extract_or_none(kind, body)
    if extracted is not None:
        assert MONITORS[kind].compare(extracted, extracted) is None


@settings(max_examples=80, deadline=None)
@given(a=html_text, b=html_text)
def test_page_compare_of_a_with_a_is_nothing_and_never_crashes(a: str, b: str) -> None:
    page = MONITORS["page"]
    first, second = page.extract(a.encode()), page.extract(b.encode())
    assert page.compare(first, first) is None
    assert page.compare(second, second) is None
    change = page.compare(first, second)
    if change is not None:
        assert 0.0 <= change.significance <= 1.0


xml_text = st.builds(
    lambda items: "<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
    + "".join(f"<item><title>{t}</title><link>https://x.org/{n}</link></item>"
              for n, t in enumerate(items)) + "</channel></rss>",
    st.lists(st.text(alphabet="abc <&>;'\"é", max_size=12), max_size=6),
)


@settings(max_examples=60, deadline=None)
@given(a=xml_text, b=xml_text)
def test_feed_compare_properties(a: str, b: str) -> None:
    feed = MONITORS["feed"]
    first, second = _extract_or_none("feed", a.encode()), _extract_or_none("feed", b.encode())
    for version in (first, second):
        if version is not None:
            assert feed.compare(version, version) is None
    if first is not None and second is not None:
        feed.compare(first, second)


def test_an_ignored_region_matched_twice_is_left_out_once() -> None:
    page = build_monitor(MonitorConfig(id="unesco-ai", kind="page",
                                       url="https://www.unesco.org/en/ai",
                                       ignore_selectors=[".footer-carousel", "figure"]), "unesco")
    noise = page.extract(listing()).data["noise"]
    assert noise.count("Photo 3 of 12: Youth forum") == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=60), data=st.dictionaries(st.text(max_size=8), json_values,
                                                       max_size=5))
def test_content_hash_is_the_hash_of_the_canonical_json(text: str, data: dict[str, Any]) -> None:
    # orjson makes the hashed bytes; without floats they are json's canonical form.
    import hashlib

    from core.canonical import canonical_json
    from core.records import Extracted

    expected = hashlib.sha256(
        canonical_json({"text": text, "data": data}).encode("utf-8")).hexdigest()
    assert Extracted(text=text, data=data).content_hash == expected


@pytest.mark.parametrize("value", [
    {"b": 1, "a": [None, True, False, 0, -7, 2**63 - 1]},
    "\x00\x1f\u2028 \u00e9\t\n\r\b\f\"\\ \U0001f600",
    {"\u00e9": 1, "z": 2, "E": 3, "\U0001f600": 4, "": 5},
    [[], {}, "", [{"x": []}]],
])
def test_canonical_bytes_are_canonical_json(value: Any) -> None:
    from core.canonical import canonical_bytes, canonical_json

    assert canonical_bytes(value) == canonical_json(value).encode("utf-8")


@pytest.mark.parametrize("value", [
    {"big": 2**64},            # orjson refuses integers past 64 bits: json writes them
    {1: "a", 2: "b"},          # orjson refuses keys that are not strings
])
def test_canonical_bytes_fall_back_to_json(value: Any) -> None:
    from core.canonical import canonical_bytes, canonical_json, read_json

    assert canonical_bytes(value) == canonical_json(value).encode("utf-8")
    assert read_json(canonical_bytes({"v": 2**70})) == {"v": 2**70}


@pytest.mark.parametrize("number", [3.1188306256935605e-08, 1e-7, 1e22, 0.1, -0.0, 5e-324])
def test_canonical_bytes_read_back_floats_exactly(number: float) -> None:
    from core.canonical import canonical_bytes, read_json
    from core.records import Extracted

    assert read_json(canonical_bytes({"x": number})) == {"x": number}
    content = Extracted(text="t", data={"x": number})
    assert Extracted(text="t", data=read_json(content.payload)["data"]).content_hash == \
        content.content_hash


def policy_page(views: str = "1,204", dataset: bool = True, figure: bool = True,
                rewritten: bool = False) -> bytes:
    paragraphs = [f"<p>Paragraph {n} of the guidance sets out how member states apply "
                  f"article {n} of the framework to public-sector AI systems.</p>"
                  for n in range(1, 25)]
    if rewritten:
        paragraphs = [f"<p>Section {n} replaces the earlier text: risk assessments are now "
                      f"due within {n + 2} months of deployment.</p>" for n in range(1, 25)]
    link = "<p><a href='/data/incidents.csv'>Incident dataset (CSV)</a></p>" if dataset else ""
    picture = ("<figure><img src='/i/summit.jpg'><figcaption>Ministers at the summit"
               "</figcaption></figure>") if figure else ""
    return (f"<html><body><main><h1>Guidance on public-sector AI</h1>{''.join(paragraphs)}"
            f"{link}{picture}<p><span>{views} views</span></p></main></body></html>").encode()


def test_a_ticking_counter_ranks_below_every_real_change(page: Monitor) -> None:
    # Two versions alone cannot tell a view counter from a count that matters, so the
    # counter is a change; but it changed half of one short line, less than any real edit.
    base = page.extract(policy_page())

    def significance(**changes: Any) -> float:
        change = page.compare(base, page.extract(policy_page(**changes)))
        assert change is not None, changes
        return change.significance

    counter = significance(views="1,391")
    real = {"dataset link removed": significance(dataset=False),
            "image and caption removed": significance(figure=False),
            "largely rewritten": significance(rewritten=True)}
    assert all(counter < value for value in real.values()), (counter, real)
