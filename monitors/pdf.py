"""``pdf``: a PDF document, tracked by the hash and size of its bytes."""

from __future__ import annotations

import hashlib

from monitors.base import Monitor
from monitors.errors import ExtractError
from monitors.records import Change, Extracted

# The PDF header may follow a little junk; readers look in the first kilobyte.
_HEADER_WINDOW = 1024


class PdfMonitor(Monitor):
    kind = "pdf"
    accept = "application/pdf,*/*;q=0.5"
    description = "PDF document: raw bytes stored with their SHA-256; any new edition is a change."

    def extract(self, body: bytes, *, content_type: str = "", url: str = "") -> Extracted:
        if b"%PDF-" not in body[:_HEADER_WINDOW]:
            kind = content_type.split(";")[0].strip() or "unknown type"
            raise ExtractError(f"not a PDF: body has no %PDF- header ({kind}, {len(body)} bytes)")
        return Extracted(
            text="", data={"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
        )

    def compare(self, old: Extracted, new: Extracted) -> Change | None:
        if old.content_hash == new.content_hash:
            return None
        return Change(
            kind="pdf",
            summary=(
                f"PDF replaced: {old.data.get('size')} -> {new.data.get('size')} bytes, "
                f"sha256 {str(new.data.get('sha256'))[:12]}"
            ),
            diff="",
            detail={"old": old.data, "new": new.data},
        )
