"""The progress bar of an interactive ``govwatch run``; silent when output is not a TTY."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

Advance = Callable[[Any], None]


def interactive() -> bool:
    """Both streams on a terminal: a person is watching, not cron or a pipe."""
    return sys.stdout.isatty() and sys.stderr.isatty()


@contextmanager
def progress(total: int, label: str = "checking") -> Iterator[Advance]:
    """Yields a callback to call once per finished check; draws a bar on stderr if wanted."""
    if total == 0 or not interactive():
        yield lambda _item: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr,
                           show_pos=True, show_eta=False) as bar:
        yield lambda _item: bar.update(1)
