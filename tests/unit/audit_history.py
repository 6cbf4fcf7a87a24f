"""A long, realistic history for the audit tests, built through the real pipeline stages.

Bodies are extracted and compared by the real monitor kinds (``pipeline.stages``) and
committed by ``Store.record``; only the fetch is replaced by ``FetchResult`` values, so the
check times can be spread over weeks (one check every 6 hours).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlite_utils
from click.testing import CliRunner, Result

import pipeline.cli.main  # noqa: F401  (registers the subcommands)
from core.errors import FailureKind
from monitors import FetchResult, build_monitor
from pipeline.cli.group import cli
from pipeline.config import Config, parse_config
from pipeline.stages import evaluate
from storage.blobs import compress_body
from storage.db import Store
from storage.migrations import _initial
from storage.records import iso

CONFIG: Config = parse_config("""
organizations:
  - id: oecd
    name: OECD
    monitors:
      - {id: principles, kind: page, url: "https://oecd.ai/principles", select: main}
      - {id: wonk, kind: feed, url: "https://oecd.ai/wonk/rss.xml"}
  - id: unesco
    name: UNESCO
    monitors:
      - {id: ethics, kind: page, url: "https://unesco.org/ethics"}
""")

START = datetime(2026, 1, 1, tzinfo=UTC)
STEP = timedelta(hours=6)
PRINCIPLES_CHECKS = 80


def principles_body(version: int) -> bytes:
    """Version ``version`` of the principles page; some words mark ranges of versions."""
    extra = ""
    if version == 12:
        extra += "<p>A regulatory sandbox is proposed.</p>"
    if version >= 30:
        extra += "<p>Accountability applies to all AI actors.</p>"
    return (
        "<html><body><nav>Menu</nav><main><h1>AI Principles</h1>"
        f"<p>Revision {version} of the principles.</p>"
        f"<p>Clause {version}: robustness, security and safety.</p>{extra}"
        "</main><footer>footer</footer></body></html>"
    ).encode()


def feed_body(entries: int) -> bytes:
    items = "".join(
        f"<item><guid>post-{n}</guid><title>Wonk post {n}</title>"
        f"<link>https://oecd.ai/wonk/{n}</link></item>" for n in range(entries)
    )
    return f'<rss version="2.0"><channel><title>Wonk</title>{items}</channel></rss>'.encode()


def ethics_body(version: int) -> bytes:
    return (f"<html><body><h1>Ethics of AI</h1><p>Recommendation, edition {version}.</p>"
            "</body></html>").encode()


@dataclass
class History:
    """What was recorded, to compare against what the commands print."""

    #: check id -> (monitor id, started_at, outcome)
    checks: dict[int, tuple[str, str, str]] = field(default_factory=dict)
    #: principles version number -> (check id that first saw it, body)
    versions: dict[int, tuple[int, bytes]] = field(default_factory=dict)
    change_ids: list[int] = field(default_factory=list)

    def ids_of(self, monitor: str) -> list[int]:
        return [i for i, (m, _, _) in self.checks.items() if m == monitor]


def _record(store: Store, history: History, monitor_id: str, when: datetime, *,
            body: bytes | None, status: int | None = 200, etag: str = "",
            error: str | None = None) -> int:
    org_id, monitor_config = next((o.id, m) for o, m in CONFIG.monitors() if m.id == monitor_id)
    monitor = build_monitor(monitor_config, org_id)
    headers = {"content-type": "text/html; charset=utf-8", "server": "test",
               "content-encoding": "gzip"}
    if etag:
        headers["etag"] = etag
    fetched = FetchResult(
        monitor_id=monitor_id, url=monitor_config.url, started_at=iso(when), duration_ms=40,
        final_url=monitor_config.url if error is None else None, status=status,
        headers=headers if error is None else {}, body=body,
        bytes_received=len(body or b""), error=error, error_kind=FailureKind.of(error),
    )
    state = store.monitor_state(monitor_id)
    outcome = evaluate(monitor, fetched, state, store.load_content)
    recorded = store.record(outcome.check, snapshot=outcome.snapshot, content=outcome.content,
                            change=outcome.change, every=monitor_config.every)
    history.checks[recorded.check_id] = (monitor_id, iso(when), outcome.check.outcome)
    if recorded.change_id is not None:
        history.change_ids.append(recorded.change_id)
    return recorded.check_id


def build_history(store: Store, principles_checks: int = PRINCIPLES_CHECKS) -> History:
    """80 principles checks (56 versions, plus unchanged, not-modified and error checks),
    10 feed checks and 10 ethics checks, interleaved in time."""
    store.sync_monitors(CONFIG.organizations)
    history = History()
    version = 0
    for i in range(principles_checks):
        when = START + i * STEP
        phase = i % 10
        if phase == 7:
            _record(store, history, "principles", when, body=None, status=None,
                    error=FailureKind.CONNECT_FAILED.message("connection refused"))
        elif phase == 8:
            _record(store, history, "principles", when, body=None, status=304)
        elif phase == 9:
            _record(store, history, "principles", when, body=principles_body(version),
                    etag=f'"v{version}"')
        else:
            version += 1
            body = principles_body(version)
            check_id = _record(store, history, "principles", when, body=body,
                               etag=f'"v{version}"')
            history.versions[version] = (check_id, body)
        if i % 8 == 0:
            _record(store, history, "wonk", when + timedelta(minutes=1),
                    body=feed_body(1 + i // 16))
            _record(store, history, "ethics", when + timedelta(minutes=2),
                    body=ethics_body(i // 24))
    return history


def govwatch(db: Path, *args: str) -> Result:
    """Run a govwatch command in-process against the database ``db``."""
    return CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)


def tamper(db: Path, *statements: tuple[str, list[object]]) -> None:
    """Edit the file behind govwatch's back, as someone with write access could."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA foreign_keys = OFF")
        for sql, params in statements:
            conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


def copy_as_before_audit(store: Store, path: Path) -> Path:
    """A copy of ``store`` in the schema before the audit migration (user_version 1)."""
    with sqlite_utils.Database(path) as legacy:
        _initial(legacy)
        legacy.execute("PRAGMA user_version = 1")
        legacy.execute("ATTACH DATABASE ? AS src", [str(store.path)])
        for table in ("organizations", "monitors", "snapshots", "checks", "changes"):
            columns = ", ".join(legacy.table(table).columns_dict)
            legacy.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM src.{table}")
        # Then, bodies were whole zstd frames and contents plain text and JSON.
        for (digest,) in store.db.execute("SELECT hash FROM snapshots"):
            legacy.execute("UPDATE snapshots SET body = ?, compression = 'zstd' WHERE hash = ?",
                           [compress_body(store.load_body(digest)), digest])
        for (digest,) in store.db.execute("SELECT hash FROM contents"):
            content = store.load_content(digest)
            legacy.execute("INSERT INTO contents (hash, text, data) VALUES (?, ?, ?)",
                           [digest, content.text, content.data_json])
        legacy.conn.commit()
        legacy.execute("DETACH DATABASE src")
    return path
