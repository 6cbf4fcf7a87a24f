"""The one sanitising step for fetched text before it reaches any output.

Everything fetched is untrusted, and so is everything made from it: a change's summary, a
document title, an error that quotes a server. Before such text is printed, logged, mailed
or written into a feed it goes through :func:`clean_text` (text of several lines: a diff,
extracted text) or :func:`clean_line` (one line: a title, a summary, a subject, a URL).
Both are pure and total: any string in, a safe string out.

- Terminal escape sequences are removed whole: CSI (colours, cursor moves), OSC (window
  titles, OSC 8 hyperlinks), DCS/SOS/PM/APC strings and the two-character escapes.
- Every other control character (C0 but tab and newline, DEL, C1) and every character
  XML 1.0 forbids (lone surrogates, U+FFFE, U+FFFF) becomes U+FFFD, so the reader sees
  that something was there. The result is legal XML character data.
- Line breaks (CR LF, CR, NEL, U+2028, U+2029) become ``\\n``; :func:`clean_line` folds
  every run of whitespace, newlines included, into one space, so a title cannot start a
  line of its own (``ERROR a/fake: forged line`` in what cron mails).
- Bidirectional embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069) are
  shown, not obeyed: ``[U+202E]`` (no ``<``, so the marker is safe unescaped in HTML and
  XML too and the whole of a rendered message can pass through here). The marks U+200E,
  U+200F and U+061C stay: they reorder no run of text and right-to-left sources use them.
- :func:`clean_line` clips to :data:`LINE_LIMIT` characters, the last one an ellipsis.
"""

from __future__ import annotations

import re

#: Characters of a single-line field (title, summary, subject) in any output.
LINE_LIMIT = 300
ELLIPSIS = "…"
REPLACEMENT = "\ufffd"

_STRING_END = r"(?:\x07|\x1b\\|\x9c)"
# Escape sequences as terminals read them (ECMA-48). A string (OSC, DCS...) is removed only
# with its terminator: unterminated, its introducer alone goes and the rest stays visible.
_ESCAPE = re.compile(
    rf"\x1b[\]PX^_][^\x07\x1b\x9c]*{_STRING_END}"  # OSC, DCS, SOS, PM, APC strings
    rf"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*{_STRING_END}"  # their 8-bit forms
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|\x1b[ -/]*[0-~]"  # every other escape: ESC c, ESC ( B, ESC 7 ...
)
_LINE_BREAK = re.compile("\r\n|[\r\x85\u2028\u2029]")
# Tab and newline are the only controls left in text; XML 1.0 forbids the surrogates,
# U+FFFE and U+FFFF (a Python str can hold them, an XML writer refuses them).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Any character one of the steps below would change: most text has none and is let through
# after this one scan (a megabyte of text in a few milliseconds).
_SUSPECT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                      "\ud800-\udfff\ufffe\uffff]")
# What a JSON line may carry raw and a terminal still obeys (json escapes C0 itself), and
# the noncharacters U+FFFE and U+FFFF, which no output may carry raw.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
                          "\ufffe\uffff]")


def visible_bidi(text: str) -> str:
    """Bidirectional controls as visible markers: ``[U+202E]``."""
    return _BIDI.sub(lambda match: f"[U+{ord(match.group()):04X}]", text)


def clean_text(value: object) -> str:
    """Text of several lines, safe for a terminal, a log, XML and HTML (``None``: empty)."""
    text = "" if value is None else value if isinstance(value, str) else str(value)
    if not _SUSPECT.search(text):
        return text
    text = _ESCAPE.sub("", text)
    text = _LINE_BREAK.sub("\n", text)
    text = _CONTROL.sub(REPLACEMENT, text)
    return visible_bidi(text)


def clip(text: str, limit: int | None = LINE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, the last an ellipsis (``None``: no limit)."""
    if limit is None or len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + ELLIPSIS


def clean_line(value: object, limit: int | None = LINE_LIMIT) -> str:
    """One line: :func:`clean_text`, whitespace folded to single spaces, then clipped."""
    return clip(" ".join(clean_text(value).split()), limit)


def terminal_json(serialised: str) -> str:
    """A JSON text with what a terminal would obey escaped as ``\\uXXXX``: the same data.

    ``json.dumps`` escapes C0 itself; with ``ensure_ascii=False`` it leaves C1 controls
    (an 8-bit CSI), line separators and bidirectional controls raw. Outside strings JSON
    is ASCII, so every match is inside a string, where the escape is legal.
    """
    return _JSON_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", serialised)
