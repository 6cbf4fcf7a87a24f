"""The one way commands write their report lines: plain text, or one JSON object per line.

Under ``--log-format json`` a line becomes ``{"time", "level", "event", "message", ...}``:
``message`` is the plain line, the other keys its facts, so a script reads the facts and a
person reads the message. The stream stays the same in both formats.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from pipeline.logs import json_line, output_format


def emit(event: str, message: str, *, err: bool = False, level: str = "info",
         **facts: Any) -> None:
    """Write ``message`` (plain) or the event with its facts (json) as one line."""
    if json_output():
        message = json_line(datetime.now(UTC), level,
                            {"event": event, "message": message, **facts})
    click.echo(message, err=err)


def json_output() -> bool:
    """Whether lines are JSON objects (``--log-format json``)."""
    return output_format() == "json"
