"""What govwatch writes besides a command's own output: logs on stderr and report lines.

Both follow ``--log-format``: plain lines, or one JSON object per line. Logs go through
:mod:`logging`; the report lines of ``run``, ``digest``, ``prune`` and the errors go
through :func:`emit`, so under ``json`` every line govwatch writes is one JSON object.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

import click

FORMATS = ("plain", "json")
_PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_chosen = {"format": "plain"}


def json_output() -> bool:
    """Whether lines are JSON objects (``--log-format json``)."""
    return _chosen["format"] == "json"


def json_line(moment: datetime, level: str, fields: dict[str, Any]) -> str:
    """One JSON object: time and level first, then the fields."""
    payload = {"time": moment.isoformat(timespec="milliseconds"), "level": level, **fields}
    return json.dumps(payload, ensure_ascii=False, default=str)


def emit(event: str, message: str, *, err: bool = False, level: str = "info",
         **facts: Any) -> None:
    """One report line: ``message`` as is, or under json ``{"time", "level", "event",
    "message", **facts}``: the plain line for a person, its facts for a script. The
    stream (stdout unless ``err``) is the same in both formats."""
    if json_output():
        message = json_line(datetime.now(UTC), level,
                            {"event": event, "message": message, **facts})
    click.echo(message, err=err)


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
