"""The address policy of fetches and captures, by tables of addresses.

A test machine cannot be reached at a public address, so "a public page redirects into
a private network" is tested here on the policy's own functions: the socket factory
that aiohttp calls once a name is resolved (``guarded_socket``, which is what defeats DNS
rebinding), the check of each hop before it is sent, and what a capture may fetch.
"""

from __future__ import annotations

import socket

import pytest

from monitors import build_monitor
from monitors.base import Monitor
from monitors.config import MonitorConfig
from pipeline.fetch.addresses import (
    AddressRefused,
    allowed,
    check_hop,
    endpoint,
    fetching_for,
    guarded_socket,
    is_public,
)
from pipeline.fetch.capture import allowed_host


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.5.4", "192.168.1.1",
    "169.254.169.254",            # cloud metadata (link-local)
    "100.100.100.200",            # a cloud's metadata in the shared (CGNAT) range
    "100.64.0.1", "0.0.0.0", "255.255.255.255", "224.0.0.1", "240.0.0.1",
    "::1", "::", "fe80::1", "fe80::1%eth0", "fd00:ec2::254", "fc00::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254",   # IPv4-mapped
    "2002:7f00:1::1",             # 6to4 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",         # NAT64 of 169.254.169.254
])
def test_non_public_addresses(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize("address", [
    "93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2001:4860:4860::8888",
    "::ffff:8.8.8.8", "64:ff9b::808:808",
])
def test_public_addresses(address: str) -> None:
    assert is_public(address)


@pytest.mark.parametrize(("url", "expected"), [
    ("http://Example.org/a", ("example.org", 80)),
    ("https://example.org/a", ("example.org", 443)),
    ("http://127.0.0.1:8080/", ("127.0.0.1", 8080)),
    ("http://[::1]:81/", ("::1", 81)),
])
def test_endpoints(url: str, expected: tuple[str, int]) -> None:
    assert endpoint(url) == expected


OWN = ("127.0.0.1", 8080)


@pytest.mark.parametrize(("address", "hop", "origin", "expected"), [
    ("93.184.215.14", ("example.org", 80), ("example.org", 80), True),
    ("93.184.215.14", ("other.org", 80), ("example.org", 80), True),
    # A public monitor's redirect into a private address, or a rebinding name.
    ("169.254.169.254", ("metadata", 80), ("example.org", 80), False),
    ("127.0.0.1", ("rebound.example.org", 80), ("example.org", 80), False),
    # A private monitor on its own host and port; not on another port or host.
    ("127.0.0.1", OWN, OWN, True),
    ("127.0.0.1", ("127.0.0.1", 8081), OWN, False),
    ("127.0.0.2", ("127.0.0.2", 8080), OWN, False),
    ("10.0.0.5", ("intranet", 80), ("intranet", 80), True),
    # No monitor: public only.
    ("127.0.0.1", OWN, None, False),
])
def test_policy(address: str, hop: tuple[str, int], origin: tuple[str, int] | None,
                expected: bool) -> None:
    assert allowed(address, hop, origin) is expected


def addr_info(address: str, port: int) -> tuple[int, int, int, str, tuple[object, ...]]:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sockaddr: tuple[object, ...] = (address, port, 0, 0) if ":" in address else (address, port)
    return family, socket.SOCK_STREAM, 0, "", sockaddr


def test_the_socket_is_checked_after_resolution_so_rebinding_gains_nothing() -> None:
    """A public monitor's hop passed ``check_hop`` by name; its resolved address is
    private by the time the socket is made: refused there."""
    with fetching_for("https://example.org/news"):
        check_hop("https://rebound.example.net/page")  # a name: judged at the socket
        with pytest.raises(AddressRefused, match=r"rebound\.example\.net:443, a non-public"):
            guarded_socket(addr_info("127.0.0.1", 443))
        guarded_socket(addr_info("93.184.215.14", 443)).close()


def test_a_private_monitor_keeps_its_own_host_and_port_only() -> None:
    with fetching_for("http://127.0.0.1:8080/page"):
        check_hop("http://127.0.0.1:8080/page")
        guarded_socket(addr_info("127.0.0.1", 8080)).close()
        with pytest.raises(AddressRefused, match=r"127\.0\.0\.1:8081"):
            check_hop("http://127.0.0.1:8081/elsewhere")
        with pytest.raises(AddressRefused, match=r"\[::1\]:8080"):
            check_hop("http://[::1]:8080/")
        with pytest.raises(AddressRefused, match=r"169\.254\.169\.254:80"):
            check_hop("http://169.254.169.254/latest/meta-data/")


def test_outside_any_monitor_only_public_addresses() -> None:
    with pytest.raises(AddressRefused):
        guarded_socket(addr_info("127.0.0.1", 80))
    guarded_socket(addr_info("2606:4700:4700::1111", 443)).close()


def test_a_private_name_once_connected_is_refused_to_other_monitors() -> None:
    """A kept-alive connection to a monitor's private host may be reused without a new
    socket: a later hop to that name from another monitor is refused before it is sent."""
    with fetching_for("http://intranet.test:8000/"):
        check_hop("http://intranet.test:8000/")
        guarded_socket(addr_info("10.1.2.3", 8000)).close()
    with fetching_for("https://example.org/"), pytest.raises(AddressRefused,
                                                             match=r"intranet\.test:8000"):
        check_hop("http://intranet.test:8000/secret")


def monitor(url: str, *hosts: str) -> Monitor:
    return build_monitor(MonitorConfig(id="m", kind="page", url=url,
                                       capture_hosts=hosts), "org")


@pytest.mark.parametrize(("url", "hosts", "target", "expected"), [
    ("http://127.0.0.1:8080/list", (), "http://127.0.0.1:8080/doc.pdf", True),
    ("http://127.0.0.1:8080/list", (), "http://127.0.0.1:8081/doc.pdf", False),
    ("http://gov.example/list", (), "https://gov.example/doc.pdf", True),
    ("http://gov.example/list", (), "http://gov.example:8443/doc.pdf", False),
    ("http://gov.example/list", (), "http://files.gov.example/doc.pdf", False),
    ("http://gov.example/list", ("files.gov.example",), "http://files.gov.example/d", True),
    ("http://gov.example/list", (), "ftp://gov.example/doc.pdf", False),
])
def test_captures_stay_on_the_monitors_host_and_port(
    url: str, hosts: tuple[str, ...], target: str, expected: bool
) -> None:
    assert allowed_host(monitor(url, *hosts), target) is expected
