"""Pure, time-bounded diffs shared by the monitor kinds.

Line diffs run Myers' algorithm (fast-diff-match-patch, C++) over lines mapped to single
characters, with a time limit: past it the library returns a coarser but still correct
edit script, and the result says so (``coarse``). Lines are compared by a *key* (the
normalized line) and shown as the original text, so a masked date never shows up as a
change while a real change is shown as the page says it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import fast_diff_match_patch as dmp

DEFAULT_DEADLINE = 0.05  # seconds for the line diff; benchmarks/diff.py measures the tail
INLINE_DEADLINE = 0.01  # seconds per word-level run: the inline view is a preview
_INLINE_RUN_LINES = 40  # lines per side of one changed run shown word by word
_FIRST_CODE = 0xE000  # past the surrogates; leaves about a million distinct lines
_LAST_CODE = 0x10FFFF
_INLINE_MAX_CHARS = 4000
#: A changed line is shown (in the diff and the change's lists) up to this many
#: characters: a page that is one 20 MB paragraph would otherwise be stored, mailed and
#: held in memory several times over. Lines are still compared whole.
MAX_SHOWN_LINE = 20_000

Line = tuple[str, str]  # (comparison key, original text)


@dataclass(frozen=True, slots=True)
class LineDiff:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    unified: str
    inline: str
    coarse: bool
    #: Lines longer than MAX_SHOWN_LINE were shown clipped.
    clipped: bool = False
    #: Each run of changed lines between equal ones: (removed, added), as shown.
    runs: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)


def _encode(sequences: Sequence[Sequence[str]]) -> list[str] | None:
    codes: dict[str, str] = {}
    encoded = []
    for sequence in sequences:
        chars = []
        for item in sequence:
            code = codes.get(item)
            if code is None:
                if _FIRST_CODE + len(codes) > _LAST_CODE:
                    return None
                code = codes[item] = chr(_FIRST_CODE + len(codes))
            chars.append(code)
        encoded.append("".join(chars))
    return encoded


def edit_script(
    old: Sequence[str], new: Sequence[str], deadline: float = DEFAULT_DEADLINE
) -> tuple[list[tuple[str, int]], bool]:
    """``[(op, count)]`` with op in ``= - +`` turning ``old`` into ``new``; and ``coarse``."""
    if list(old) == list(new):
        return ([("=", len(old))] if old else []), False
    encoded = _encode([old, new])
    if encoded is None:  # more distinct items than characters: replace everything
        return [("-", len(old)), ("+", len(new))], True
    a, b = encoded
    started = time.perf_counter()
    ops = dmp.diff(a, b, timelimit=deadline, cleanup="No", counts_only=True)
    coarse = time.perf_counter() - started >= deadline
    return [(op, count) for op, count in ops if count], coarse


def diff_lines(
    old: Sequence[Line], new: Sequence[Line], *, context: int = 2,
    deadline: float = DEFAULT_DEADLINE, ordered: bool = True,
) -> LineDiff:
    """Diff two keyed line lists; the views show original text. Unless ``ordered``, a
    line that only moved (removed at one place, the same key added at another) is no
    change and is not shown: a list served in another order around a real edit leaves
    the edit alone."""
    ops, coarse = edit_script([k for k, _ in old], [k for k, _ in new], deadline)
    full_old, full_new = old, new
    if any(len(text) > MAX_SHOWN_LINE for _, text in (*old, *new)):
        old, new = [(k, _clip(t)) for k, t in old], [(k, _clip(t)) for k, t in new]
    # Expand to one row per line: (op, old index or None, new index or None).
    rows: list[tuple[str, int | None, int | None]] = []
    i = j = 0
    for op, count in ops:
        for _ in range(count):
            if op == "=":
                rows.append(("=", i, j))
                i, j = i + 1, j + 1
            elif op == "-":
                rows.append(("-", i, None))
                i += 1
            else:
                rows.append(("+", None, j))
                j += 1
    if not ordered:
        rows = _without_moves(rows, old, new)
    removed = [old[i][1] for op, i, _ in rows if op == "-" and i is not None]
    added = [new[j][1] for op, _, j in rows if op == "+" and j is not None]
    clipped = any(len(full_old[i][1]) > MAX_SHOWN_LINE for op, i, _ in rows
                  if op == "-" and i is not None) or any(
        len(full_new[j][1]) > MAX_SHOWN_LINE for op, _, j in rows if op == "+" and j is not None)
    unified = _unified(rows, old, new, context)
    inline = _inline(rows, old, new) if (added or removed) else ""
    return LineDiff(tuple(added), tuple(removed), unified, inline, coarse, clipped,
                    _runs(rows, old, new))


def _without_moves(rows: list[tuple[str, int | None, int | None]], old: Sequence[Line],
                   new: Sequence[Line]) -> list[tuple[str, int | None, int | None]]:
    """``rows`` without the lines that only moved: as many removals and additions of one
    key as it has of both, the first ones of each."""
    gone = Counter(old[i][0] for op, i, _ in rows if op == "-" and i is not None)
    came = Counter(new[j][0] for op, _, j in rows if op == "+" and j is not None)
    moved = gone & came
    if not moved:
        return rows
    unmatched = {"-": Counter(moved), "+": Counter(moved)}
    kept: list[tuple[str, int | None, int | None]] = []
    for row in rows:
        op, i, j = row
        key = old[i][0] if op == "-" and i is not None else (
            new[j][0] if op == "+" and j is not None else None)
        if key is not None and unmatched[op][key] > 0:
            unmatched[op][key] -= 1
            continue
        kept.append(row)
    return kept


def _runs(rows: list[tuple[str, int | None, int | None]], old: Sequence[Line],
          new: Sequence[Line]) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    runs: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    run_old: list[str] = []
    run_new: list[str] = []
    for op, i, j in [*rows, ("=", None, None)]:
        if op == "-" and i is not None:
            run_old.append(old[i][1])
        elif op == "+" and j is not None:
            run_new.append(new[j][1])
        elif run_old or run_new:
            runs.append((tuple(run_old), tuple(run_new)))
            run_old, run_new = [], []
    return tuple(runs)


def _clip(text: str) -> str:
    if len(text) <= MAX_SHOWN_LINE:
        return text
    return f"{text[:MAX_SHOWN_LINE]} … [line clipped: {len(text):,} characters]"


def _hunks(
    rows: list[tuple[str, int | None, int | None]], context: int
) -> list[tuple[int, int]]:
    """Row ranges [start, end) around changed rows, merged when their context touches."""
    changed = [n for n, row in enumerate(rows) if row[0] != "="]
    hunks: list[tuple[int, int]] = []
    for n in changed:
        start, end = max(0, n - context), min(len(rows), n + context + 1)
        if hunks and start <= hunks[-1][1]:
            hunks[-1] = (hunks[-1][0], max(hunks[-1][1], end))
        else:
            hunks.append((start, end))
    return hunks


def _unified(
    rows: list[tuple[str, int | None, int | None]],
    old: Sequence[Line], new: Sequence[Line], context: int,
) -> str:
    hunks = _hunks(rows, context)
    if not hunks:
        return ""
    out = ["--- before", "+++ after"]
    for start, end in hunks:
        part = rows[start:end]
        old_rows = [r for r in part if r[1] is not None]
        new_rows = [r for r in part if r[2] is not None]
        old_start = (old_rows[0][1] or 0) + 1 if old_rows else _position(rows, start, 1)
        new_start = (new_rows[0][2] or 0) + 1 if new_rows else _position(rows, start, 2)
        out.append(f"@@ -{old_start},{len(old_rows)} +{new_start},{len(new_rows)} @@")
        for op, i, j in part:
            if op == "+" and j is not None:
                out.append("+" + new[j][1])
            elif op == "-" and i is not None:
                out.append("-" + old[i][1])
            elif i is not None:
                out.append(" " + old[i][1])
    return "\n".join(out)


def _position(rows: list[tuple[str, int | None, int | None]], start: int, side: int) -> int:
    """Line number before which an empty side of a hunk sits (unified diff convention)."""
    for row in reversed(rows[:start]):
        index = row[side]
        if isinstance(index, int):
            return index + 1
    return 0


def _inline(
    rows: list[tuple[str, int | None, int | None]],
    old: Sequence[Line], new: Sequence[Line],
) -> str:
    """Word-level view of each run of changed lines: ``[-old words-]{+new words+}``.

    It is a preview, cut at a few thousand characters, so only as much is diffed as can
    be shown: a rewritten 1 MB page costs no more than a changed paragraph.
    """
    pieces: list[str] = []
    size = 0
    run_old: list[str] = []
    run_new: list[str] = []

    def flush() -> None:
        nonlocal size
        if run_old or run_new:
            # The preview shows a few thousand characters: only as many are diffed.
            piece = word_diff(" ".join(run_old[:_INLINE_RUN_LINES])[:_INLINE_MAX_CHARS * 2],
                              " ".join(run_new[:_INLINE_RUN_LINES])[:_INLINE_MAX_CHARS * 2],
                              INLINE_DEADLINE)
            pieces.append(piece)
            size += len(piece)
            run_old.clear()
            run_new.clear()

    for op, i, j in rows:
        if size > _INLINE_MAX_CHARS:
            break
        if op == "-" and i is not None:
            run_old.append(old[i][1])
        elif op == "+" and j is not None:
            run_new.append(new[j][1])
        else:
            flush()
    flush()
    text = "\n".join(pieces)
    return text if len(text) <= _INLINE_MAX_CHARS else text[:_INLINE_MAX_CHARS] + " …"


WordSegment = tuple[str, str]  # (op, words) with op in ``= - +``; ``…`` stands for cut words


def word_segments(
    old: str, new: str, deadline: float = DEFAULT_DEADLINE, *, context: int | None = None
) -> list[WordSegment]:
    """The word-level edit of ``old`` into ``new`` as runs of kept, removed and added words.

    With ``context``, a kept run longer than that many words on each side of a change is
    cut to them around an ellipsis: a one-word edit of a long summary stays one line.
    """
    old_words, new_words = old.split(), new.split()
    ops, _ = edit_script(old_words, new_words, deadline)
    out: list[WordSegment] = []
    i = j = 0
    for position, (op, count) in enumerate(ops):
        if op == "=":
            kept = old_words[i:i + count]
            i += count
            j += count
            if context is not None:
                kept = _around_changes(kept, context, first=position == 0,
                                       last=position == len(ops) - 1)
            if kept:
                out.append(("=", " ".join(kept)))
        elif op == "-":
            out.append(("-", " ".join(old_words[i:i + count])))
            i += count
        else:
            out.append(("+", " ".join(new_words[j:j + count])))
            j += count
    return out


def _around_changes(kept: list[str], context: int, *, first: bool, last: bool) -> list[str]:
    """The words of a kept run that touch a change: ``context`` after the change before it
    (none for the first run), ``context`` before the next one (none for the last run)."""
    if first and last:  # nothing changed: nothing to cut around
        return kept
    head = [] if first else kept[:context]
    tail = [] if last or context == 0 else kept[-context:]
    if len(head) + len(tail) >= len(kept):
        return kept
    return [*head, "…", *tail]


def word_diff(
    old: str, new: str, deadline: float = DEFAULT_DEADLINE, *, context: int | None = None
) -> str:
    """``old`` turned into ``new`` word by word, written ``kept [-removed-] {+added+}``."""
    return format_words(word_segments(old, new, deadline, context=context))


def format_words(segments: Sequence[WordSegment]) -> str:
    marks = {"=": ("", ""), "-": ("[-", "-]"), "+": ("{+", "+}")}
    return " ".join(marks[op][0] + text + marks[op][1] for op, text in segments)


def plain_lines(text: str) -> list[Line]:
    return [(line, line) for line in text.splitlines()]


def unified_text_diff(old: str, new: str, *, context: int = 2) -> str:
    """Line-level unified diff of two texts, empty when they are equal."""
    return diff_lines(plain_lines(old), plain_lines(new), context=context).unified


def count_changed_lines(diff: str) -> tuple[int, int]:
    """Lines added and removed in a unified diff (headers excluded)."""
    added = removed = 0
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed
