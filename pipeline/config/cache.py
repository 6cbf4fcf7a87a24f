"""A cache of parsed config files: the YAML's plain data, keyed by the file's exact text.

Reading YAML with the position of every key (ruamel's round-trip loader, which lets
every error name its line) is most of a run's start-up over a large config: about 0.3 s
at 1000 monitors, against 10 ms to validate the models. A cron deployment reads the same
file every few minutes, so the plain data the parser made is kept, as JSON, under the
file's SHA-256. Only the parsing is skipped: validation and the semantic checks run on
every load, and any error is reported by a fresh parse that keeps lines.

The cache lives in ``$GOVWATCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/govwatch``, else
``~/.cache/govwatch``. A cache that cannot be read or written is skipped silently:
it only ever saves time.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import __version__ as RUAMEL_VERSION

from pipeline import VERSION

CACHE_ENV = "GOVWATCH_CACHE_DIR"


def cache_dir() -> Path | None:
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "govwatch"
    home = os.environ.get("HOME")
    return Path(home) / ".cache" / "govwatch" if home else None


def _entry(text: str) -> Path | None:
    directory = cache_dir()
    if directory is None:
        return None
    # The parser's version is part of the key: another parser may read a file otherwise.
    key = hashlib.sha256(f"{VERSION}\0{RUAMEL_VERSION}\0{text}".encode()).hexdigest()
    return directory / "config" / f"{key}.json"


def cached_plain(text: str) -> Any | None:
    """The plain data parsed earlier from exactly ``text``, or None."""
    entry = _entry(text)
    if entry is None:
        return None
    try:
        return json.loads(entry.read_bytes())
    except (OSError, ValueError):
        return None


def remember_plain(text: str, data: Any) -> None:
    """Keep ``data`` for ``text`` when JSON gives it back exactly (else keep nothing)."""
    entry = _entry(text)
    if entry is None:
        return
    try:
        encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):  # a YAML timestamp, for one: not worth caching
        return
    if json.loads(encoded) != data:
        return
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(encoded)
        os.replace(temporary, entry)  # readers see the whole entry or none
    except OSError:
        Path(temporary).unlink(missing_ok=True)
