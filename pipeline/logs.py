"""Logging to stderr, as plain lines or as one JSON object per line (``--log-format json``).

The format chosen also shapes what the commands themselves write (``pipeline.cli.output``):
under ``json`` every line govwatch writes, logs and reports alike, is one JSON object.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

FORMATS = ("plain", "json")
_PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_chosen = {"format": "plain"}


def output_format() -> str:
    """The ``--log-format`` of this process: ``plain`` or ``json``."""
    return _chosen["format"]


def json_line(moment: datetime, level: str, fields: dict[str, Any]) -> str:
    """One JSON object: time and level first, then the fields."""
    payload = {"time": moment.isoformat(timespec="milliseconds"), "level": level, **fields}
    return json.dumps(payload, ensure_ascii=False, default=str)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {"logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        return json_line(datetime.fromtimestamp(record.created, UTC),
                         record.levelname.lower(), fields)


def setup_logging(level: int, log_format: str = "plain") -> None:
    _chosen["format"] = log_format
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(_PLAIN))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
