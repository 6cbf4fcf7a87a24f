"""The sanitising step (core/sanitise.py): tables of hostile text, random control
characters (hypothesis), and the log formatter that applies it."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import etree

from core.sanitise import LINE_LIMIT, clean_line, clean_text, terminal_json
from pipeline.logs import JsonFormatter, PlainFormatter

FFFD = "\ufffd"
OSC8 = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"

TEXT_CASES = [
    ("plain text", "plain text"),
    ("tab\tand\nnewline", "tab\tand\nnewline"),
    ("A\x01B", f"A{FFFD}B"),
    ("NUL\x00", f"NUL{FFFD}"),
    ("bell\x07", f"bell{FFFD}"),
    ("DEL\x7f", f"DEL{FFFD}"),
    ("\x1b[31mred\x1b[0m", "red"),
    ("\x1b[1;31;48;5;200mbold", "bold"),
    ("\x1b[2J\x1b[Hcleared", "cleared"),
    (OSC8, "click"),
    ("\x1b]0;owned window\x07after", "after"),
    ("\x1b]2;title\x1b\\after", "after"),
    ("\x1bP+q\x1b\\dcs", "dcs"),
    ("\x1bcreset", "reset"),
    ("\x1b(Bcharset", "charset"),
    ("\x9b31m8-bit CSI", "8-bit CSI"),
    ("\x9d0;title\x9cafter", "after"),
    ("C1 \x85NEL", "C1 \nNEL"),
    ("C1 \x90 \x9f", f"C1 {FFFD} {FFFD}"),
    ("lone ESC\x1b", f"lone ESC{FFFD}"),
    ("\x1b]0;unterminated title", "0;unterminated title"),
    ("\x1b\x1b[31m[31m", f"{FFFD}[31m"),  # what removing one sequence leaves cannot act
    ("a\r\nb\rc\u2028d\u2029e", "a\nb\nc\nd\ne"),
    ("form\x0cfeed\x0bvtab", f"form{FFFD}feed{FFFD}vtab"),
    ("\u202egnp.exe", "[U+202E]gnp.exe"),
    ("\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069",
     "[U+202A][U+202B][U+202C][U+202D][U+2066][U+2067][U+2068][U+2069]"),
    ("mark\u200eleft\u200fright\u061c", "mark\u200eleft\u200fright\u061c"),
    ("surrogate \ud800 and \ufffe \uffff", f"surrogate {FFFD} and {FFFD} {FFFD}"),
    ("日本語 émigré ﷐ 😀", "日本語 émigré ﷐ 😀"),
    (None, ""),
    (42, "42"),
]

LINE_CASES = [
    ("title\nERROR a/fake: forged line", "title ERROR a/fake: forged line"),
    ("  spaced \t out \r\n ", "spaced out"),
    ("a\u2028b\x85c", "a b c"),
    ("x" * LINE_LIMIT, "x" * LINE_LIMIT),
    ("x" * (LINE_LIMIT + 1), "x" * (LINE_LIMIT - 1) + "…"),
    ("\x1b[31m" + "y" * LINE_LIMIT, "y" * LINE_LIMIT),  # clipped after, not before, cleaning
    (None, ""),
]


@pytest.mark.parametrize(("raw", "expected"), TEXT_CASES)
def test_clean_text(raw: object, expected: str) -> None:
    assert clean_text(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), LINE_CASES)
def test_clean_line(raw: object, expected: str) -> None:
    assert clean_line(raw) == expected


def test_a_20_kb_line_is_clipped_to_the_limit_or_kept_whole_without_one() -> None:
    long = " ".join(f"word{i}" for i in range(2500))
    assert len(long) > 20_000
    clipped = clean_line(long)
    assert len(clipped) == LINE_LIMIT and clipped.endswith("…") and long.startswith(clipped[:-1])
    assert clean_line(long, 40) == long[:39] + "…"
    assert clean_line(long, None) == long


# Every character that matters here, and any other character, in any mix.
SPECIAL = list("\x1b[]\\;0m8PX^_\x07\x9b\x9c\x9d\x90\r\n\t\x85\x0b\x0c \u2028\u2029\u202e"
               "\u2066\u200f\ud800\udfff\ufffe\uffff\x00\x01\x7f")
HOSTILE = st.text(st.sampled_from(SPECIAL) | st.characters(min_codepoint=0), max_size=80)
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                    "\ud800-\udfff\ufffe\uffff]")


@settings(max_examples=400, deadline=None)
@given(HOSTILE)
def test_clean_text_leaves_nothing_a_terminal_or_xml_writer_would_act_on(raw: str) -> None:
    cleaned = clean_text(raw)
    assert not UNSAFE.search(cleaned), repr(cleaned)
    assert clean_text(cleaned) == cleaned  # a second pass changes nothing
    element = etree.Element("title")
    element.text = cleaned  # lxml (under feedgen) refuses what XML 1.0 forbids
    assert etree.fromstring(etree.tostring(element, encoding="utf-8")).text in (cleaned, None)


@settings(max_examples=400, deadline=None)
@given(HOSTILE, st.one_of(st.none(), st.integers(1, 400)))
def test_clean_line_is_one_clipped_line(raw: str, limit: int | None) -> None:
    line = clean_line(raw, limit)
    assert "\n" not in line and "\t" not in line and not UNSAFE.search(line)
    assert line == line.strip()
    if limit is not None:
        assert len(line) <= limit
    assert clean_line(line, limit) == line


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=5), HOSTILE, max_size=4))
@example({"\ufffe": "\uffff"})  # found by hypothesis: the noncharacters went out raw
def test_terminal_json_is_the_same_data_with_nothing_raw(data: dict[str, str]) -> None:
    text = terminal_json(json.dumps(data, ensure_ascii=False))
    assert not UNSAFE.search(text)
    assert json.loads(text) == data


def test_plain_text_is_left_as_it_is() -> None:
    text = "Call for experts on AI incidents\n\tDeadline: 1 March (Ü, 日本, 😀)"
    assert clean_text(text) == text


# -- the log formatters --------------------------------------------------------------------
def formatted(formatter: logging.Formatter, message: str, *args: object,
              error: BaseException | None = None) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("govwatch.test.sanitise")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        if error is None:
            logger.warning(message, *args)
        else:
            try:
                raise error
            except type(error):
                logger.exception(message, *args)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_a_plain_log_record_is_one_line_whatever_it_quotes() -> None:
    output = formatted(PlainFormatter("%(levelname)s %(name)s: %(message)s"),
                       "fetched %s", "title\x1b]0;owned\x07\nERROR a/fake: forged line\u202e")
    assert output == ("WARNING govwatch.test.sanitise: fetched title ERROR a/fake: forged line"
                      "[U+202E]\n")


def test_a_traceback_is_indented_under_its_record() -> None:
    output = formatted(PlainFormatter("%(levelname)s: %(message)s"), "failed",
                       error=ValueError("bad\nERROR a/fake: forged line\x1b[2J"))
    lines = output.splitlines()
    assert lines[0] == "ERROR: failed"
    assert all(line.startswith("    ") for line in lines[1:]) and len(lines) > 2, output
    assert "\x1b" not in output


def test_a_json_log_record_escapes_what_a_terminal_would_obey() -> None:
    output = formatted(JsonFormatter(), "fetched %s", "\x9b2J\u202eevil\u2028x")
    assert "\x9b" not in output and "\u202e" not in output and "\u2028" not in output
    assert output.count("\n") == 1
    assert json.loads(output)["message"] == "fetched \x9b2J\u202eevil\u2028x"
