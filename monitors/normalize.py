"""Pure normalization applied before comparing: what a reader would not call a change.

Everything here maps values to values and is tested with tables of cases
(tests/unit/cases/normalize.yaml).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Regions that change on every load without saying anything new: carousels, rotating
# banners, clocks, counters, live regions. Removed from comparison, kept in the snapshot.
VOLATILE_SELECTORS = ", ".join(
    f"[class*={word} i], [id*={word} i]"
    for word in ("carousel", "slider", "swiper", "slick", "rotat", "random", "marquee",
                 "ticker", "countdown", "clock", "weather", "visitor-count", "view-count",
                 "pageviews", "hit-counter")
) + ", [aria-live], [aria-roledescription=carousel i], [data-rotate], [data-random]"

# Site furniture: changes here matter less (a renamed menu entry is still reported).
TEMPLATE_SELECTORS = (
    "header, nav, footer, [role=banner], [role=navigation], [role=contentinfo], "
    "[class*=breadcrumb i], [class*=cookie i], [id*=cookie i]"
)

# Query parameters that never identify a document.
ALWAYS_VOLATILE_PARAMS = frozenset({
    "_", "cb", "cachebuster", "cache_buster", "nocache", "no_cache", "itok", "sid",
    "sessionid", "session_id", "session", "phpsessid", "jsessionid", "aspsessionid",
    "cfid", "cftoken", "csrf", "csrf_token", "csrftoken", "_token", "token", "nonce",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id",
    "fbclid", "gclid", "msclkid", "mc_cid", "mc_eid", "_ga", "_gl",
})
# Parameters that are cache busters only when their value looks like a stamp or a hash
# (``?t=pdf`` on UN ODS selects a format, ``?t=1732788000`` busts a cache).
STAMP_PARAMS = frozenset({"v", "ver", "version", "t", "ts", "time", "timestamp", "rnd",
                          "rand", "random", "r", "hash", "build", "rev"})
_STAMP_VALUE = re.compile(r"^(?:\d{6,}|[0-9a-fA-F]{8,}|\d+\.\d+\.\d+[\w.-]*)$")
_PATH_SESSION = re.compile(r";(?:jsessionid|phpsessid|sid|sessionid)=[^/?#]*", re.IGNORECASE)

_MONTH_NAMES = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "janvier février fevrier mars avril mai juin juillet août aout septembre octobre "
    "novembre décembre decembre enero febrero marzo abril mayo junio julio agosto "
    "septiembre setiembre octubre noviembre diciembre"
).split()
_WEEKDAY_NAMES = (
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur "
    "thurs fri sat sun lundi mardi mercredi jeudi vendredi samedi dimanche lunes martes "
    "miércoles miercoles jueves viernes sábado sabado domingo"
).split()
# Longest names first, so "novembre" is not read as "nov" + "embre".
_MONTHS = "|".join(sorted(_MONTH_NAMES, key=len, reverse=True))
_WEEKDAYS = "|".join(sorted(_WEEKDAY_NAMES, key=len, reverse=True))
_TZ = r"(?:\s*(?:utc|gmt|cet|cest|eet|eest|bst|est|edt|cst|cdt|pst|pdt|z|[+-]\d{2}:?\d{2})\b)?"
_TIME = rf"\d{{1,2}}[:h]\d{{2}}(?::\d{{2}}(?:\.\d+)?)?(?:\s*[ap]\.?m\b\.?)?{_TZ}"
_DAY = r"\d{1,2}(?:st|nd|rd|th|er)?\b"
_YEAR = r"\d{4}\b"

# Always noise, wherever they stand: relative times, counters, copyright years, tokens.
_ALWAYS = re.compile("|".join(f"(?:{p})" for p in (
    r"\b\d+\s+(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)"
    r"\s+ago\b",
    r"\bjust now\b",
    r"\b\d[\d,.\u00a0 ]*\s*(?:views?|reads?|downloads?|visits?|visitors?|hits|shares?|likes?)\b",
    r"\b(?:views?|reads?|downloads?|visits?|visitors?|hits)\s*:\s*\d[\d,.]*",
    r"(?:©|\(c\)|copyright)\s*\d{4}(?:\s*[-–]\s*\d{4})?",
    r"\b[0-9a-f]{32,}\b",
)), re.IGNORECASE)

# Dates and times: noise when they stamp the page ("Last updated: ...", a clock, a date
# line), content when they are part of a sentence ("Regulation ... of 13 June 2024").
_STAMPS = re.compile("|".join(f"(?:{p})" for p in (
    rf"\b\d{{4}}-\d{{2}}-\d{{2}}(?:[t ]{_TIME})?",
    r"\b\d{4}/\d{1,2}/\d{1,2}\b",
    r"\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b",
    rf"\b(?:(?:{_WEEKDAYS})\b\.?,?\s+)?{_DAY}\s+(?:de\s+)?(?:{_MONTHS})\b\.?"
    rf"(?:,?\s+(?:de\s+)?{_YEAR})?(?:,?\s+(?:at\s+|à\s+)?{_TIME})?",
    rf"\b(?:(?:{_WEEKDAYS})\b\.?,?\s+)?(?:{_MONTHS})\b\.?\s+{_DAY}"
    rf"(?:,?\s+{_YEAR})?(?:,?\s+(?:at\s+)?{_TIME})?",
    rf"\b(?:{_WEEKDAYS})\b\.?,?",
    rf"\b{_TIME}",
    r"\b(?:yesterday|today)\b",
)), re.IGNORECASE)
_STAMP_CONTEXT = re.compile(
    r"\b(?:updated|modified|posted|generated|retrieved|accessed|printed|as of|as at|"
    r"current(?:ly)?|today is|mis à jour|actualizado)\b",
    re.IGNORECASE,
)
# A stamped line with at most this many other words is a date line, not a sentence.
_STAMP_LINE_WORDS = 3
MASK = "\u2022"  # what a masked stamp becomes: visible in previews, equal everywhere
# Seconds the date filter may spend on one comparison (the diff has its own deadline).
NORMALIZE_BUDGET = 0.08


# A link w3lib would give back unchanged: lower-case host, a valid port, a path of
# characters it never escapes, no dot segment, no query, fragment or ";" session.
_CANONICAL_ALREADY = re.compile(
    r"https?://[a-z0-9.-]+(?::(0|[1-9][0-9]{0,4}))?(/[A-Za-z0-9._~!$&'()*+,=:@/-]*)?\Z")


@lru_cache(maxsize=32768)
def normalize_url(url: str) -> str:
    """Canonical form of a link: no fragment, no session ids or cache busters, sorted query."""
    simple = _CANONICAL_ALREADY.match(url)
    if simple is not None and "/." not in url and int(simple.group(1) or 0) <= 65535:
        # Most links of official sites; w3lib takes 30 us for each (tested to agree).
        return url if simple.group(2) else url + "/"
    return _canonical(url)


def _canonical(url: str) -> str:
    from w3lib.url import canonicalize_url  # 25 ms to import, needed once links are read

    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    kept = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _volatile_param(key, value)
    ]
    path = _PATH_SESSION.sub("", parts.path)
    cleaned = urlunsplit((parts.scheme, parts.netloc, path, urlencode(kept), ""))
    try:
        return canonicalize_url(cleaned)
    except ValueError:  # a port that is not a number, or out of range: keep it as written
        return cleaned


def _volatile_param(key: str, value: str) -> bool:
    name = key.lower()
    if name in ALWAYS_VOLATILE_PARAMS:
        return True
    return name in STAMP_PARAMS and bool(_STAMP_VALUE.match(value))


# Cheap tests that rule a line out before the expensive patterns run: every _ALWAYS
# pattern needs one of these substrings (or a long hex run), and a date stamp needs a digit
# or a day word. Most lines of a page fail them, which keeps a 1 MB page well under 100 ms.
_ALWAYS_HINTS = ("ago", "now", "view", "read", "download", "visit", "hit", "share", "like",
                 "©", "(c)", "copyright")
_HEX_RUN = re.compile(r"[0-9a-f]{32}", re.IGNORECASE)
_DIGIT = re.compile(r"\d")
_DAY_WORDS = (*_WEEKDAY_NAMES, "yesterday", "today")
# Longer lines are sentences: a stamp there only counts with a stamp word ("updated ...").
_STAMP_MAX_SPACES = 12


@lru_cache(maxsize=16384)
def mask_volatile(line: str) -> str:
    """Mask what changes by itself: counters, relative times, tokens, and date stamps."""
    lower = line.lower()
    has_digit = _DIGIT.search(line) is not None
    if (has_digit and (any(h in lower for h in _ALWAYS_HINTS) or _HEX_RUN.search(line))) or (
        "just now" in lower
    ):
        line = _ALWAYS.sub(MASK, line)
    long = line.count(" ") > _STAMP_MAX_SPACES
    if not has_digit:
        # Without a digit only a day word can be a stamp, and only in a short line.
        if long or not any(day in lower for day in _DAY_WORDS):
            return line
    elif long and not _STAMP_CONTEXT.search(line):
        return line
    stamped = _STAMPS.sub(MASK, line)
    if stamped == line:
        return line
    words = [w for w in stamped.replace(MASK, " ").split() if any(c.isalnum() for c in w)]
    if len(words) <= _STAMP_LINE_WORDS or _STAMP_CONTEXT.search(line):
        return stamped
    return line


def apply_ignores(line: str, patterns: Sequence[re.Pattern[str]]) -> str:
    for pattern in patterns:
        line = pattern.sub("", line)
    return line.strip()


@dataclass(frozen=True, slots=True)
class ComparablePair:
    old: list[tuple[str, str]]
    new: list[tuple[str, str]]
    #: False when the date filter ran out of time and left some lines unmasked.
    complete: bool = True


def comparable_pair(
    old: Sequence[str], old_noise: Iterable[str], new: Sequence[str], new_noise: Iterable[str],
    *, ignore: Sequence[re.Pattern[str]] = (), filter_dates: bool = True,
    budget: float | None = None,
) -> ComparablePair:
    """Both versions' comparable lines, masking only lines that are not on both sides.

    A line present verbatim in both versions compares equal whatever the mask would make
    of it, so only the lines that differ pay for the date filter: the cost follows the
    size of the change, not the size of the page. Past ``budget`` seconds the remaining
    lines are compared as they are (coarser: a stamp may then show as a change).
    """
    unchanged = set(old) & set(new)
    deadline = time.perf_counter() + budget if budget is not None else None
    old_lines = comparable_lines(old, old_noise, ignore=ignore, filter_dates=filter_dates,
                                 verbatim=unchanged, deadline=deadline)
    new_lines = comparable_lines(new, new_noise, ignore=ignore, filter_dates=filter_dates,
                                 verbatim=unchanged, deadline=deadline)
    complete = deadline is None or time.perf_counter() < deadline
    return ComparablePair(old_lines, new_lines, complete)


def comparable_lines(
    lines: Iterable[str],
    noise: Iterable[str] = (),
    *,
    ignore: Sequence[re.Pattern[str]] = (),
    filter_dates: bool = True,
    verbatim: set[str] | frozenset[str] = frozenset(),
    deadline: float | None = None,
) -> list[tuple[str, str]]:
    """``(key, original)`` per line that counts; lines equal by key are the same line.

    ``noise`` lines (from volatile or ignored regions) are removed once each; ``ignore``
    patterns delete what they match; the date filter masks stamps; lines left empty drop.
    """
    to_drop = Counter(noise)
    result = []
    for number, line in enumerate(lines):
        if deadline is not None and number % 256 == 255 and time.perf_counter() > deadline:
            filter_dates = False
        if to_drop[line] > 0:
            to_drop[line] -= 1
            continue
        key = apply_ignores(line, ignore) if ignore else line
        if filter_dates and line not in verbatim:
            key = mask_volatile(key)
        if key.strip(MASK + " .,:;|-–—/()[]"):
            result.append((key, line))
    return result


def compile_ignores(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)
