"""Where a fetch may connect: from a public address never into a private one.

A public page that redirects to ``http://169.254.169.254/latest/meta-data/`` (a cloud's
metadata service), to a router's admin page or to a service on the monitoring host
itself would otherwise be fetched with the monitor's credentials of place and stored.
The rule, checked for every hop of every fetch and every capture:

- a connection to a **public** address is always allowed;
- a connection to a loopback, private, link-local, shared (CGNAT), multicast or reserved
  address is allowed only for a hop to the monitor's **own configured host and port**
  (a monitor of an intranet page, or of a test server on 127.0.0.1, stays usable; a
  redirect from it to another port of the same machine is refused).

The address is checked where the socket is made (``guarded_socket``, aiohttp's
``socket_factory``), after name resolution, so a name that resolves to a public address
when asked first and to a private one when connected (DNS rebinding) gains nothing. Each
hop is also checked before it is sent (``check_hop``): a literal address at once, and a
name once known to be private, since a kept-alive connection to it (opened for the
monitor it belongs to) may be reused without a new socket.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import urlsplit

#: IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64, RFC 6052).
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_DEFAULT_PORTS = {"http": 80, "https": 443}

Endpoint = tuple[str, int]


class AddressRefused(OSError):
    """A connection the address policy does not allow (raised where the socket is made)."""


def is_public(address: str) -> bool:
    """Whether ``address`` (an IP address) is reachable on the public internet.

    IPv6 forms that embed an IPv4 address (mapped, 6to4, NAT64) are judged by the
    address they embed: ``::ffff:127.0.0.1`` is loopback.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # a zone id: fe80::1%eth0
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and any(ip in network for network in _NAT64):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(str(embedded))
    return ip.is_global and not ip.is_multicast


def endpoint(url: str) -> Endpoint:
    """A URL's host (lower case, IPv6 without brackets) and port (the scheme's default
    when none is written)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return host, port or _DEFAULT_PORTS.get(parts.scheme.lower(), 80)


def allowed(address: str, hop: Endpoint | None, origin: Endpoint | None) -> bool:
    """The policy: a public address always; any other only on the way to the monitor's
    own configured host and port."""
    return is_public(address) or (origin is not None and hop == origin)


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


@dataclass
class _Fetch:
    """The fetch in progress in this task: the monitor's own endpoint and the current hop."""

    origin: Endpoint
    hop: Endpoint | None = None


_current: ContextVar[_Fetch | None] = ContextVar("govwatch_fetch_origin", default=None)


@contextmanager
def fetching_for(url: str) -> Iterator[None]:
    """Within this block, requests are made on behalf of the monitor whose configured URL
    is ``url``. Outside any such block only public addresses may be reached."""
    token = _current.set(_Fetch(endpoint(url)))
    try:
        yield
    finally:
        _current.reset(token)


def refusal(hop: Endpoint) -> str:
    """Why a connection to ``hop`` was refused. The same words for every address a name
    resolves to, so that a refusal of both its IPv4 and IPv6 address reads as one."""
    host, port = hop
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return (f"refusing to connect to {target}, a non-public address: only a monitor's own "
            "configured host and port may be private")


#: Host names (with their port) that were connected to at a non-public address, as a
#: monitor's own host: a kept-alive connection to one of them may be reused by a later
#: request for that name without a new socket, so such a request is checked here.
_private_names: set[Endpoint] = set()


def check_hop(url: str) -> None:
    """Before a hop is sent: note it as the current hop, and refuse it when it leads
    to a non-public address other than the monitor's own host and port. A literal address
    is judged here; a name where its socket is made (``guarded_socket``), or here when it
    is known to be private (its connection may be reused without a new socket)."""
    fetch = _current.get()
    hop = endpoint(url)
    origin = fetch.origin if fetch is not None else None
    if fetch is not None:
        fetch.hop = hop
    if hop == origin:
        return
    if _literal(hop[0]) and not allowed(hop[0], hop, origin):
        raise AddressRefused(refusal(hop))
    if hop in _private_names:
        raise AddressRefused(refusal(hop))


def guarded_socket(addr_info: tuple[int, int, int, str, tuple[object, ...]]
                   ) -> socket.socket:
    """aiohttp's socket factory: the socket for a resolved address, if the policy allows
    a connection there for the fetch in progress."""
    family, kind, proto, _, sockaddr = addr_info
    address, port = str(sockaddr[0]), int(sockaddr[1])  # type: ignore[call-overload]
    fetch = _current.get()
    hop = fetch.hop if fetch is not None else None
    if not allowed(address, hop, fetch.origin if fetch is not None else None):
        raise AddressRefused(refusal(hop or (address, port)))
    if hop is not None and not is_public(address) and not _literal(hop[0]):
        _private_names.add(hop)
    return socket.socket(family=family, type=kind, proto=proto)
