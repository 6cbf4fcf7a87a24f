"""Slow noise learned from history, on a real server: a line that moves once per check
(a "page generated" stamp of a daily build) is the same in two copies fetched moments
apart, so only the history shows it changes by itself. It is announced while it is
noted, then learned; an edit elsewhere on the page is still announced, and so is a new
document."""

from __future__ import annotations

import json
import random

import pytest

from pipeline.config import Config, parse_config
from storage.db import Store
from storage.noise import listing
from tests.integration.conftest import Site
from tests.integration.cycle_support import cycle

pytestmark = pytest.mark.integration


def page(build: str, paragraph: str, documents: list[str]) -> str:
    links = "".join(f'<li><a href="/docs/{n}.pdf">{n}</a></li>' for n in documents)
    return (f"<html><body><main><h1>Reports</h1><p>{paragraph}</p><ul>{links}</ul></main>"
            f"<div><p>{build}</p></div></body></html>")


def config(site: Site) -> Config:
    document = {"organizations": [{"id": "o", "name": "O", "monitors": [
        {"id": "reports", "kind": "page", "url": site.url("/reports")}]}]}
    return parse_config(json.dumps(document), "test-config.yaml")


async def test_a_line_that_moves_at_every_check_is_learned_from_history(
        site: Site, store: Store) -> None:
    rng = random.Random()
    label = "".join(rng.choices("abcdefghij", k=7)).title()  # wording nobody listed
    paragraph, documents = "The board adopted the plan.", ["annual-report"]
    cfg = config(site)
    announced = []
    for build in range(1, 7):
        site.set("/reports", page(f"{label} {build * 7 + 1000} ok", paragraph, documents))
        report = await cycle(cfg, store)
        announced.append(bool(report.changes))
    # New, then noted at three checks (each announced: a fetch moments later showed the
    # same), then learned.
    assert announced == [False, True, True, True, False, False]
    facts = {(row["kind"], row["what"]) for row in listing(store, "reports")}
    assert ("recurring", f"{label} \u2217 ok") in facts

    paragraph = "The board adopted the revised plan."
    site.set("/reports", page(f"{label} 2000 ok", paragraph, documents))
    report = await cycle(cfg, store)
    assert len(report.changes) == 1
    diff = store.db.table("changes").get(report.changes[0].change_id)["diff"]
    assert "+The board adopted the revised plan." in diff and f"{label} 2000" not in diff

    documents = ["annual-report", "new-strategy"]
    site.set("/reports", page(f"{label} 2001 ok", paragraph, documents))
    report = await cycle(cfg, store)
    assert [c.summary for c in report.changes] == ["1 new document: new-strategy"]


async def test_a_page_that_stamps_itself_in_two_places_learns_each(
        site: Site, store: Store) -> None:
    rng = random.Random()
    top, bottom = ("".join(rng.choices("klmnopqrst", k=6)).title() for _ in range(2))
    cfg = config(site)
    announced = []
    for build in range(1, 7):
        stamped = (f"<p>{top} {build * 13 + 400} now</p>"  # a second stamp, at the top
                   f"<p>Amount: EUR 5,000</p>")
        site.set("/reports", page(f"{bottom} {rng.randint(100, 999)}.{build}", stamped, ["a"]))
        report = await cycle(cfg, store)
        announced.append(bool(report.changes))
    assert announced == [False, True, True, True, False, False]
    # What stood between the two stamps is still content.
    site.set("/reports", page(f"{bottom} 1.7", f"<p>{top} 2000 now</p><p>Amount: EUR 6,000</p>",
                              ["a"]))
    report = await cycle(cfg, store)
    assert len(report.changes) == 1
    diff = store.db.table("changes").get(report.changes[0].change_id)["diff"]
    assert "+Amount: EUR 6,000" in diff and f"{top} 2000" not in diff


async def test_a_list_redrawn_at_every_check_is_learned_and_documents_still_show(
        site: Site, store: Store) -> None:
    rng = random.Random()
    titles = [" ".join("".join(rng.choices("abcdefgh", k=5)) for _ in range(3)).capitalize()
              for _ in range(40)]
    cfg = config(site)
    announced = []
    documents = ["annual-report"]
    for check in range(6):
        drawn = "".join(f"<li>{t}</li>" for t in titles[check * 3:check * 3 + 3])
        site.set("/reports", page("Most read", f"Most read this week:</p><ol>{drawn}</ol><p>",
                                  documents))
        report = await cycle(cfg, store)
        announced.append(bool(report.changes))
    assert announced == [False, True, True, True, False, False]
    documents = ["annual-report", "new-strategy"]
    drawn = "".join(f"<li>{t}</li>" for t in titles[30:33])
    site.set("/reports", page("Most read", f"Most read this week:</p><ol>{drawn}</ol><p>",
                              documents))
    report = await cycle(cfg, store)
    assert [c.summary for c in report.changes] == ["1 new document: new-strategy"]


async def test_a_line_edited_now_and_then_is_never_learned(site: Site, store: Store) -> None:
    cfg = config(site)
    announced = []
    deadline = 10
    for check in range(1, 9):
        if check % 2 == 0:  # edited at every other check: not "nearly every check"
            deadline += 1
        site.set("/reports", page(f"Submission deadline: {deadline} June 2027",
                                  "The call is open.", ["call"]))
        report = await cycle(cfg, store)
        announced.append(bool(report.changes))
    assert announced == [False, True, False, True, False, True, False, True]
