"""`govwatch export`: WARC that standard tools read back, and JSON Lines."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from warcio.archiveiterator import ArchiveIterator

from pipeline.config import parse_config
from pipeline.cycle import run_cycle, select_monitors
from storage.db import Store
from tests import fakes
from tests.unit.audit_history import History, govwatch

WARCIO = str(Path(sys.executable).parent / "warcio")


def warcio_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WARCIO, "check", "-v", str(path)], capture_output=True, text=True,
                          timeout=60, check=False)


def read_warc(path: Path) -> list[tuple[str, dict[str, str], bytes, str | None]]:
    """(type, WARC headers, payload, HTTP status line) of every record, via warcio."""
    records = []
    with path.open("rb") as stream:
        for record in ArchiveIterator(stream):
            headers = dict(record.rec_headers.headers)
            payload = record.content_stream().read()
            status = record.http_headers.statusline if record.http_headers else None
            records.append((record.rec_type, headers, payload, status))
    return records


@pytest.mark.parametrize("name", ["history.warc.gz", "history.warc"])
def test_warc_passes_warcio_check_and_reads_back_the_stored_bodies(
    history: History, db: Path, store: Store, tmp_path: Path, name: str
) -> None:
    output = tmp_path / name
    result = govwatch(db, "export", "--format", "warc", "--output", str(output))
    assert result.exit_code == 0, result.output
    checked = warcio_check(output)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "digest pass" in checked.stdout and "fail" not in checked.stdout
    records = read_warc(output)
    assert records[0][0] == "warcinfo"
    responses = [r for r in records if r[0] == "response" and r[3] == "200 OK"]
    by_check = {int(h["WARC-Govwatch-Check-ID"]): (h, body, status)
                for kind, h, body, status in records if kind in ("response", "revisit")}
    bodies_seen = 0
    for check_id, (_, started_at, outcome) in history.checks.items():
        row = store.db.table("checks").get(check_id)
        if outcome == "error":
            assert check_id not in by_check, "nothing was received"
            continue
        headers, body, status = by_check[check_id]
        assert headers["WARC-Date"] == started_at.replace("+00:00", "Z")
        assert headers["WARC-Target-URI"] == row["final_url"]
        assert headers["WARC-Govwatch-Record-Hash"] == row["record_hash"]
        if outcome == "not-modified":
            assert status == "304 Not Modified" and body == b""
        elif headers["WARC-Type"] == "response":
            assert body == store.load_body(row["snapshot_hash"])
            assert status == "200 OK"
            bodies_seen += 1
        else:
            assert headers["WARC-Type"] == "revisit"
            assert "identical-payload-digest" in headers["WARC-Profile"]
    assert bodies_seen == len(responses) == store.db.table("snapshots").count
    requests = [h for kind, h, _, _ in records if kind == "request"]
    assert len(requests) == len(by_check)
    assert {h["WARC-Concurrent-To"] for h in requests} == {
        h["WARC-Record-ID"] for h, _, _ in by_check.values()}


def test_warc_export_filters(history: History, db: Path, tmp_path: Path) -> None:
    output = tmp_path / "ethics.warc.gz"
    result = govwatch(db, "export", "--format", "warc", "--output", str(output),
                      "--org", "unesco", "--since", "2026-01-10")
    assert result.exit_code == 0, result.output
    uris = {h["WARC-Target-URI"] for kind, h, _, _ in read_warc(output) if kind != "warcinfo"}
    assert uris == {"https://unesco.org/ethics"}
    dates = [h["WARC-Date"] for kind, h, _, _ in read_warc(output) if kind == "response"]
    assert dates and min(dates) >= "2026-01-10"
    unknown = govwatch(db, "export", "--format", "warc", "--output", str(output),
                       "--monitor", "nope")
    assert unknown.exit_code == 2 and "unknown monitor id(s): nope" in unknown.stderr


def test_jsonl_exports_checks_and_changes(history: History, db: Path, store: Store,
                                          tmp_path: Path) -> None:
    output = tmp_path / "principles.jsonl"
    result = govwatch(db, "export", "--format", "jsonl", "--output", str(output),
                      "--monitor", "principles", "--since", "2026-01-15")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    checks = [line for line in lines if line["type"] == "check"]
    changes = [line for line in lines if line["type"] == "change"]
    expected = [i for i, (m, t, _) in history.checks.items()
                if m == "principles" and t >= "2026-01-15"]
    assert [c["id"] for c in checks] == expected
    assert all(c["org_id"] == "oecd" and isinstance(c["headers"], dict) for c in checks)
    assert checks[0]["record_hash"] == store.db.table("checks").get(expected[0])["record_hash"]
    changed = [c["id"] for c in checks if c["outcome"] == "changed"]
    assert [c["check_id"] for c in changes] == changed
    assert all(isinstance(c["detail"], dict) and c["diff"] for c in changes)
    # Each change follows its check.
    for position, line in enumerate(lines):
        if line["type"] == "change":
            assert lines[position - 1]["id"] == line["check_id"]
    assert f"{len(checks)} checks, {len(changes)} changes" in result.stdout


def test_warc_of_a_real_cycle_keeps_redirect_target_and_decoded_body(
    store: Store, tmp_path: Path
) -> None:
    config = parse_config("""
organizations:
  - id: eu
    name: EU AI Office
    monitors:
      - {id: office, kind: page, url: "https://digital-strategy.ec.europa.eu/ai-office"}
""")
    body = "<html><body><h1>AI Office</h1><p>Caf\u00e9 \u2013 news</p></body></html>".encode()
    router = fakes.router()
    router.get("https://digital-strategy.ec.europa.eu/ai-office").respond(
        301, headers={"Location": "https://digital-strategy.ec.europa.eu/en/ai-office"})
    router.get("https://digital-strategy.ec.europa.eu/en/ai-office").respond(
        200, content=body, headers={"Content-Type": "text/html; charset=utf-8",
                                    "ETag": '"abc"'})
    asyncio.run(run_cycle(config, store, select_monitors(config, store, run_all=True),
                          transport=httpx.MockTransport(router.async_handler)))
    output = tmp_path / "cycle.warc.gz"
    assert govwatch(store.path, "export", "--format", "warc", "--output",
                    str(output)).exit_code == 0
    assert warcio_check(output).returncode == 0
    response = next(r for r in read_warc(output) if r[0] == "response")
    assert response[1]["WARC-Target-URI"] == "https://digital-strategy.ec.europa.eu/en/ai-office"
    assert response[2] == body
    assert govwatch(store.path, "verify").exit_code == 0
