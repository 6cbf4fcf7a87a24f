"""Hosts, as politeness counts them: the one place that parses a monitor's URL for that.

Politeness limits, robots.txt and the fetch client all key their per-host state on it.
"""

from __future__ import annotations

from functools import lru_cache

import httpx


@lru_cache(maxsize=16384)
def host_key(url: str) -> str:
    """A host is scheme, name and port: the unit of politeness limits."""
    parsed = parsed_url(url)
    return f"{parsed.scheme}://{parsed.host}:{parsed.port or ''}"


@lru_cache(maxsize=16384)
def parsed_url(url: str) -> httpx.URL:
    """httpx parses a URL string in pure Python (about 0.1 ms); monitors ask every cycle."""
    return httpx.URL(url)
