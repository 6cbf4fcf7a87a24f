"""A stored unified diff as the site shows it: hunks of lines, and each run of changed
lines word by word (removed and added words as segments the template marks up).

Pure functions of the stored diff: no content is decompressed to draw a change page.
Everything here is fetched text; the templates escape it.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitors.diffing import INLINE_DEADLINE, WordSegment, word_segments

#: Lines per side of one changed run diffed word by word; longer runs are shown as lines.
RUN_LINES = 200
#: Characters of diff shown on a page; the rest is cut with a note (a rewritten 5 MB page
#: would otherwise make a 5 MB change page).
MAX_CHARS = 400_000


@dataclass(frozen=True, slots=True)
class DiffLine:
    sign: str  # "+", "-", " " (context) or "@" (a hunk header)
    text: str

    @property
    def css(self) -> str:
        return {"+": "add", "-": "del", "@": "hunk"}.get(self.sign, "ctx")


@dataclass(frozen=True, slots=True)
class InlineBlock:
    """Kept lines (``segments`` of one ``=``), or a changed run as word segments."""

    changed: bool
    segments: tuple[WordSegment, ...]


@dataclass(frozen=True, slots=True)
class DiffView:
    lines: tuple[DiffLine, ...]
    inline: tuple[tuple[InlineBlock, ...], ...]  # one tuple of blocks per hunk
    cut: int  # characters left out of ``lines`` (0: the whole diff is shown)


def diff_lines(diff: str) -> tuple[list[DiffLine], int]:
    """The unified diff's lines without its ``---``/``+++`` header, cut at ``MAX_CHARS``."""
    lines: list[DiffLine] = []
    size = 0
    cut = 0
    for raw in diff.splitlines():
        if raw.startswith(("--- ", "+++ ")) and not lines:
            continue
        if size > MAX_CHARS:
            cut += len(raw) + 1
            continue
        sign = "@" if raw.startswith("@@") else (raw[:1] if raw[:1] in "+-" else " ")
        text = raw if sign == "@" else raw[1:]
        lines.append(DiffLine(sign, text))
        size += len(raw) + 1
    return lines, cut


def _inline_hunk(lines: list[DiffLine]) -> tuple[InlineBlock, ...]:
    blocks: list[InlineBlock] = []
    removed: list[str] = []
    added: list[str] = []

    def flush() -> None:
        if not (removed or added):
            return
        if len(removed) > RUN_LINES or len(added) > RUN_LINES:
            segments: list[WordSegment] = [("-", "\n".join(removed))] if removed else []
            segments += [("+", "\n".join(added))] if added else []
        else:
            segments = word_segments(" ".join(removed), " ".join(added), INLINE_DEADLINE)
        blocks.append(InlineBlock(True, tuple(segments)))
        removed.clear()
        added.clear()

    for line in lines:
        if line.sign == "-":
            removed.append(line.text)
        elif line.sign == "+":
            added.append(line.text)
        else:
            flush()
            blocks.append(InlineBlock(False, (("=", line.text),)))
    flush()
    return tuple(blocks)


def view(diff: str) -> DiffView:
    lines, cut = diff_lines(diff)
    hunks: list[list[DiffLine]] = []
    for line in lines:
        if line.sign == "@" or not hunks:
            hunks.append([])
        if line.sign != "@":
            hunks[-1].append(line)
    inline = tuple(_inline_hunk(hunk) for hunk in hunks if hunk)
    return DiffView(tuple(lines), inline, cut)
