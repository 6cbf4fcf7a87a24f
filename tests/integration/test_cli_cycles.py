"""The command line end to end over whole cycles: `govwatch run`, `status`, `history` and
`show` as subprocesses against a real local HTTP server, which monitors are due, and what
a bad config or an unreachable source prints."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.errors import FailureKind
from storage.db import Store
from tests.conftest import QUICK_CONFIRM
from tests.integration.cycle_support import FEED_V2, PAGE_V2, page_html, rss, standard_site

pytestmark = pytest.mark.integration

GOVWATCH = Path(sys.executable).parent / "govwatch"

# -- the CLI end to end ----------------------------------------------------------


def govwatch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GOVWATCH_CONFIG"}
    return subprocess.run(
        [str(GOVWATCH), *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=30, check=False,
    )


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


SUMMARY = re.compile(
    r"^checked (\d+): new (\d+), changed (\d+), unchanged (\d+), not-modified (\d+), "
    r"blocked 0, errors (\d+)$", re.MULTILINE,
)


def summary(stdout: str) -> tuple[int, ...]:
    match = SUMMARY.search(stdout)
    assert match, f"no summary line in {stdout!r}"
    return tuple(int(n) for n in match.groups())


def assert_iso_utc(value: str) -> None:
    moment = datetime.fromisoformat(value)
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0), value


def test_cli_run_status_history_show(site: Any, tmp_path: Path) -> None:
    standard_site(site)
    db = tmp_path / "cli.db"
    cfg = write_config(tmp_path / "govwatch.yaml", f"""\
database: {db}
defaults:
  every: 1h
  timeout: 5s
  confirm_pause: {QUICK_CONFIRM}
organizations:
  - id: ministry
    name: Ministry of Digital Affairs
    monitors:
      - id: pubs
        kind: page
        url: {site.url("/publications.html")}
        select: main#content
        exclude: .ad
      - id: news
        kind: feed
        url: {site.url("/news.xml")}
""")

    first = govwatch("--config", str(cfg), "run", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert summary(first.stdout) == (2, 2, 0, 0, 0, 0)
    assert "CHANGE" not in first.stdout and "ERROR" not in first.stdout

    site.set("/publications.html", page_html(PAGE_V2))
    site.set("/news.xml", rss(site.base_url, FEED_V2), content_type="application/rss+xml")
    second = govwatch("--config", str(cfg), "run", "--all", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert summary(second.stdout) == (2, 0, 2, 0, 0, 0)
    feed_change = re.search(r"^CHANGE #(\d+) ministry/news: 1 new entry: Second notice <",
                            second.stdout, re.MULTILINE)
    assert feed_change, second.stdout
    change = re.search(r"^CHANGE #(\d+) ministry/pubs: (.+)$", second.stdout, re.MULTILINE)
    assert change, second.stdout
    assert "1 new document: Guidance B" in change.group(2)
    assert site.url("/publications.html") in change.group(2)
    change_id = change.group(1)

    status = govwatch("--config", str(cfg), "status", "--json", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    rows = {row["monitor"]: row for row in json.loads(status.stdout)}
    assert set(rows) == {"pubs", "news"}
    keys = {"organization", "monitor", "kind", "url", "last_check_at", "last_outcome",
            "consecutive_failures", "last_change_at"}
    for row in rows.values():
        assert keys <= set(row), row
        assert row["organization"] == "ministry"
        assert_iso_utc(row["last_check_at"])
        assert row["consecutive_failures"] == 0
    assert rows["pubs"]["kind"] == "page" and rows["news"]["kind"] == "feed"
    assert rows["pubs"]["url"] == site.url("/publications.html")
    assert rows["pubs"]["last_outcome"] == "changed"
    assert rows["news"]["last_outcome"] == "changed"
    for row in rows.values():
        assert_iso_utc(row["last_change_at"])
        assert row["last_change_at"] == row["last_check_at"]

    history = govwatch("--config", str(cfg), "history", "pubs", cwd=tmp_path)
    assert history.returncode == 0, history.stderr
    listed = [int(n) for n in re.findall(r"^check #(\d+) ", history.stdout, re.MULTILINE)]
    with Store(db) as store:
        stored = [r[0] for r in store.db.execute(
            "SELECT id FROM checks WHERE monitor_id = 'pubs' ORDER BY id DESC")]
    # Two checks, and the copy that confirmed the change before it was recorded (the
    # first check is not copied: the site's strong ETag vouches for its bytes).
    assert listed == stored and len(listed) == 3
    assert " confirm " in history.stdout.splitlines()[1]
    newest = history.stdout.splitlines()[0]
    assert "changed" in newest and f"change #{change_id}" in newest

    show = govwatch("--config", str(cfg), "show", change_id, cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    assert show.stdout.startswith(f"change #{change_id} [links] ministry/pubs")
    assert "+Guidance B" in show.stdout.splitlines()
    assert "-Guidance A" not in show.stdout.splitlines()

    show_feed = govwatch("--config", str(cfg), "show", feed_change.group(1), cwd=tmp_path)
    assert show_feed.returncode == 0, show_feed.stderr
    assert f"  + Second notice <{site.url('/news/2')}>" in show_feed.stdout.splitlines()

    missing = govwatch("--config", str(cfg), "history", "nope", cwd=tmp_path)
    assert missing.returncode == 2 and "unknown monitor id(s): nope" in missing.stderr


def test_cli_bad_config_names_file_line_and_allowed_keys(tmp_path: Path) -> None:
    db = tmp_path / "never.db"
    text = f"""\
database: {db}
organizations:
  - id: ministry
    name: Ministry
    monitors:
      - id: pubs
        kind: page
        url: https://example.org/
        selector: main
"""
    cfg = write_config(tmp_path / "bad.yaml", text)
    line = text.splitlines().index("        selector: main") + 1

    result = govwatch("--config", str(cfg), "run", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    assert f"{cfg}:{line}:" in result.stderr, result.stderr
    assert "'selector'" in result.stderr
    allowed = re.search(r"allowed keys: (.+)$", result.stderr, re.MULTILINE)
    assert allowed, result.stderr
    assert {"select", "exclude", "url", "every", "timeout"} <= {
        k.strip() for k in allowed.group(1).split(",")}
    assert not db.exists()


def test_cli_run_with_every_source_unreachable_exits_0(tmp_path: Path) -> None:
    urls = []
    for _ in range(2):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            urls.append(f"http://127.0.0.1:{sock.getsockname()[1]}/x")
    cfg = write_config(tmp_path / "govwatch.yaml", f"""\
database: {tmp_path / "down.db"}
organizations:
  - id: ministry
    name: Ministry
    monitors:
      - {{id: one, kind: page, url: "{urls[0]}"}}
      - {{id: two, kind: feed, url: "{urls[1]}"}}
""")

    result = govwatch("--config", str(cfg), "run", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert summary(result.stdout) == (2, 0, 0, 0, 0, 2)
    for name, url in (("one", urls[0]), ("two", urls[1])):
        line = re.search(rf"^ERROR ministry/{name}: (.+) <{re.escape(url)}>$", result.stdout,
                         re.MULTILINE)
        assert line, result.stdout
        assert FailureKind.of(line.group(1)) is FailureKind.CONNECT_FAILED
    status = json.loads(govwatch("--config", str(cfg), "status", "--json",
                                 cwd=tmp_path).stdout)
    assert {r["monitor"]: r["consecutive_failures"] for r in status} == {"one": 1, "two": 1}


# -- due monitors ----------------------------------------------------------------


def test_cli_run_checks_only_due_monitors(site: Any, tmp_path: Path) -> None:
    for name in ("a1", "a2", "b1"):
        site.set(f"/{name}.html", f"<p>{name}</p>", validators="none")
    db = tmp_path / "due.db"
    cfg = write_config(tmp_path / "govwatch.yaml", f"""\
database: {db}
defaults:
  every: 1h
  confirm_pause: {QUICK_CONFIRM}
organizations:
  - id: alpha
    name: Alpha
    monitors:
      - {{id: a1, kind: page, url: "{site.url('/a1.html')}"}}
      - {{id: a2, kind: page, url: "{site.url('/a2.html')}"}}
  - id: beta
    name: Beta
    monitors:
      - {{id: b1, kind: page, url: "{site.url('/b1.html')}"}}
""")

    def run(*args: str) -> tuple[int, ...]:
        result = govwatch("--config", str(cfg), "run", *args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return summary(result.stdout)

    def hits() -> list[int]:
        return [site.hits(f"/{name}.html") for name in ("a1", "a2", "b1")]

    # A first check fetches twice (the check, and the copy that learns what changes).
    assert run("--org", "alpha")[:2] == (2, 2)
    assert hits() == [2, 2, 0]
    assert run()[:2] == (1, 1)  # only beta's monitor is still due
    assert hits() == [2, 2, 2]
    assert run()[0] == 0  # every=1h: nothing is due right after
    assert hits() == [2, 2, 2]
    assert run("--monitor", "a2") == (1, 0, 0, 1, 0, 0)  # forced although not due
    assert hits() == [2, 3, 2]
    assert run("--org", "beta")[0] == 0  # --org narrows but does not force
    assert run("--all")[0] == 3
    assert hits() == [3, 4, 3]

    unknown = govwatch("--config", str(cfg), "run", "--org", "gamma", cwd=tmp_path)
    assert unknown.returncode == 2 and "gamma" in unknown.stderr
    assert hits() == [3, 4, 3]
