"""How many bytes of response bodies a run holds in memory at once.

Every fetch may read up to its ``max_bytes`` (20 MB by default), and a cycle runs up to
``concurrency`` fetches at once: ten gzip bombs read side by side held 400 MB before each
one reached its cap. Two rules keep that bounded:

- **While reading**, a body stays in memory up to ``SMALL_BODY`` (1 MB) and goes on to a
  temporary file past that (``tempfile.SpooledTemporaryFile``). A body that turns out too
  large, or breaks off, never cost more than a megabyte of memory.
- **Once read**, a large body is loaded into memory only with a share of a pool of
  ``LARGE_POOL`` bytes, held until its check is stored (the scope that ``check`` opens
  around one check). A body larger than the whole pool waits for all of it.

No deadlock: a check waits for the pool only after its fetch has ended (it holds no
connection, host slot or fetch slot), and a check that already holds a share (a capture
of new documents inside the same check) takes more without waiting. Small bodies are not
pooled: a page under a megabyte is most of what a cycle fetches, and their count in
flight is bounded by the cycle itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from tempfile import SpooledTemporaryFile

SMALL_BODY = 1_000_000
# Just above the default max_bytes (20 MB): one such body at a time. Each costs its worker
# about 140 MB while parsed, so 64 MB (three at once) took a hostile run to 459 MB.
LARGE_POOL = 24_000_000


@dataclass
class _Holding:
    """What the current check holds of the pool."""

    large: int = 0


_current: ContextVar[_Holding | None] = ContextVar("govwatch_body_holding", default=None)


class Spool:
    """A body being read: in memory up to SMALL_BODY, then in a temporary file."""

    def __init__(self) -> None:
        self._file = SpooledTemporaryFile(max_size=SMALL_BODY)  # noqa: SIM115 - closed by close()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self.size += len(chunk)

    def read(self) -> bytes:
        self._file.seek(0)
        return self._file.read()

    def close(self) -> None:
        self._file.close()


class BodyPool:
    """The pool of memory for large bodies, shared by the checks of one fetcher."""

    def __init__(self, size: int = LARGE_POOL) -> None:
        self.size = size
        self.free = size
        self._waiters: list[asyncio.Future[None]] = []

    @asynccontextmanager
    async def check(self) -> AsyncIterator[None]:
        """One check's scope: whatever it takes from the pool goes back when it ends."""
        if _current.get() is not None:  # already inside a check's scope
            yield
            return
        holding = _Holding()
        token = _current.set(holding)
        try:
            yield
        finally:
            _current.reset(token)
            self._give_back(holding.large)

    async def load(self, spool: Spool) -> bytes:
        """The body in memory, once the pool has room for it (if it is large)."""
        holding = _current.get()
        if spool.size <= SMALL_BODY or holding is None:
            return spool.read()
        share = min(spool.size, self.size)
        if not holding.large:
            while self.free < share:
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                try:
                    await waiter
                finally:
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)
        # A check that already holds a share (a capture) may overdraw: waiting here while
        # holding could wait on itself.
        self.free -= share
        holding.large += share
        return spool.read()

    def _give_back(self, amount: int) -> None:
        if not amount:
            return
        self.free += amount
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
