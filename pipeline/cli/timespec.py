"""Times on the command line: ISO dates, ISO date-times, or an age such as ``7d``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from core.units import parse_duration
from storage.records import iso

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_AGE = re.compile(r"^\s*\d+(?:\.\d+)?\s*[smhd]\s*$")


class BadTime(ValueError):
    """Not a date, a date-time or an age."""


def looks_like_time(value: str) -> bool:
    return bool(_AGE.match(value)) or "-" in value or value in ("now", "today")


def parse_when(value: str, *, now: datetime | None = None, end_of_day: bool = False) -> datetime:
    """An aware UTC datetime for ``2026-11-28``, ``2026-11-28T10:00[+02:00]`` or ``7d`` ago.

    A date alone means its start, or with ``end_of_day`` its last millisecond (so
    ``--until 2026-11-28`` includes the 28th). A date-time without a zone is UTC.
    """
    now = now or datetime.now(UTC)
    text = value.strip()
    if text == "now":
        return now
    if text == "today":
        text = now.date().isoformat()
    if _AGE.match(text):
        return now - parse_duration(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadTime(
            f"bad time {value!r}: use a date (2026-11-28), a date-time "
            "(2026-11-28T10:00, UTC unless a zone is given) or an age (30m, 12h, 7d)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end_of_day and _DATE_ONLY.match(text):
        moment += timedelta(days=1, milliseconds=-1)
    return moment.astimezone(UTC)


class When(click.ParamType[str]):
    """A click option type: the value as ISO 8601 UTC text, the store's time format."""

    name = "when"

    def __init__(self, *, end_of_day: bool = False) -> None:
        self.end_of_day = end_of_day

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        try:
            return iso(parse_when(str(value), end_of_day=self.end_of_day))
        except BadTime as exc:
            self.fail(str(exc), param, ctx)
