"""The robots.txt cache: one row per host, so a restart does not refetch them all."""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Store


@dataclass(frozen=True, slots=True)
class CachedRobots:
    host: str
    url: str
    fetched_at: str
    status: int
    body: str


def load_robots(store: Store, host: str) -> CachedRobots | None:
    row = store.db.execute(
        "SELECT host, url, fetched_at, status, body FROM robots WHERE host = ?", [host]
    ).fetchone()
    return CachedRobots(*row) if row is not None else None


def save_robots(store: Store, robots: CachedRobots) -> None:
    with store.db.atomic():
        store.db.table("robots").upsert(
            {"host": robots.host, "url": robots.url, "fetched_at": robots.fetched_at,
             "status": robots.status, "body": robots.body}, pk="host")
