"""Durations, sizes and URLs as config files write them: plain functions, no models.

They live apart from ``monitors.config`` so that the command line can parse ``--since
7d`` without loading pydantic; the config models wrap them as validators.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> timedelta:
    """``30s``, ``15m``, ``6h``, ``1d`` -> timedelta. A bare number is refused: units matter."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    raise ValueError(f"bad duration {value!r}: use a number and a unit s, m, h or d (e.g. 30s, 6h)")


def format_duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


_SIZE = re.compile(r"^\s*(\d+)\s*(b|kb|mb|gb|kib|mib|gib)?\s*$", re.IGNORECASE)
_SIZE_FACTOR = {
    "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3,
}


def parse_size(value: Any) -> int:
    """``5000000``, ``500kB``, ``10MB``, ``8MiB`` -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match and int(match.group(1)) > 0:
            return int(match.group(1)) * _SIZE_FACTOR[(match.group(2) or "b").lower()]
    raise ValueError(f"bad size {value!r}: use a positive number of bytes, or e.g. 500kB, 10MB")


def check_http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"url {url!r} must be an absolute http:// or https:// URL")
    return url
