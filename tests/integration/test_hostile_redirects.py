"""Redirects and captures never lead from a monitor's own host into another private one.

Every server here is on 127.0.0.1, which is what makes the rule testable on loopback: a
monitor configured on 127.0.0.1:A may stay on 127.0.0.1:A, and a redirect or capture to
any other port (127.0.0.1:B, the ``site`` fixture), to ``localhost:B`` (refused where
the socket is made, after resolution) or to a metadata address is refused, and the
other server never sees the request. The policy itself is tabled in
``tests/unit/test_addresses.py`` with public and private addresses.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from storage.db import Store
from tests.integration.conftest import Site
from tests.integration.hostile_server import HostileServer, hostile_server, redirect, respond
from tests.integration.hostile_support import run_with_others

pytestmark = pytest.mark.integration

REFUSED = "only a monitor's own configured host and port may be private"


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with hostile_server() as server:
        yield server


async def test_redirects_to_another_private_host_or_port_are_refused(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    site.set("/secret", "<p>an internal page</p>")
    other_port = site.url("/secret")  # 127.0.0.1, another port
    by_name = other_port.replace("127.0.0.1", "localhost")
    port = site.base_url.rsplit(":", 1)[1]
    monitors = [
        ("to-port", redirect(other_port)),
        ("to-name", redirect(by_name)),
        ("to-metadata", redirect("http://169.254.169.254/latest/meta-data/")),
        ("to-mapped", redirect(f"http://[::ffff:127.0.0.1]:{port}/secret")),
    ]
    hostile.route("/own", respond(b"<p>still on the monitor's own host and port</p>"))
    monitors.append(("same-port", redirect(hostile.url("/own"))))
    config = []
    for monitor_id, behaviour in monitors:
        config.append({"id": monitor_id, "kind": "page",
                       "url": hostile.route(f"/{monitor_id}", behaviour)})
    cycle = await run_with_others(store, site, config)

    assert cycle.error("to-port") == (
        f"UnsupportedURL: refusing to connect to 127.0.0.1:{port}, a non-public address: "
        f"{REFUSED}")
    # A name is resolved first: refused where the socket is made.
    assert cycle.error("to-name") == (
        f"UnsupportedURL: refusing to connect to localhost:{port}, a non-public address: "
        f"{REFUSED}")
    assert cycle.error("to-metadata") == (
        "UnsupportedURL: refusing to connect to 169.254.169.254:80, a non-public address: "
        f"{REFUSED}")
    assert cycle.error("to-mapped") == (
        f"UnsupportedURL: refusing to connect to [::ffff:127.0.0.1]:{port}, a non-public "
        f"address: {REFUSED}")
    assert site.hits("/secret") == 0
    assert cycle.outcome("same-port") == "new"
    assert "still on the monitor's own host" in cycle.content("same-port").text


async def test_a_monitor_configured_by_a_private_name_may_use_it(
    site: Site, store: Store
) -> None:
    """The monitor's own host may be a name that resolves to a private address."""
    site.set("/intranet", "<p>the intranet page</p>")
    url = site.url("/intranet").replace("127.0.0.1", "localhost")
    cycle = await run_with_others(store, site, [{"id": "intranet", "kind": "page",
                                                 "url": url}])

    assert cycle.outcome("intranet") == "new"
    assert "the intranet page" in cycle.content("intranet").text


async def test_captures_respect_the_port_and_the_address_policy(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    site.set("/doc.pdf", b"%PDF-1.4 internal", content_type="application/pdf")
    hostile.route("/own.pdf", respond(b"%PDF-1.4 own", content_type="application/pdf"))
    before = "<html><body><main><h1>Reports</h1><ul><li>none yet</li></ul></main></body></html>"
    after = ("<html><body><main><h1>Reports</h1><ul>"
             f"<li><a href='{hostile.url('/own.pdf')}'>Own report</a></li>"
             f"<li><a href='{site.url('/doc.pdf')}'>Other port</a></li>"
             "</ul></main></body></html>")
    listing = hostile.route("/list", respond(before.encode()))
    # capture_hosts lists the host, on any port: the address policy still refuses it.
    monitor = {"id": "list", "kind": "page", "url": listing, "capture_new_documents": True,
               "capture_hosts": ["127.0.0.1"]}
    await run_with_others(store, site, [monitor])
    hostile.route("/list", respond(after.encode()))
    await run_with_others(store, site, [monitor])

    rows = {r["url"]: r for r in store.db.query("SELECT * FROM captures")}
    assert set(rows) == {hostile.url("/own.pdf"), site.url("/doc.pdf")}
    assert rows[hostile.url("/own.pdf")]["error"] is None
    assert store.load_body(rows[hostile.url("/own.pdf")]["snapshot_hash"]) == b"%PDF-1.4 own"
    port = site.base_url.rsplit(":", 1)[1]
    assert rows[site.url("/doc.pdf")]["error"] == (
        f"UnsupportedURL: refusing to connect to 127.0.0.1:{port}, a non-public address: "
        f"{REFUSED}")
    assert site.hits("/doc.pdf") == 0
