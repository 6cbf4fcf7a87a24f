"""What govwatch writes besides a command's own output: logs on stderr and report lines.

Both follow ``--log-format``: plain lines, or one JSON object per line. Logs go through
:mod:`logging`; the report lines of ``run``, ``digest``, ``prune`` and the errors go
through :func:`emit`, so under ``json`` every line govwatch writes is one JSON object.

Messages quote fetched text (titles, servers' errors), so both pass it through
``core.sanitise``: no escape sequence or control character reaches the terminal or the
log, a log message is one line (a newline in it cannot forge a record of its own), and a
traceback is indented under its record. JSON lines escape what a terminal would obey.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

import click

from core.sanitise import clean_line, clean_text, terminal_json

FORMATS = ("plain", "json")
_PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_chosen = {"format": "plain"}


def json_output() -> bool:
    """Whether lines are JSON objects (``--log-format json``)."""
    return _chosen["format"] == "json"


def json_line(moment: datetime, level: str, fields: dict[str, Any]) -> str:
    """One JSON object: time and level first, then the fields."""
    payload = {"time": moment.isoformat(timespec="milliseconds"), "level": level, **fields}
    return terminal_json(json.dumps(payload, ensure_ascii=False, default=str))


def emit(event: str, message: str, *, err: bool = False, level: str = "info",
         **facts: Any) -> None:
    """One report line: ``message`` as is, or under json ``{"time", "level", "event",
    "message", **facts}``: the plain line for a person, its facts for a script. The
    stream (stdout unless ``err``) is the same in both formats. A plain message may have
    several lines; the caller folds each fetched value into one (``clean_line``)."""
    if json_output():
        message = json_line(datetime.now(UTC), level,
                            {"event": event, "message": message, **facts})
    else:
        message = clean_text(message)
    click.echo(message, err=err)


class PlainFormatter(logging.Formatter):
    """``time LEVEL logger: message`` on one line, whatever the message quotes."""

    def format(self, record: logging.LogRecord) -> str:
        # Another handler may have cached its own rendering of the traceback on the record.
        cached, record.exc_text = record.exc_text, None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = clean_line(record.message, None)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        return "\n".join("    " + line for line in
                         clean_text(super().formatException(ei)).splitlines())


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
    handler.setFormatter(JsonFormatter() if log_format == "json" else PlainFormatter(_PLAIN))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
