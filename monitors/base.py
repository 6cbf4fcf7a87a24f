"""The ``Monitor`` base class and the registry of monitor kinds.

A kind is one small subclass that declares ``kind`` and implements two pure functions:
``extract`` (body bytes -> :class:`Extracted`) and ``compare`` (two versions -> a
:class:`Change` or ``None``). Fetching is not a monitor's job: the pipeline's fetch layer
does it for every kind with one shared client, which keeps monitors free of I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from core.records import Change, Extracted, Volatile
from core.registry import register
from monitors.config import MonitorConfig
from monitors.diffing import count_changed_lines, unified_text_diff
from monitors.learning import learn_lines
from monitors.normalize import comparable_pair
from monitors.recurring import carried_lines, recurring_lines, too_edited
from monitors.volatility import NO_NOISE, Noise, words

#: Every subclass by its ``kind``. Look kinds up with ``monitors.monitor_class``, which
#: imports the built-in ones first.
KINDS: dict[str, type[Monitor]] = {}


class Monitor:
    """Base of every monitor kind. Subclasses register themselves by ``kind``."""

    kind: ClassVar[str]
    #: What the fetch layer sends as ``Accept``.
    accept: ClassVar[str] = "*/*"
    #: Config keys that only this kind understands (others reject them).
    own_keys: ClassVar[frozenset[str]] = frozenset()
    #: A sentence for ``check-config`` and the docs.
    description: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        register(KINDS, cls, "kind", "monitor kind")

    def __init__(self, config: MonitorConfig, org_id: str) -> None:
        self.config = config
        self.org_id = org_id

    @property
    def id(self) -> str:
        return self.config.id

    def extract(self, body: bytes, *, content_type: str = "", url: str = "") -> Extracted:
        raise NotImplementedError

    def compare(self, old: Extracted, new: Extracted, noise: Noise = NO_NOISE, *,
                old_at: datetime | None = None, new_at: datetime | None = None
                ) -> Change | None:
        """Default comparison: a difference in the text, after what ``noise`` knows of
        the source and the clocks of each version's fetch time, is a text change."""
        if old.content_hash == new.content_hash:
            return None
        if comparable_pair(old.text.splitlines(), new.text.splitlines(), noise=noise,
                           old_at=old_at, new_at=new_at).same_lines():
            return None
        diff = unified_text_diff(old.text, new.text)
        added, removed = count_changed_lines(diff)
        return Change(
            kind="text", summary=f"{added} line(s) added, {removed} removed", diff=diff
        )

    def learn(self, a: Extracted, b: Extracted, noise: Noise = NO_NOISE,
              at_a: datetime | None = None, at_b: datetime | None = None) -> set[Volatile]:
        """What differs between two copies fetched moments apart: it changes by itself."""
        return learn_lines(a.text.splitlines(), b.text.splitlines(), noise, at_a, at_b)

    def recurring(self, old: Extracted, new: Extracted, change: Change,
                  noise: Noise = NO_NOISE, old_at: datetime | None = None,
                  new_at: datetime | None = None) -> set[Volatile]:
        """The places of a real change that could be slow noise (the words of a line
        changed in place, a list redrawn whole): noted at each check, such a place is
        learned once it changes at nearly every check (``monitors.recurring``)."""
        if too_edited(change.detail):
            return set()
        return recurring_lines(old.text.splitlines(), new.text.splitlines(), noise,
                               old_at, new_at)

    def carried(self, old: Extracted, new: Extracted, noise: Noise = NO_NOISE,
                old_at: datetime | None = None, new_at: datetime | None = None
                ) -> set[Volatile]:
        """What is learned at the lines a real change edited, carried to their new
        wording (``monitors.recurring.carried_lines``)."""
        return carried_lines(old.text.splitlines(), new.text.splitlines(), noise,
                             old_at, new_at)

    def stood(self, before: Extracted) -> frozenset[str]:
        """What a version stored before a difference shows (``Noise.stable``): lines by
        their words."""
        return frozenset(words(line) for line in before.text.splitlines())


def titles_summary(count: int, noun: str, titles: list[str], shown: int = 3) -> str:
    """``"2 new documents: A; B"``, with ``(+N more)`` past ``shown`` titles."""
    more = f" (+{count - shown} more)" if count > shown else ""
    return f"{count} {noun}: {'; '.join(titles[:shown])}{more}"
