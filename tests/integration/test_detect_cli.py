"""`govwatch preview` against a live local site, and `govwatch compare` on local files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.pdfs import make_pdf

pytestmark = pytest.mark.integration
GOVWATCH = Path(sys.executable).parent / "govwatch"


def govwatch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GOVWATCH_CONFIG"}
    return subprocess.run([str(GOVWATCH), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


LISTING = """<html><head><title>UNIDIR publications</title></head><body>
<nav>Home Research</nav><main><h1>Publications</h1><p>Last updated: {date}</p><ul>{items}</ul>
</main><div class="slider">Slide {slide}</div></body></html>"""


def slug(title: str) -> str:
    return title.lower().replace(" ", "-")


def listing(items: list[str], date: str = "2 November 2026", slide: int = 1) -> str:
    lis = "".join(f"<li><a href='/pub/{slug(title)}'>{title}</a></li>" for title in items)
    return LISTING.format(items=lis, date=date, slide=slide)


def test_preview_shows_what_would_be_stored_and_writes_nothing(
    site: Any, tmp_path: Path
) -> None:
    site.set("/publications", listing(["AI and arms control"]), content_type="text/html")
    config = tmp_path / "config.yaml"
    config.write_text(
        "database: gw.db\norganizations:\n  - id: unidir\n    name: UNIDIR\n    monitors:\n"
        f"      - {{id: pubs, kind: page, url: '{site.url('/publications')}', select: main}}\n"
    )
    result = govwatch("--config", str(config), "preview", "pubs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"unidir/pubs [page] {site.url('/publications')}" in out
    assert "HTTP 200 OK" in out
    assert "title: UNIDIR publications" in out
    assert "AI and arms control" in out
    assert f"AI and arms control <{site.url('/pub/ai-and-arms-control')}>" in out
    assert "Home Research" not in out, "select: main leaves the nav out"
    assert "no stored version: this would be the first (new)" in out
    assert not (tmp_path / "gw.db").exists(), "preview must not write"

    run = govwatch("--config", str(config), "run", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    site.set("/publications", listing(["Space security", "AI and arms control"]),
             content_type="text/html")
    db = tmp_path / "gw.db"
    before = db.stat().st_mtime_ns, db.stat().st_size
    result = govwatch("--config", str(config), "preview", "pubs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "against the stored version: [links] 1 new document: Space security" in result.stdout
    assert "a run would fetch a second copy first" in result.stdout
    assert "--- learned as changing by itself (0) ---" in result.stdout
    assert "+Space security" in result.stdout.splitlines()
    assert (db.stat().st_mtime_ns, db.stat().st_size) == before
    assert not (tmp_path / "gw.db-wal").exists() or (tmp_path / "gw.db-wal").stat().st_size == 0


def test_preview_reports_a_failed_fetch_and_an_unknown_monitor(
    tmp_path: Path, refused_url: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "organizations:\n  - id: o\n    name: O\n    monitors:\n"
        f"      - {{id: dead, kind: page, url: '{refused_url}'}}\n"
    )
    result = govwatch("--config", str(config), "preview", "dead", cwd=tmp_path)
    assert result.returncode == 0
    assert "fetch failed: ConnectFailed" in result.stdout
    unknown = govwatch("--config", str(config), "preview", "nope", cwd=tmp_path)
    assert unknown.returncode == 2 and unknown.stderr == "error: unknown monitor id(s): nope\n"


def test_compare_pages_as_json(tmp_path: Path) -> None:
    old, new = tmp_path / "old.html", tmp_path / "new.html"
    old.write_text(listing(["AI and arms control"]))
    new.write_text(listing(["Space security", "AI and arms control"]))
    result = govwatch("compare", str(old), str(new), "--select", "main", "--json",
                      "--url", "https://unidir.org/publications", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["kind"] == "links" and data["changed"] is True and data["announced"] is True
    assert data["links_added"] == [["https://unidir.org/pub/space-security", "Space security"]]
    assert data["links_removed"] == []
    assert data["added"] == ["Space security"] and data["removed"] == []
    assert 0.8 <= data["significance"] <= 1.0 and data["reasons"]
    for key in ("kind", "significance", "reasons", "added", "removed", "links_added",
                "links_removed"):
        assert key in data


def test_compare_learns_from_a_second_copy_and_keeps_every_edit(tmp_path: Path) -> None:
    old, new, again = tmp_path / "a.html", tmp_path / "b.html", tmp_path / "b2.html"
    old.write_text(listing(["X"]))
    new.write_text(listing(["X"], slide=9))
    again.write_text(listing(["X"], slide=3))
    alone = json.loads(govwatch("compare", str(old), str(new), "--json", cwd=tmp_path).stdout)
    assert alone["changed"] is True, "two files alone cannot tell a slider from an edit"
    result = govwatch("compare", str(old), str(new), "--again", str(again), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == \
        "no change (after what --again showed changes by itself)"
    as_json = json.loads(govwatch("compare", str(old), str(new), "--again", str(again),
                                  "--json", cwd=tmp_path).stdout)
    assert as_json["kind"] is None and as_json["announced"] is False
    assert as_json["learned"] == [["line", "X", "Slide \u2217"]]  # after the line "X"
    # An edited date is reported, whatever a second copy (identical) shows.
    edited = tmp_path / "c.html"
    edited.write_text(listing(["X"], date="30 November 2026"))
    dated = json.loads(govwatch("compare", str(old), str(edited), "--again", str(edited),
                                "--json", cwd=tmp_path).stdout)
    assert dated["changed"] is True and dated["announced"] is True
    assert dated["added"] == ["Last updated: 30 November 2026"]


def test_compare_feeds_lists_entries(tmp_path: Path) -> None:
    def rss(*items: str) -> str:
        body = "".join(f"<item><title>{t}</title><link>https://x.org/{t}</link>"
                       f"<guid>{t}</guid></item>" for t in items)
        return f"<?xml version='1.0'?><rss version='2.0'><channel>{body}</channel></rss>"

    old, new = tmp_path / "old.xml", tmp_path / "new.xml"
    old.write_text(rss("a", "b"))
    new.write_text(rss("c", "a"))
    data = json.loads(govwatch("compare", str(old), str(new), "--json", cwd=tmp_path).stdout)
    assert data["kind"] == "feed"
    assert [e["id"] for e in data["entries_added"]] == ["c"]
    assert [e["id"] for e in data["entries_removed"]] == ["b"]
    assert data["entries_updated"] == []


def test_compare_pdfs_page_by_page(tmp_path: Path) -> None:
    old, new = tmp_path / "old.pdf", tmp_path / "new.pdf"
    old.write_bytes(make_pdf([["Intro"], ["Findings"]]))
    new.write_bytes(make_pdf([["Intro"], ["Findings", "New finding"]]))
    data = json.loads(govwatch("compare", str(old), str(new), "--json", cwd=tmp_path).stdout)
    assert data["kind"] == "pdf" and data["pages_changed"] == [2]
    assert data["added"] == ["New finding"]


def test_compare_a_bad_file_names_it(tmp_path: Path) -> None:
    old, new = tmp_path / "old.pdf", tmp_path / "new.pdf"
    old.write_text("<html>not a pdf</html>")
    new.write_bytes(make_pdf([["x"]]))
    result = govwatch("compare", str(old), str(new), "--kind", "pdf", cwd=tmp_path)
    assert result.returncode == 1
    assert f"{old}: ExtractError: not a PDF" in result.stderr
