"""A respx router for tests that fake the network at the httpx transport."""

from __future__ import annotations

from typing import Any

import respx


def router(**options: Any) -> respx.Router:
    """A respx router that answers every robots.txt with 404 (no rules: all allowed).

    The fetch layer asks robots.txt before a page, as a polite crawler does; tests about
    robots rules add their own route before this catch-all.
    """
    fake = respx.Router(**options)
    fake.get(url__regex=r"/robots\.txt$", name="robots").respond(404)
    return fake
