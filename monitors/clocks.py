"""Clocks: a date or time in a page that reads as the moment the page was fetched.

A page that stamps itself ("generated 2026-12-07 02:45:45 UTC", "Tuesday 7 December
2026, 2:45 pm", an epoch in a footer) changes at every request, and a second copy
fetched a second later cannot show a clock that ticks once a minute. Such a stamp is
recognised by what it says, not by how it is written: whatever dateutil reads as a date
with a time (or a full date) is a clock when it falls on its own fetch time, at the
stamp's resolution. A date in the content ("Entry into force: 2 August 2026") is not
the time of its fetch, so it is compared like any other text.
"""

from __future__ import annotations

import re
import warnings
from collections import deque
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import islice

from dateutil import parser as dateparser
from dateutil.parser import UnknownTimezoneWarning

#: What a clock becomes in a comparable line: equal on both sides whatever its value.
CLOCK = "\u231a"
#: How far a stamp may be from the fetch: network time, generation time, clock skew.
SKEW = timedelta(minutes=5)
#: Longest run of words one stamp may span ("Tuesday, 7 December 2026, 2:45:45 pm UTC").
MAX_SPAN = 7
#: Spans read as dates per version compared (``ClockBudget``): a few
#: seconds of dateutil at most.
MAX_CLOCK_SPANS = 10_000
#: Sites print local times: a naive stamp may be off by any whole or half hour offset.
_OFFSETS = tuple(timedelta(minutes=30 * n) for n in range(-24, 29))
_STRIP = "()[]{}<>,;|\"'«»“”"
_DIGIT = re.compile(r"\d")
_EPOCH = re.compile(r"^\d{10}(?:\d{3})?$")
_RUN = re.compile(r"\d+")
_YEAR_FIRST = re.compile(r"(?<!\d)\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)")
_WORD = re.compile(r"\S+")
_SPACE = re.compile(r"\s")
#: Whitespace that folding changes: two in a row, or any but a plain space.
_UNFOLDED = re.compile(r"\s\s|[^\S ]")
_FOLD_CHUNK = 1 << 20
_DEFAULTS = (datetime(2001, 1, 1, 0, 0, 0), datetime(2002, 2, 2, 1, 1, 1))


@lru_cache(maxsize=65536)
def _read(span: str, dayfirst: bool) -> tuple[datetime, frozenset[str]] | None:
    """The moment ``span`` states and which of its fields the text gave, or None."""
    try:
        with warnings.catch_warnings():
            # "CET" and the like: read as a naive local time, which is what it is.
            warnings.simplefilter("ignore", UnknownTimezoneWarning)
            first, second = (dateparser.parse(span, default=d, dayfirst=dayfirst)
                             for d in _DEFAULTS)
        first.utcoffset()  # "12:30 +9999" parses to an offset no datetime accepts
    except (ValueError, OverflowError):
        return None
    given = frozenset(name for name in ("year", "month", "day", "hour", "minute", "second")
                      if getattr(first, name) == getattr(second, name))
    return first, given


def _reads_as(stamp: datetime, given: frozenset[str], at: datetime,
              zones: Collection[timedelta] | None = None,
              seen: set[timedelta] | None = None) -> bool:
    """Whether a stamp falls on ``at`` (naive UTC) at its resolution.

    A naive stamp may be in the site's zone, any whole or half hour off UTC; what keeps
    that from matching content times is the rest of the stamp: a full timestamp must
    fall within minutes of ``at`` on its day, a bare time of day must carry seconds, a
    bare date must be the fetch's date in some zone. ``zones`` narrows the offsets a
    naive stamp with a time may be read at; ``seen`` collects those it fits.
    """
    has_date = {"year", "month", "day"} <= given
    has_time = {"hour", "minute"} <= given
    if stamp.tzinfo is not None:
        offsets: Sequence[timedelta | None] = (None,)
        deltas = [stamp.astimezone(UTC).replace(tzinfo=None) - at]
    else:
        offsets = _OFFSETS if zones is None else [o for o in _OFFSETS if o in zones]
        deltas = [stamp - at + offset for offset in offsets if offset is not None]
    day = timedelta(days=1)
    if has_time and (has_date or "second" in given):
        fits = [offset for offset, delta in zip(offsets, deltas, strict=True)
                if abs(delta if has_date else (delta + day / 2) % day - day / 2) <= SKEW]
        if seen is not None:
            seen.update(offset for offset in fits if offset is not None)
        return bool(fits)
    if has_date and not given & {"hour", "minute", "second"}:
        return stamp.date() in {(at + timedelta(hours=h)).date() for h in (-12, 0, 14)}
    return False


def _is_clock(span: str, at: datetime, zones: Collection[timedelta] | None = None,
              seen: set[timedelta] | None = None) -> bool:
    core = span.strip(_STRIP)
    if not core or not _DIGIT.search(core):
        return False
    if _EPOCH.match(core):
        seconds = int(core) / (1000 if len(core) == 13 else 1)
        return abs(datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None) - at) <= SKEW
    # A date written year first is year, month, day (ISO 8601's order); read day first,
    # dateutil takes it as year, day, month, which no one writes: "2026-08-12" would be
    # 8 December and masked as a clock on that day.
    for dayfirst in (False,) if _YEAR_FIRST.search(core) else (False, True):
        read = _read(core, dayfirst)
        if read is not None and _reads_as(read[0], read[1], at, zones, seen):
            return True
    return False


@lru_cache(maxsize=4)
def _year_forms(year: int) -> frozenset[str]:
    """The fetch year and its neighbours, as four and as two digits."""
    return frozenset(form for y in (year - 1, year, year + 1)
                     for form in (str(y), f"{y % 100:02d}"))


def _could_state(word: str, years: frozenset[str]) -> bool:
    """Whether a span holding ``word`` could read as its fetch time (``_reads_as``).

    A stamp that falls on its fetch states the fetch's year or a time with seconds, and
    dateutil reads neither from anything but digits: so some word of it holds the year
    (``2026``, ``26``, ``20261207``), an epoch, or three groups of digits (``02:45:45``).
    Only spans holding such a word are read as dates; a table of ``(PDF, 3.4 MB)`` and
    ``section 12`` costs nothing. This decides what is worth reading, never what is a
    clock: that is still what the reading says."""
    runs = _RUN.findall(word)
    return len(runs) >= 3 or any(
        len(run) in (10, 13) or run in years or (len(run) > 4 and run[:4] in years)
        for run in runs)


_THREE_GROUPS = re.compile(r"\d++[^\s\d]++\d++[^\s\d]++\d")


def _may_hold_stamp(line: str, years: frozenset[str]) -> bool:
    """Whether some word of ``line`` could pass ``_could_state`` (a superset, decided from
    the line's digit runs): most lines of a page are spared reading word by word."""
    if len(line) > _FOLD_CHUNK:
        return True  # read word by word under its budget: a list of every run took 100s of MB
    runs = _RUN.findall(line)
    if any(len(run) in (10, 13) or run in years or (len(run) > 4 and run[:4] in years)
           for run in runs):
        return True
    return len(runs) >= 3 and _THREE_GROUPS.search(line) is not None


class ClockBudget:
    """How many more spans may be read as dates: each costs dateutil
    about 0.1 ms, and a page that is one paragraph of 20 MB of dates holds millions.
    Past the budget, text is compared as written (deterministic: the same versions
    always spend it on the same words)."""

    def __init__(self, spans: int | None = None) -> None:
        self.left = MAX_CLOCK_SPANS if spans is None else spans

    @property
    def spent(self) -> bool:
        return self.left <= 0


def mask_clocks(line: str, at: datetime | None, budget: ClockBudget | None = None,
                zones: Collection[timedelta] | None = None,
                seen: set[timedelta] | None = None) -> str:
    """``line`` with every stamp that reads as ``at`` (the fetch time) replaced by CLOCK,
    and its whitespace folded.

    Longest spans first, so a date and its time become one clock. Without a fetch time
    (two files compared by hand) nothing is a clock. ``budget`` may be shared by the
    lines of one version; without one, the line gets a budget of its own. The line is
    read word by word and copied by slices, never split whole: a 20 MB paragraph split
    into words took 150 MB. ``zones``: the offsets from UTC a stamp without its zone may be
    read at (``agreed_zones``; None: any whole or half hour); ``seen`` collects those the
    line's naive stamps fit.
    """
    if at is None:
        return line
    naive = at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at
    years = _year_forms(naive.year)
    if not _may_hold_stamp(line, years):
        return line  # no word that could state the fetch time: most lines of a page
    budget = budget if budget is not None else ClockBudget()
    line = fold(line)
    tokens = _WORD.finditer(line)
    window: deque[tuple[re.Match[str], bool]] = deque()
    pieces: list[str] = []
    copied = 0

    def fill() -> None:
        while len(window) < MAX_SPAN:
            token = next(tokens, None)
            if token is None:
                return
            window.append((token, _could_state(token.group(), years)))

    fill()
    while window and not budget.spent:
        # Only spans holding a word that could state the fetch time are read: most
        # windows of prose and figures cost nothing.
        keys = [key for _, key in window]
        size = len(window) if any(keys) else 0
        while size and any(keys[:size]):
            span = " ".join(token.group() for token, _ in islice(window, size))
            budget.left -= 1
            if _is_clock(span, naive, zones, seen):
                pieces += (line[copied:window[0][0].start()], CLOCK)
                copied = window[size - 1][0].end()
                for _ in range(size):
                    window.popleft()
                break
            size -= 1
        else:
            window.popleft()
        fill()
    pieces.append(line[copied:])
    return "".join(pieces)


def fold(line: str) -> str:
    """Whitespace folded to single spaces, as ``" ".join(line.split())``, without ever
    holding a list of every word of a long line (150 MB for a paragraph of 20 MB): a
    folded line is returned as it is, a long one is folded a megabyte at a time."""
    if len(line) <= _FOLD_CHUNK:
        return " ".join(line.split())
    if not _UNFOLDED.search(line) and not line.startswith(" ") and not line.endswith(" "):
        return line
    parts: list[str] = []
    start = 0
    while start < len(line):
        end = start + _FOLD_CHUNK
        space = _SPACE.search(line, end) if end < len(line) else None
        end = space.start() if space is not None else len(line)
        piece = " ".join(line[start:end].split())
        if piece:
            parts.append(piece)
        start = end
    return " ".join(parts)


def stamp_zones(lines: Iterable[str], at: datetime | None) -> frozenset[timedelta]:
    """The offsets from UTC at which the stamps of ``lines`` without a zone of their own
    read as ``at``."""
    seen: set[timedelta] = set()
    budget = ClockBudget()
    for line in lines:
        mask_clocks(line, at, budget, seen=seen)
    return frozenset(seen)


def differing_zones(old: Sequence[str], new: Sequence[str], shared: Collection[str],
                    old_at: datetime | None, new_at: datetime | None
                    ) -> frozenset[timedelta] | None:
    """``agreed_zones`` of the lines that differ between two versions (those whose folded
    form is not in ``shared``); None without both fetch times."""
    if old_at is None or new_at is None:
        return None
    return agreed_zones(stamp_zones((x for x in old if fold(x) not in shared), old_at),
                        stamp_zones((x for x in new if fold(x) not in shared), new_at))


def agreed_zones(a: frozenset[timedelta], b: frozenset[timedelta]
                 ) -> frozenset[timedelta] | None:
    """The zones two versions' differing lines agree on, when both show naive stamps.

    A site prints its clock in one zone: a page stamped at 04:01 when fetched at 03:01 UTC
    is stamped 10:01 at 09:01. An agenda's "7 December 2026, 14:00" read at 03:01 fits
    UTC+11, its "15:30" read at 09:01 fits UTC+6:30: no one zone, so no clock, and the
    edit shows. With naive stamps on one side only, any zone may be the site's (None)."""
    if a and b:
        return a & b
    return None
