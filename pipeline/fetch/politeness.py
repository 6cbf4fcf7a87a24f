"""Per-host politeness: a concurrency limit and a minimum spacing between request starts.

A host is scheme, name and port (``hosts.host_key``). Limits come from ``defaults`` and
from monitors; when monitors of one host disagree, the most polite setting wins (the
smallest ``per_host``, the longest ``host_delay``), because the host is one server whatever
the monitor that asks.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from pipeline.config import Config
from pipeline.fetch.hosts import host_key


@dataclass(frozen=True, slots=True)
class HostPolicy:
    limit: int
    delay: float  # seconds between the starts of two requests


def host_policies(config: Config) -> dict[str, HostPolicy]:
    policies: dict[str, HostPolicy] = {}
    for _, monitor in config.monitors():
        limit = monitor.per_host or config.defaults.per_host
        delay = (monitor.host_delay or config.defaults.host_delay).total_seconds()
        host = host_key(monitor.url)
        known = policies.get(host)
        if known is not None:
            limit, delay = min(limit, known.limit), max(delay, known.delay)
        policies[host] = HostPolicy(limit, delay)
    return policies


class HostGate:
    """Admits requests per host within its limit, spaced by its delay."""

    def __init__(self, policies: dict[str, HostPolicy], fallback: HostPolicy) -> None:
        self.policies = policies
        self.fallback = fallback
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._spacing: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._last_start: dict[str, float] = {}

    @classmethod
    def from_config(cls, config: Config) -> HostGate:
        fallback = HostPolicy(config.defaults.per_host,
                              config.defaults.host_delay.total_seconds())
        return cls(host_policies(config), fallback)

    def policy(self, host: str) -> HostPolicy:
        return self.policies.get(host, self.fallback)

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        host = host_key(url)
        policy = self.policy(host)
        if host not in self._slots:
            self._slots[host] = asyncio.Semaphore(policy.limit)
        async with self._slots[host]:
            if policy.delay > 0:
                # Holding the lock while sleeping queues later requests behind this one,
                # so starts are spaced by at least ``delay`` even with several slots free.
                async with self._spacing[host]:
                    last = self._last_start.get(host)
                    if last is not None:
                        wait = last + policy.delay - time.monotonic()
                        if wait > 0:
                            await asyncio.sleep(wait)
                    self._last_start[host] = time.monotonic()
            yield
