"""A rendered page's own requests, as govwatch's client makes them (``pipeline.fetch.forward``):
for a monitor of a public page, no loopback, private, link-local or metadata address.

No browser is needed: what the browser hands over is a request's method, URL, headers and
body, given here as Playwright would. Every refusal happens before a connection is made (a
literal address before the hop is sent, a name where its socket is made, after
resolution), so nothing leaves this machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import pytest

from core.errors import UnsupportedURL
from pipeline.fetch.addresses import fetching_for
from pipeline.fetch.client import FetchSettings, build_client
from pipeline.fetch.forward import forward

if TYPE_CHECKING:
    from playwright.async_api import Request


@dataclass
class PageRequest:
    """What Playwright's ``Request`` gives ``forward``: no more."""

    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=lambda: {"accept": "*/*"})
    post_data_buffer: bytes | None = None


@pytest.mark.parametrize("target", [
    "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
    "http://127.0.0.1:8080/admin",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",  # loopback inside an IPv6 address
    "http://10.0.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # shared (CGNAT)
    "http://localhost:9200/",  # a name: refused where its socket is made
])
async def test_a_public_page_never_reaches_a_private_address(target: str) -> None:
    async with build_client(FetchSettings()) as client:
        with fetching_for("https://www.example.org/register/"), \
                pytest.raises(UnsupportedURL, match="a non-public address"):
            await forward(client, cast("Request", PageRequest(target)), 1_000_000)


async def test_a_private_monitor_reaches_no_other_port_of_its_host() -> None:
    async with build_client(FetchSettings()) as client:
        with fetching_for("http://10.1.2.3:8080/intranet/"), \
                pytest.raises(UnsupportedURL, match=re.escape("10.1.2.3:9090")):
            await forward(client, cast("Request", PageRequest("http://10.1.2.3:9090/x",
                                                              method="POST",
                                                              post_data_buffer=b"x")),
                          1_000_000)


async def test_other_schemes_are_refused() -> None:
    async with build_client(FetchSettings()) as client:
        with fetching_for("https://www.example.org/"), \
                pytest.raises(UnsupportedURL, match="non-http"):
            await forward(client, cast("Request", PageRequest("ftp://www.example.org/x")),
                          1_000_000)
