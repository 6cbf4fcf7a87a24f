"""The daemon's checks, one monitor per job, are judged against their site's template
too: what the organization's stored pages on the host share, learned by comparing them
(markup of random class names, so no tag or class says what is navigation)."""

from __future__ import annotations

import json
import random
import sqlite3
import string
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import eventually
from tests.integration.opsite import OpSite, serving
from tests.integration.test_daemon import Daemon, daemons, rows, write_config

pytestmark = pytest.mark.integration
__all__ = ["daemons"]  # the fixture, used by name

NAV = ["Ministry of Examples", "Home", "News", "Contact"]
OWN = {"a": "Water samples from twelve rivers.", "b": "Bids for the bridge are open.",
       "c": "The ministry looks after roads."}


def page(classes: list[str], own: str, nav: list[str]) -> str:
    top, main = classes
    return (f'<div class="{top}">' + "".join(f"<p>{line}</p>" for line in nav) + "</div>"
            f'<div class="{main}"><p>{own}</p></div>')


def serve(site: OpSite, classes: list[str], nav: list[str], own: dict[str, str]) -> None:
    for name, text in own.items():
        site.set(f"/{name}", page(classes, text, nav))


def random_names(rng: random.Random, count: int, length: int = 8) -> list[str]:
    return ["".join(rng.choices(string.ascii_lowercase, k=length)) for _ in range(count)]


def counter(db: Path) -> Callable[[str], int]:
    """The first column of the first row of a query, 0 before the daemon made its tables."""
    def count(sql: str) -> int:
        try:
            return int(rows(db, sql)[0][0])
        except sqlite3.OperationalError:
            return 0
    return count


def started(daemons: Callable[[Path, Path], Daemon], site: OpSite, tmp_path: Path,
            every: dict[str, str], classes: list[str]) -> tuple[Daemon, Path]:
    """The three pages served, a daemon checking them, once each has been checked and
    copied (what differs between a first check and its copy is noise)."""
    config, db = tmp_path / "config.yaml", tmp_path / "govwatch.db"
    serve(site, classes, NAV, OWN)
    write_config(config, site, every)
    daemon = daemons(config, db)
    eventually(lambda: counter(db)("SELECT count(*) FROM checks WHERE outcome = 'confirm'")
               == 3, "the three pages' first checks and their copies")
    return daemon, db


def test_a_daemon_check_of_one_page_knows_what_the_sites_stored_pages_share(
        tmp_path: Path, daemons: Callable[[Path, Path], Daemon]) -> None:
    classes = random_names(random.Random(), 2)
    with serving() as site:
        daemon, db = started(daemons, site, tmp_path, {name: "1s" for name in OWN}, classes)
        count = counter(db)
        # Page a drops a line every stored page shows (the site's navigation): recorded,
        # not announced. Then its own text changes: announced.
        site.set("/a", page(classes, OWN["a"], NAV[:-1]))
        eventually(lambda: count("SELECT count(*) FROM changes WHERE monitor_id = 'a'") == 1,
                   "page a's template change")
        site.set("/a", page(classes, "Water samples from thirteen rivers.", NAV[:-1]))
        eventually(lambda: count("SELECT count(*) FROM changes WHERE monitor_id = 'a'") == 2,
                   "page a's own change")
        assert daemon.stop() == 0, daemon.stderr
    (template_reasons, template_notable), (own_reasons, own_notable) = rows(
        db, "SELECT reasons, notable FROM changes WHERE monitor_id = 'a' ORDER BY id")
    assert template_notable == 0
    assert "not announced: site template only" in json.loads(str(template_reasons))
    assert own_notable == 1, own_reasons


def test_a_daemon_check_that_finds_a_new_template_brings_the_sites_pages_forward(
        tmp_path: Path, daemons: Callable[[Path, Path], Daemon]) -> None:
    """A navigation entry renamed on every page is one template change of the site, as in
    ``run``: the page whose job finds it first has its siblings checked at once (they are
    not due for an hour), and no page announces it."""
    rng = random.Random()
    classes = random_names(rng, 2)
    renamed = [*NAV[:-1], random_names(rng, 1, 9)[0].title()]
    with serving() as site:
        daemon, db = started(daemons, site, tmp_path, {"a": "1s", "b": "1h", "c": "1h"},
                             classes)
        count = counter(db)
        serve(site, classes, renamed, OWN)
        eventually(lambda: count("SELECT count(DISTINCT monitor_id) FROM changes") == 3,
                   "the renamed entry on all three pages")
        assert daemon.stop() == 0, daemon.stderr
    changes = rows(db, "SELECT monitor_id, reasons, notable FROM changes ORDER BY monitor_id")
    assert [row[0] for row in changes] == ["a", "b", "c"]
    for monitor_id, reasons, notable in changes:
        assert notable == 0, (monitor_id, reasons)
        assert "not announced: site template only" in json.loads(str(reasons)), reasons


def test_a_sibling_backing_off_is_not_hurried_and_never_holds_the_round(
        tmp_path: Path, daemons: Callable[[Path, Path], Daemon]) -> None:
    """Page c fails and backs off: the round of a's change goes on without it (c's stored
    page does not show the new entry, so it is not yet the site's template: announced)."""
    rng = random.Random()
    classes = random_names(rng, 2)
    renamed = [*NAV[:-1], random_names(rng, 1, 9)[0].title()]
    with serving() as site:
        daemon, db = started(daemons, site, tmp_path, {"a": "1s", "b": "1h", "c": "1s"},
                             classes)
        count = counter(db)
        site.set("/c", "<p>down</p>", status=503)
        eventually(lambda: count("SELECT count(*) FROM monitors WHERE id = 'c' "
                                 "AND consecutive_failures > 0") == 1, "c failing")
        serve(site, classes, renamed, {k: v for k, v in OWN.items() if k != "c"})
        eventually(lambda: count("SELECT count(*) FROM changes WHERE monitor_id = 'b'") == 1,
                   "b brought forward by a's change")
        eventually(lambda: count("SELECT count(*) FROM changes WHERE monitor_id = 'a'") == 1,
                   "a's change, judged without c")
        assert daemon.stop() == 0, daemon.stderr
    (notable,), = rows(db, "SELECT notable FROM changes WHERE monitor_id = 'a'")
    assert notable == 1
