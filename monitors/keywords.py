"""Keyword focus for broad sources: whole-word, case-insensitive matching."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence


def keyword_pattern(words: Sequence[str]) -> re.Pattern[str] | None:
    """One pattern matching any of ``words`` as whole words ("AI" does not match "said")."""
    if not words:
        return None
    alternatives = "|".join(re.escape(w.strip()) for w in words if w.strip())
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def focused(texts: Iterable[str], keywords: Sequence[str], exclude: Sequence[str]) -> bool:
    """True when the texts match a keyword (or none is set) and no excluded keyword."""
    joined = "\n".join(texts)
    wanted, unwanted = keyword_pattern(keywords), keyword_pattern(exclude)
    if unwanted is not None and unwanted.search(joined):
        return False
    return wanted is None or wanted.search(joined) is not None
