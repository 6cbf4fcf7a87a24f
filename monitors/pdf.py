"""``pdf``: a PDF document: its bytes' hash, its metadata and its text page by page."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from io import BytesIO
from typing import Any

from core.errors import ExtractError
from core.records import METADATA_ONLY, Change, Extracted, Volatile
from monitors.base import Monitor
from monitors.diffing import MAX_SHOWN_LINE, diff_lines
from monitors.html import normalize_text
from monitors.learning import learn_fields
from monitors.normalize import comparable_pair, compile_ignores
from monitors.significance import Evidence, score
from monitors.volatility import NO_NOISE, Noise

# The PDF header may follow a little junk; readers look in the first kilobyte.
_HEADER_WINDOW = 1024
# Text beyond this many pages is not extracted (the hash still covers every byte).
MAX_PAGES = 1000
#: Text extraction stops past this much decoded page content, summed over the pages
#: read (pypdf parses it at well under a megabyte a second) ...
MAX_CONTENT_BYTES = 5_000_000
#: ... or past this much extracted text.
MAX_TEXT_CHARS = 5_000_000
PAGE_MARK = "[page {}]"
TRACKED_METADATA = ("title", "pages", "modified")
#: Where a PDF's volatile metadata is learned (``Volatile.where``).
PDF = "pdf"

# pypdf reports recoverable damage through logging; a damaged PDF is the source's
# problem, recorded in the content, not noise on our stderr.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def read_pdf(
    body: bytes, *, max_content_bytes: int = MAX_CONTENT_BYTES,
    max_text_chars: int = MAX_TEXT_CHARS,
) -> tuple[list[str], dict[str, Any]]:
    """Page texts and metadata; damage that stops text extraction is reported, not raised.

    Extraction stops at a budget, noted in the metadata (``text_cut``): pypdf parses a
    page's content stream at well under a megabyte a second, and pages may share one
    stream, so a 357 kB file of 3,000 pages could hold it for hours. The budgets count
    what is read, not time, so the same file always yields the same text.
    """
    # Here, not at import: pypdf (and the cryptography it loads) take 0.1 s and more.
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    facts: dict[str, Any] = {"title": "", "pages": None, "modified": ""}
    pages: list[str] = []
    try:
        reader = PdfReader(BytesIO(body), strict=False)
        metadata = reader.metadata
        if metadata is not None:
            facts["title"] = normalize_text(str(metadata.title or ""))
            facts["modified"] = str(metadata.get("/ModDate") or "")
        facts["pages"] = len(reader.pages)
        content_bytes = chars = 0
        for page in reader.pages[:MAX_PAGES]:
            content_bytes += _content_size(page)
            if content_bytes > max_content_bytes or chars > max_text_chars:
                spent = (f"{max_content_bytes:,} bytes of page content"
                         if content_bytes > max_content_bytes
                         else f"{max_text_chars:,} characters of text")
                facts["text_cut"] = (f"text of the first {len(pages)} of {facts['pages']} "
                                     f"pages only: extraction stops at {spent}")
                break
            pages.append(normalize_text(page.extract_text() or ""))
            chars += len(pages[-1])
    except (PyPdfError, ValueError, TypeError, KeyError, AttributeError, RecursionError,
            OSError, AssertionError, ZeroDivisionError) as exc:
        facts["text_error"] = f"{type(exc).__name__}: {exc}"[:300]
        return [], facts
    return pages, facts


def _content_size(page: Any) -> int:
    """The decoded size of a page's content streams. pypdf keeps each decoded stream, so
    a stream shared by many pages is decoded once, and counted for every page."""
    contents = page.get("/Contents")
    if contents is None:
        return 0
    contents = contents.get_object()
    streams = contents if isinstance(contents, list) else [contents]
    return sum(len(stream.get_object().get_data()) for stream in streams)


class PdfMonitor(Monitor):
    kind = "pdf"
    accept = "application/pdf,*/*;q=0.5"
    description = (
        "PDF document: raw bytes with their SHA-256, title, page count, modification date "
        "and text page by page (pypdf); changes are compared page by page."
    )

    def extract(self, body: bytes, *, content_type: str = "", url: str = "") -> Extracted:
        if b"%PDF-" not in body[:_HEADER_WINDOW]:
            kind = content_type.split(";")[0].strip() or "unknown type"
            raise ExtractError(f"not a PDF: body has no %PDF- header ({kind}, {len(body)} bytes)")
        pages, facts = read_pdf(body)
        text = "\n".join(
            f"{PAGE_MARK.format(number)}\n{page}" for number, page in enumerate(pages, 1)
        )
        data = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body), **facts,
                "page_hashes": [hashlib.sha256(p.encode()).hexdigest()[:16] for p in pages]}
        return Extracted(text=text, data=data)

    def learn(self, a: Extracted, b: Extracted, noise: Noise = NO_NOISE,
              at_a: datetime | None = None, at_b: datetime | None = None) -> set[Volatile]:
        """The text's volatile lines, and metadata that differs between two copies (a
        file regenerated at each request: a new title stamp, ids, dates)."""
        learned = super().learn(a, b, noise, at_a, at_b)
        facts = {key: str(a.data.get(key)) for key in TRACKED_METADATA}
        other = {key: str(b.data.get(key)) for key in TRACKED_METADATA}
        return learned | learn_fields(PDF, {"file": facts}, {"file": other}, at_a, at_b)

    @staticmethod
    def _pages(lines: list[tuple[str, str]]) -> list[str]:
        """Comparable text per page, from the comparable lines (page marks included)."""
        pages: list[str] = []
        for key, line in lines:
            if line.startswith("[page ") and line.endswith("]"):
                pages.append("")
            elif pages:
                pages[-1] += key + "\n"
        return pages

    def compare(self, old: Extracted, new: Extracted, noise: Noise = NO_NOISE, *,
                old_at: datetime | None = None, new_at: datetime | None = None
                ) -> Change | None:
        if old.content_hash == new.content_hash:
            return None
        pair = comparable_pair(
            old.text.splitlines(), new.text.splitlines(), noise=noise, old_at=old_at,
            new_at=new_at, ignore=compile_ignores(self.config.ignore),
        )
        diff = diff_lines(pair.old, pair.new)
        old_pages, new_pages = self._pages(pair.old), self._pages(pair.new)
        changed_pages = [
            n + 1 for n in range(min(len(old_pages), len(new_pages)))
            if old_pages[n] != new_pages[n]
        ]
        metadata = [key for key in TRACKED_METADATA if old.data.get(key) != new.data.get(key)
                    and (PDF, key) not in noise.fields]
        if not diff and not metadata and old.data.get("sha256") == new.data.get("sha256"):
            return None
        evidence = Evidence(
            lines_changed=len(diff.added) + len(diff.removed),
            lines_total=max(len(pair.old), len(pair.new)),
            metadata_only=not diff,
        )
        if diff.coarse:
            evidence.notes.append("diff cut short at its time limit: coarse view")
        if diff.clipped:
            evidence.notes.append(f"lines over {MAX_SHOWN_LINE:,} characters shown clipped")
        significance, reasons = score(evidence)
        return Change(
            kind="pdf",
            summary=_summary(old.data, new.data, changed_pages, len(old_pages), len(new_pages),
                             metadata, bool(diff)),
            diff=diff.unified,
            detail={
                "old": _facts(old.data), "new": _facts(new.data), "metadata_changed": metadata,
                "pages_changed": changed_pages, "added": list(diff.added),
                "removed": list(diff.removed), "inline": diff.inline, "coarse": diff.coarse,
                **({"clipped": True} if diff.clipped else {}),
            },
            significance=significance,
            reasons=reasons,
            # A new edition whose pages read the same (a regenerated file: new dates,
            # ids, producer) is kept, not announced.
            quiet=METADATA_ONLY if not diff and set(metadata) <= {"modified"} else None,
        )


def _facts(data: dict[str, Any]) -> dict[str, Any]:
    return {key: data.get(key) for key in ("sha256", "size", *TRACKED_METADATA)}


def _summary(
    old: dict[str, Any], new: dict[str, Any], changed_pages: list[int], old_count: int,
    new_count: int, metadata: list[str], text_changed: bool,
) -> str:
    parts = []
    if changed_pages:
        shown = ", ".join(str(p) for p in changed_pages[:10])
        parts.append(f"text changed on page(s) {shown}")
    if new_count != old_count:
        parts.append(f"{old_count} -> {new_count} pages")
    elif text_changed and not changed_pages:
        parts.append("text changed")
    if "title" in metadata:
        parts.append(f"title {old.get('title')!r} -> {new.get('title')!r}")
    if not parts:
        parts.append("new edition, same text" if not metadata else "metadata changed")
    return "PDF: " + "; ".join(parts) + f" ({old.get('size')} -> {new.get('size')} bytes)"
