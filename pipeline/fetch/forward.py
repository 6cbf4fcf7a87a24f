"""A rendered page's own requests, made by govwatch's client instead of the browser.

The browser (``pipeline.fetch.browser``) hands every request of a page here; its answer
goes back to the page. Going through the run's client means the rules of every other
fetch hold for them too: http(s) only, and the address policy (``addresses``) checked
for every hop before it is sent and where its socket is made, after name resolution.
Redirects are followed here, hop by hop under that policy: Chromium does not hand the
target of a redirect it was given back to the route, it would ask for it itself (and its
own network is closed: ``browser``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
import httpx

from core.errors import BodyTooLarge, ConnectFailed, FetchError, ProtocolFailed, UnsupportedURL
from pipeline.fetch.addresses import AddressRefused
from pipeline.fetch.decoding import read_decoded
from pipeline.fetch.hosts import parsed_url

if TYPE_CHECKING:
    from playwright.async_api import Request

#: Headers of the browser's request that describe its own connection, or that govwatch's
#: client sets itself (it asks only for the encodings it can decode, and decodes them).
_NOT_FORWARDED = frozenset({"host", "connection", "keep-alive", "content-length",
                            "transfer-encoding", "accept-encoding", "upgrade", "te",
                            "proxy-connection", "proxy-authorization"})
#: Headers of the answer that describe the exchange already decoded here.
_NOT_RETURNED = frozenset({"content-encoding", "content-length", "transfer-encoding",
                           "connection", "keep-alive"})


@dataclass(frozen=True, slots=True)
class Answer:
    """What the page is given: a status, headers (Set-Cookie lines joined by newlines,
    as Playwright expects them) and the decoded body."""

    status: int
    headers: dict[str, str]
    body: bytes


async def forward(client: httpx.AsyncClient, request: Request, max_bytes: int) -> Answer:
    """Make the page's ``request`` with ``client`` (within the caller's address policy,
    ``addresses.fetching_for``) and read its answer, at most ``max_bytes`` decoded.

    Raises ``FetchError`` when the request is refused (``UnsupportedURL``) or fails."""
    headers = {name: value for name, value in request.headers.items()
               if name.lower() not in _NOT_FORWARDED}
    outgoing = client.build_request(request.method, parsed_url(request.url), headers=headers,
                                    content=request.post_data_buffer)
    body = bytearray()

    def keep(piece: bytes) -> None:
        if len(body) + len(piece) > max_bytes:
            raise BodyTooLarge(f"body exceeds max_bytes {max_bytes}")
        body.extend(piece)

    try:
        response = await client.send(outgoing, stream=True)
        try:
            await read_decoded(response, keep)
        finally:
            await response.aclose()
    except FetchError:  # refused before it was sent (the client's request hook), too large
        raise
    except (httpx.HTTPError, httpx.InvalidURL, aiohttp.ClientError) as exc:
        raise _failure(exc) from exc
    returned: dict[str, str] = {}
    for name, value in response.headers.multi_items():
        name = name.lower()
        if name in _NOT_RETURNED:
            continue
        returned[name] = f"{returned[name]}\n{value}" if name == "set-cookie" and \
            name in returned else value
    return Answer(response.status_code, returned, bytes(body))


def _failure(exc: Exception) -> FetchError:
    """What failed, for the log: the address policy (refused where the socket was to be
    made, deep in aiohttp's and httpx's errors), or the exchange."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            break
        if isinstance(seen, AddressRefused):
            return UnsupportedURL(str(seen))
        seen = seen.__cause__ or seen.__context__
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return ConnectFailed(message)
    return ProtocolFailed(message)
