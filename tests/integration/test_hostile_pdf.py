"""Parsing that could run for an hour is stopped: a PDF whose pages share one huge content
stream, and a run that outlives ``run_timeout``.

A 474 kB PDF of 3,000 pages sharing one content stream of 200,000 ``(x) Tj`` operations
costs pypdf about 4 s a page. Its check runs in a worker process with a deadline
(``parse_timeout``): past it the worker is killed and replaced and the check is a failed
one naming the source, while the other monitors of the cycle are recorded as usual. Text
extraction also stops at a budget of page content, so even a worker never given a
deadline is held for seconds, not hours.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import pytest

from monitors.pdf import read_pdf
from storage.db import Store
from tests.integration.conftest import Site
from tests.integration.hostile_server import HostileServer, drip, hostile_server, respond
from tests.integration.hostile_support import run_with_others

pytestmark = pytest.mark.integration


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with hostile_server() as server:
        yield server


def shared_stream_pdf(pages: int = 3000, operations: int = 200_000) -> bytes:
    """``pages`` pages that all draw one content stream of ``operations`` text operations
    (compressed: the whole file stays under half a megabyte)."""
    content = zlib.compress(b"BT /F1 12 Tf 10 10 Td\n" + b"(x) Tj\n" * operations + b"ET\n", 9)
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: (f"<< /Type /Pages /Kids [{' '.join(f'{5 + n} 0 R' for n in range(pages))}] "
            f"/Count {pages} >>").encode(),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        4: (b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content
            + b"\nendstream"),
    }
    for n in range(pages):
        objects[5 + n] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                          b"/Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number, value in objects.items():
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + value + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offsets[n] for n in sorted(objects))
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


async def test_a_pdf_that_parses_for_hours_is_stopped_at_parse_timeout(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    body = shared_stream_pdf()
    assert len(body) < 500_000
    url = hostile.route("/shared.pdf", respond(body, content_type="application/pdf"))
    # run_with_others bounds the cycle (60 s) and checks the normal monitors beside it.
    cycle = await run_with_others(store, site, [{"id": "shared", "kind": "pdf", "url": url}],
                                  parse_timeout="2s")

    assert cycle.outcome("shared") == "error"
    assert cycle.error("shared") == (
        f"ExtractError: parsing the pdf {url} took longer than parse_timeout (2s); "
        "it was stopped")
    assert cycle.body("shared") == body  # the evidence is kept

    # The worker that was killed was replaced: the next cycle parses PDFs again.
    again = await run_with_others(store, site, [], parse_timeout="2s")
    assert again.outcome("ok-pdf") in ("new", "not-modified")


def test_pdf_text_stops_at_its_budget_of_page_content() -> None:
    body = shared_stream_pdf(pages=20, operations=20_000)  # 140 kB of content a page
    pages, facts = read_pdf(body, max_content_bytes=300_000)

    assert len(pages) == 2 and pages[0] == pages[1] and pages[0].count("x") == 20_000
    assert facts["pages"] == 20
    assert facts["text_cut"] == ("text of the first 2 of 20 pages only: extraction stops at "
                                 "300,000 bytes of page content")
    # A budget of what is read, not of time: the same file, the same text.
    assert read_pdf(body, max_content_bytes=300_000) == (pages, facts)
    few, cut = read_pdf(body, max_text_chars=30_000)
    assert len(few) == 2 and "30,000 characters of text" in cut["text_cut"]


async def test_a_run_that_outlives_run_timeout_ends_and_records_what_it_stopped(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    # A drip that would take a minute, under a monitor timeout of two minutes.
    url = hostile.route("/drip", drip(b"<p>" + b"x" * 120 + b"</p>", interval=0.5))
    cycle = await run_with_others(
        store, site, [{"id": "drip", "kind": "page", "url": url, "timeout": "120s"}],
        run_timeout="8s")

    assert cycle.error("drip") == (
        "FetchTimeout: the run reached run_timeout (8s) before this check ended; it was "
        "stopped")
    state = store.monitor_state("drip")
    assert state.consecutive_failures == 1
