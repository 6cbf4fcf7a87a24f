"""Exports of the history: WARC (warcio) for the raw captures, JSON Lines for the records.

A WARC response record is rebuilt from what a check stored: its status, kept headers and
the decompressed body (the body is stored decoded, so ``Content-Encoding`` is dropped and
``Content-Length`` set to the stored length). A body seen again in the same export is
written as a ``revisit`` record (identical payload digest) instead of a second copy.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO, TextIO
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from core.errors import StorageError
from pipeline import VERSION
from storage.db import Store
from storage.outfiles import OutputFile

# Headers that describe the transfer, not the stored (decoded) body.
_TRANSFER_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
_JSON_COLUMNS = ("redirects", "headers", "detail", "reasons")


@dataclass
class ExportCounts:
    checks: int = 0
    changes: int = 0
    responses: int = 0
    revisits: int = 0
    not_modified: int = 0
    skipped_pruned: int = 0
    skipped_no_capture: int = 0


def warc_date(started_at: str) -> str:
    """ISO 8601 UTC with ``Z``, keeping the milliseconds (WARC/1.1 allows fractions)."""
    return started_at.replace("+00:00", "Z")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _http_response(status: int, headers: dict[str, str], length: int) -> StatusAndHeaders:
    kept = [(name, value) for name, value in sorted(headers.items())
            if name not in _TRANSFER_HEADERS]
    kept.append(("content-length", str(length)))
    return StatusAndHeaders(f"{status} {_reason(status)}".strip(), kept, protocol="HTTP/1.1")


def _http_request(url: str) -> StatusAndHeaders:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return StatusAndHeaders(f"GET {target} HTTP/1.1", [("host", parts.netloc)],
                            is_http_request=True)


def write_warc(store: Store, checks: Iterable[dict[str, Any]], out: BinaryIO, *,
               gzip: bool, filename: str) -> ExportCounts:
    counts = ExportCounts()
    writer = WARCWriter(out, gzip=gzip, warc_version="1.1")
    writer.write_record(writer.create_warcinfo_record(filename, {
        "software": f"govwatch/{VERSION}",
        "format": "WARC File Format 1.1",
        "description": "Raw captures of govwatch checks, rebuilt from its SQLite history",
    }))
    first_seen: dict[str, tuple[str, str, str]] = {}  # snapshot -> uri, date, payload digest
    doms_written: set[str] = set()
    for check in checks:
        counts.checks += 1
        status = check["status"]
        # A response record holds what the server sent; a DOM a browser rendered from it
        # follows as a conversion record.
        served = check.get("served_snapshot_hash") or check["snapshot_hash"]
        if status is None or (served is None and status != 304):
            counts.skipped_no_capture += 1  # nothing was received: no record to write
            continue
        uri = check["final_url"] or check["url"]
        date = warc_date(check["started_at"])
        headers = json.loads(check["headers"] or "{}")
        extra = {"WARC-Date": date, "WARC-Govwatch-Check-ID": str(check["id"]),
                 "WARC-Govwatch-Record-Hash": check["record_hash"] or ""}
        if status == 304 or check["outcome"] == "not-modified":
            record = writer.create_warc_record(
                uri, "response", http_headers=_http_response(status, headers, 0),
                warc_headers_dict=extra)
            counts.not_modified += 1
        elif check["body_pruned_at"] is not None:
            counts.skipped_pruned += 1
            continue
        elif served in first_seen:
            ref_uri, ref_date, digest = first_seen[served]
            body_length = int(check["bytes"] or 0)
            record = writer.create_revisit_record(
                uri, digest, ref_uri, ref_date,
                http_headers=_http_response(status, headers, body_length),
                warc_headers_dict=extra)
            counts.revisits += 1
        else:
            body = store.load_body(served)
            record = writer.create_warc_record(
                uri, "response", payload=BytesIO(body), length=len(body),
                http_headers=_http_response(status, headers, len(body)),
                warc_headers_dict=extra)
            first_seen[served] = (
                uri, date, record.rec_headers.get_header("WARC-Payload-Digest"))
            counts.responses += 1
        request = writer.create_warc_record(uri, "request", http_headers=_http_request(uri))
        writer.write_request_response_pair(request, record)
        rendered = check.get("served_snapshot_hash") and check["snapshot_hash"]
        if rendered and rendered not in doms_written:
            _write_rendered(store, writer, uri, rendered, record, extra)
            doms_written.add(rendered)
    return counts


def _write_rendered(store: Store, writer: WARCWriter, uri: str, dom_hash: str,
                    response: Any, extra: dict[str, str]) -> None:
    """The DOM a browser built from a response (``render: browser``), as a conversion."""
    try:
        dom = store.load_body(dom_hash)
    except StorageError:  # pruned: the response alone is kept
        return
    refers = {**extra, "WARC-Refers-To": response.rec_headers.get_header("WARC-Record-ID"),
              "Content-Type": "text/html; charset=utf-8"}
    writer.write_record(writer.create_warc_record(
        uri, "conversion", payload=BytesIO(dom), length=len(dom), warc_headers_dict=refers))


def _decoded(row: dict[str, Any], drop: tuple[str, ...]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in drop}
    for column in _JSON_COLUMNS:
        if isinstance(out.get(column), str):
            out[column] = json.loads(out[column])
    return out


def write_jsonl(checks: Iterable[dict[str, Any]], out: TextIO) -> ExportCounts:
    """One ``{"type": "check", ...}`` line per check, then its ``change`` line if any."""
    counts = ExportCounts()
    for check in checks:
        counts.checks += 1
        record = {"type": "check", **_decoded(check, ("change", "body_pruned_at"))}
        record["body_pruned"] = check["body_pruned_at"] is not None
        out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        if check["change"] is not None:
            counts.changes += 1
            change = {"type": "change", **_decoded(check["change"], ())}
            out.write(json.dumps(change, ensure_ascii=False, sort_keys=True) + "\n")
    return counts


def export(store: Store, checks: Iterable[dict[str, Any]], path: Path,
           export_format: str, *, force: bool = False) -> ExportCounts:
    """Write to ``path`` safely (storage/outfiles.py): a failed export leaves nothing half,
    and nothing but a new or (with ``force``) a regular file is ever written."""
    with OutputFile(path, force=force) as output:
        assert output.file is not None
        if export_format == "warc":
            return write_warc(store, checks, output.file, gzip=path.suffix == ".gz",
                              filename=path.name)
        text = io.TextIOWrapper(output.file, encoding="utf-8", newline="\n")
        counts = write_jsonl(checks, text)
        text.flush()
        text.detach()  # the output file stays open for OutputFile to sync and close
        return counts
