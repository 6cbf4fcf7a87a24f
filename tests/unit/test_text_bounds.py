"""Bounds on the text work of a comparison: folding whitespace, reading clocks, showing
long lines. A page that is one 20 MB paragraph of dates must cost seconds and a bounded
amount of memory, and say where it was read coarsely."""

from __future__ import annotations

from datetime import UTC, datetime

from monitors.clocks import CLOCK, ClockBudget, fold, mask_clocks
from monitors.diffing import MAX_SHOWN_LINE, diff_lines

AT = datetime(2026, 12, 7, 2, 45, 44, tzinfo=UTC)


def test_fold_is_split_and_join_for_long_and_short_lines() -> None:
    piece = "a  b\tc\u00a0d\n e\x1cf  "
    for line in (piece, " " + piece * 3, piece * 200_000, "plain words only", ""):
        assert fold(line) == " ".join(line.split())


def test_clocks_are_read_within_a_budget_then_compared_as_written() -> None:
    stamp = "2026-12-07 02:45:45"
    line = " ".join([stamp] * 50)
    assert mask_clocks(line, AT) == " ".join([CLOCK] * 50)
    budget = ClockBudget(spans=30)
    masked = mask_clocks(line, AT, budget)
    assert budget.spent
    assert 0 < masked.count(CLOCK) < 50
    assert masked.endswith(stamp) and masked.replace(CLOCK, stamp) == line


def test_a_time_with_an_impossible_offset_is_text_not_a_crash() -> None:
    # dateutil reads "+9999" as an offset of 99 hours, which no datetime accepts.
    assert mask_clocks("12:30 +9999 and 02:45 -4567", AT) == "12:30 +9999 and 02:45 -4567"


def test_lines_past_the_shown_length_are_clipped_and_the_diff_says_so() -> None:
    old, new = "x " * MAX_SHOWN_LINE, "y " * MAX_SHOWN_LINE
    diff = diff_lines([("k1", "short"), ("a", old)], [("k1", "short"), ("b", new)])
    assert diff.clipped
    assert diff.removed == (old[:MAX_SHOWN_LINE] + f" … [line clipped: {len(old):,} "
                            "characters]",)
    assert len(diff.unified) < 3 * MAX_SHOWN_LINE
    assert not diff_lines([("a", "one")], [("b", "two")]).clipped
