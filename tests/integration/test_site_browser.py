"""The archive site in a real browser: Debian's Chromium, headless, driven by Playwright,
reading the site from a static file server on 127.0.0.1. Skipped without Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pipeline.site import write_site
from storage.db import Store
from tests.integration.site_support import History, record_history, serve, site_config

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.integration

CHROMIUM = next((found for found in (shutil.which("chromium"), shutil.which("chromium-browser"),
                                     "/usr/bin/chromium") if found and Path(found).is_file()),
                None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One browser for the module (each test opens its own page in it)."""
    if CHROMIUM is None:
        pytest.skip("no chromium on this machine (Debian: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def history(store: Store, tmp_path: Path) -> History:
    history = record_history(store, site_config(tmp_path))
    write_site(history.config, store)
    return history


def test_index_change_page_and_the_marked_diff(
    browser: Browser, history: History, tmp_path: Path
) -> None:
    with serve(tmp_path / "site") as base:
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(base + "index.html")
        organizations = page.locator("#organizations + table").inner_text()
        assert "OECD" in organizations and "UNIDIR" in organizations

        page.locator("#changes + table a", has_text="deadline moved").click()
        page.wait_for_load_state()
        assert page.url == f"{base}change/{history.deadline}.html"
        assert page.locator("h1").inner_text() == "OECD.AI news: deadline moved"
        assert page.locator(".inline del").all_inner_texts() == ["1 May"]
        assert page.locator(".inline ins").all_inner_texts() == ["3 June"]
        # The stylesheet loaded under the policy: insertions and deletions are coloured.
        colours = page.eval_on_selector_all(
            ".inline ins, .inline del", "marks => marks.map(m => getComputedStyle(m)"
            ".backgroundColor)")
        assert colours == ["rgb(255, 235, 233)", "rgb(218, 251, 225)"]

        page.locator("a[rel=next]").first.click()
        page.wait_for_load_state()
        assert page.url == f"{base}change/{history.later}.html"
        page.locator("a", has_text="OECD").first.click()
        page.wait_for_load_state()
        assert page.url == f"{base}org/oecd/1.html"
        assert dialogs == []


def test_hostile_text_is_inert(browser: Browser, history: History, tmp_path: Path) -> None:
    with serve(tmp_path / "site") as base:
        page = browser.new_page()
        dialogs: list[str] = []
        blocked: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.on("console", lambda message: blocked.append(message.text))
        for path in (f"change/{history.hostile}.html", "index.html", "org/unidir/index.html",
                     "monitor/unidir-pubs.html"):
            page.goto(base + path)
            page.wait_for_load_state("load")
            policy = page.locator('meta[http-equiv="Content-Security-Policy"]')
            assert "default-src 'none'" in (policy.get_attribute("content") or "")
            assert page.locator("script").count() == 0
            assert page.locator("img").count() == 0
            assert page.locator("a[href^='javascript:']").count() == 0
        page.goto(base + f"change/{history.hostile}.html")
        assert page.title() == "UNIDIR publications: <script>alert(1)</script> - govwatch"
        assert "<script>alert(1)</script>" in page.locator("h1").inner_text()
        document = page.locator("#documents + ul li").first
        assert "javascript:alert(1)" in document.inner_text()
        assert document.locator("a").count() == 0  # the javascript: link is text
        # "load" waits for every image, failed ones too: an onerror that ran has run by now.
        assert dialogs == []
        assert not [m for m in blocked if "Content Security Policy" in m], blocked
