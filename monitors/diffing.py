"""Pure diff helpers shared by the monitor kinds."""

from __future__ import annotations

import difflib


def unified_text_diff(old: str, new: str, *, context: int = 2) -> str:
    """Line-level unified diff of two texts, empty when they are equal."""
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), "before", "after", n=context, lineterm=""
    )
    return "\n".join(lines)


def count_changed_lines(diff: str) -> tuple[int, int]:
    """Lines added and removed in a unified diff (headers excluded)."""
    added = removed = 0
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed
