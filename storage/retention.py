"""Retention: prune old raw bodies, keep their hashes, the extracted text and the chain.

A body is kept while any rule given keeps it: ``keep_days`` keeps bodies some check saw
within that many days, ``keep_versions`` keeps each monitor's newest N distinct bodies.
Every monitor's current body is always kept. A kept body stored as a delta against a body
that goes (storage/blobs.py) is first stored whole, so what ``freed`` reports is net of
that. A pruned snapshot keeps its row (hash, size,
type) with ``body`` NULL and ``pruned_at`` set, so ``verify`` can tell pruned from deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.blobs import COMPRESSION, BlobCodec
from storage.db import Store
from storage.records import iso

# A rendered page's served HTML (checks.served_snapshot_hash) lives and goes with its DOM.
_CANDIDATES = """
SELECT snapshots.hash, length(snapshots.body) AS stored, max(seen.started_at) AS last_seen
FROM snapshots JOIN (
  SELECT snapshot_hash AS hash, started_at FROM checks WHERE snapshot_hash IS NOT NULL
  UNION ALL
  SELECT served_snapshot_hash, started_at FROM checks WHERE served_snapshot_hash IS NOT NULL
) seen ON seen.hash = snapshots.hash
WHERE snapshots.body IS NOT NULL
  AND snapshots.hash NOT IN (SELECT last_snapshot_hash FROM monitors
                             WHERE last_snapshot_hash IS NOT NULL)
  AND snapshots.hash NOT IN (
    SELECT checks.served_snapshot_hash FROM checks JOIN monitors
    ON monitors.id = checks.monitor_id AND monitors.last_snapshot_hash = checks.snapshot_hash
    WHERE checks.served_snapshot_hash IS NOT NULL)
GROUP BY snapshots.hash
"""

_NEWEST_PER_MONITOR = """
WITH seen AS (
  SELECT monitor_id, snapshot_hash, max(id) AS last_id FROM checks
  WHERE snapshot_hash IS NOT NULL GROUP BY monitor_id, snapshot_hash
), ranked AS (
  SELECT snapshot_hash,
         row_number() OVER (PARTITION BY monitor_id ORDER BY last_id DESC) AS position
  FROM seen
)
SELECT DISTINCT snapshot_hash FROM ranked WHERE position <= ?
"""
_SERVED_WITH = """
SELECT DISTINCT served_snapshot_hash FROM checks
WHERE served_snapshot_hash IS NOT NULL AND snapshot_hash IN ({})
"""


@dataclass(frozen=True, slots=True)
class PruneReport:
    pruned: int
    bytes_freed: int
    kept: int
    dry_run: bool


def prune_bodies(
    store: Store,
    *,
    keep_days: int | None,
    keep_versions: int | None,
    now: datetime,
    dry_run: bool = False,
) -> PruneReport:
    if keep_days is None and keep_versions is None:
        raise ValueError("a retention rule is needed: keep_days and/or keep_versions")
    cutoff = iso(now - timedelta(days=keep_days)) if keep_days is not None else None
    newest = set()
    if keep_versions is not None:
        newest = {row[0] for row in store.db.execute(_NEWEST_PER_MONITOR, [keep_versions])}
        newest |= _served_with(store, newest)
    chosen: list[tuple[str, int]] = []
    for digest, stored, last_seen in store.db.execute(_CANDIDATES).fetchall():
        kept_by_days = cutoff is not None and last_seen >= cutoff
        if not kept_by_days and digest not in newest:
            chosen.append((digest, stored or 0))
    total = store.db.execute("SELECT count(*) FROM snapshots WHERE body IS NOT NULL").fetchone()
    rewhole = _orphaned_deltas(store, {digest for digest, _ in chosen})
    growth = sum(len(whole) - stored for _, whole, stored in rewhole)
    if not dry_run and chosen:
        stamp = iso(now)
        with store.db.atomic():
            store.db.conn.executemany(
                "UPDATE snapshots SET body = ?, compression = ?, base = NULL WHERE hash = ?",
                [(whole, COMPRESSION, digest) for digest, whole, _ in rewhole])
            store.db.conn.executemany(
                "UPDATE snapshots SET body = NULL, pruned_at = ? WHERE hash = ?",
                [(stamp, digest) for digest, _ in chosen])
    return PruneReport(pruned=len(chosen),
                       bytes_freed=sum(size for _, size in chosen) - growth,
                       kept=total[0] - len(chosen), dry_run=dry_run)


def _served_with(store: Store, kept: set[str]) -> set[str]:
    """The served HTML of the rendered pages whose DOM is kept."""
    served: set[str] = set()
    hashes = sorted(kept)
    for start in range(0, len(hashes), 500):  # within SQLite's limit on parameters
        chunk = hashes[start:start + 500]
        served |= {row[0] for row in store.db.execute(
            _SERVED_WITH.format(", ".join("?" for _ in chunk)), chunk)}
    return served


def _orphaned_deltas(store: Store, going: set[str]) -> list[tuple[str, bytes, int]]:
    """Kept bodies stored against a base in ``going``: (hash, whole form, stored size)."""
    orphans = [
        (digest, stored) for digest, base, stored in store.db.execute(
            "SELECT hash, base, length(body) FROM snapshots "
            "WHERE body IS NOT NULL AND base IS NOT NULL")
        if base in going and digest not in going
    ]
    codec = BlobCodec()
    return [(digest, codec.compress(store.bodies.raw(digest)), stored)
            for digest, stored in orphans]
