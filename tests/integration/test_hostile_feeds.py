"""Hostile feeds in every encoding: entity declarations are refused on the decoded text.

expat decodes UTF-16, UTF-7, EBCDIC and the rest by itself, where ``<!ENTITY`` is other
bytes than in UTF-8: a billion laughs in cp037 once reached it and took 51 s and 2.5 GB.
Each case here runs in a real cycle beside the normal monitors of ``test_hostile`` and
must end as a recorded failed check that names the refusal, never as ``new``.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.records import Extracted
from monitors import build_monitor
from monitors.config import MonitorConfig
from monitors.sniff import xml_readings
from storage.db import Store
from tests.integration.conftest import Site
from tests.integration.hostile_server import HostileServer, hostile_server, respond
from tests.integration.hostile_support import (
    assert_stored_nowhere,
    passwd_line,
    run_with_others,
    traced_peak_mb,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with hostile_server() as server:
        yield server


def laughs(encoding_name: str, levels: int = 9) -> str:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, levels + 1)]
    return (f'<?xml version="1.0" encoding="{encoding_name}"?>\n'
            f'<!DOCTYPE rss [{"".join(entities)}]>\n'
            f'<rss version="2.0"><channel><title>&lol{levels};</title><item><title>'
            f'Laughs &lol{levels};</title><link>http://127.0.0.1/1</link></item>'
            "</channel></rss>")


def external(encoding_name: str) -> str:
    return (f'<?xml version="1.0" encoding="{encoding_name}"?>\n'
            '<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
            '<rss version="2.0"><channel><title>T</title><item><title>Leak: &x;</title>'
            "<description>&x;</description><link>http://127.0.0.1/1</link></item>"
            "</channel></rss>")


def utf7(document: str) -> bytes:
    """UTF-7 as an attacker writes it: every "<" of a declaration as ``+ADw-``, which
    the bytes of a UTF-8 reading never show as markup."""
    return document.encode("utf-7").replace(b"<!", b"+ADw-!")


#: name -> (encoding as declared, how the text becomes bytes, HTTP Content-Type)
VARIANTS: dict[str, tuple[str, Callable[[str], bytes], str]] = {
    "utf8": ("utf-8", lambda t: t.encode(), "application/rss+xml"),
    "utf16-bom": ("UTF-16", lambda t: t.encode("utf-16"), "application/rss+xml"),
    "utf16be-no-bom": ("UTF-16", lambda t: t.encode("utf-16-be"), "application/xml"),
    "utf32-bom": ("UTF-32", lambda t: t.encode("utf-32"), "application/rss+xml"),
    "utf7": ("UTF-7", utf7, "application/rss+xml"),
    # The HTTP charset says UTF-8, the declaration UTF-7: either reading is checked.
    "utf7-header-utf8": ("UTF-7", utf7, "text/xml; charset=utf-8"),
    "cp037": ("IBM037", lambda t: t.encode("cp037"), "application/rss+xml"),
    "cp037-no-type": ("IBM037", lambda t: t.encode("cp037"), ""),
    "latin1": ("iso-8859-1", lambda t: t.replace("Laughs", "Déjà").encode("latin-1"),
               "application/rss+xml; charset=iso-8859-1"),
}


def refused(cycle_error: str, entity: str) -> bool:
    return cycle_error.startswith(
        f"ExtractError: feed refused: the document declares XML entity '{entity}'")


async def test_billion_laughs_in_every_encoding_is_refused(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    monitors = []
    for name, (declared, encode, content_type) in VARIANTS.items():
        url = hostile.route(f"/{name}.xml", respond(encode(laughs(declared)),
                                                    content_type=content_type or None))
        monitors.append({"id": f"laughs-{name}", "kind": "feed", "url": url})
    tracemalloc.start()
    try:
        cycle = await run_with_others(store, site, monitors)
        peak = traced_peak_mb()
    finally:
        tracemalloc.stop()

    for name in VARIANTS:
        assert cycle.outcome(f"laughs-{name}") == "error", name
        assert refused(cycle.error(f"laughs-{name}"), "lol0"), cycle.error(f"laughs-{name}")
    # Expanded, the laughs of one feed alone would be gigabytes.
    assert peak < 16, f"{peak:.1f} MB traced while refusing {len(VARIANTS)} feeds"


async def test_external_entities_in_every_encoding_are_refused(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    monitors = []
    for name, (declared, encode, content_type) in VARIANTS.items():
        url = hostile.route(f"/xxe-{name}.xml", respond(encode(external(declared)),
                                                        content_type=content_type or None))
        monitors.append({"id": f"xxe-{name}", "kind": "feed", "url": url})
    cycle = await run_with_others(store, site, monitors)

    for name in VARIANTS:
        error = cycle.error(f"xxe-{name}")
        assert refused(error, "x") and "'file:///etc/passwd'" in error, (name, error)
    assert_stored_nowhere(store, passwd_line())


async def test_a_body_that_names_a_local_file_is_not_read_from_disk(
    hostile: HostileServer, site: Site, store: Store, tmp_path: Path
) -> None:
    """feedparser opens bytes as a file name when it can: the body is only ever data."""
    local = tmp_path / "local.xml"
    local.write_text('<?xml version="1.0"?><rss version="2.0"><channel><title>On disk'
                     "</title><item><title>Local secret</title><link>http://127.0.0.1/s"
                     "</link></item></channel></rss>")
    url = hostile.route("/path.xml", respond(str(local).encode(),
                                             content_type="application/rss+xml"))
    cycle = await run_with_others(store, site, [{"id": "path", "kind": "feed", "url": url}])

    assert cycle.outcome("path") == "error"
    assert cycle.error("path").startswith("ExtractError: invalid feed")
    assert_stored_nowhere(store, "Local secret")


FEED = ('<?xml version="1.0" encoding="{}"?><rss version="2.0"><channel><title>Café'
        "</title><item><title>Déjà vu «»</title><link>http://127.0.0.1/1</link></item>"
        "</channel></rss>")


@pytest.mark.parametrize(("declared", "codec", "content_type"), [
    ("iso-8859-1", "latin-1", ""),
    ("IBM037", "cp037", ""),
    ("UTF-16", "utf-16", ""),
    ("UTF-16", "utf-16-le", "application/xml"),
    ("utf-8", "utf-8", "text/xml"),
    ("windows-1252", "windows-1252", "application/rss+xml; charset=windows-1252"),
])
def test_ordinary_feeds_read_the_same_in_any_encoding(
    declared: str, codec: str, content_type: str
) -> None:
    monitor = build_monitor(MonitorConfig(id="f", kind="feed", url="http://127.0.0.1/f"),
                            "org")
    content: Extracted = monitor.extract(FEED.format(declared).encode(codec),
                                         content_type=content_type)
    assert content.data["title"] == "Café"
    assert [e["title"] for e in content.data["entries"]] == ["Déjà vu «»"]


def test_readings_follow_every_claim_and_only_then_fall_back() -> None:
    body = b'<?xml version="1.0" encoding="UTF-7"?><a>+AOk-</a>'
    # The HTTP charset first, then the declaration: both are checked.
    assert xml_readings(body, "text/xml; charset=utf-8") == [
        '<?xml version="1.0" encoding="UTF-7"?><a>+AOk-</a>',
        '<?xml version="1.0" encoding="UTF-7"?><a>é</a>']
    # No claim that decodes: UTF-8, else windows-1252.
    assert xml_readings(b"<a>\xe9</a>") == ["<a>é</a>"]
    assert xml_readings(b'<?xml version="1.0" encoding="nonesuch"?><a/>') == [
        '<?xml version="1.0" encoding="nonesuch"?><a/>']
