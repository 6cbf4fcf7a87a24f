"""Write the archive site from the store: everything once, then only what new checks and
changes touch.

A manifest in the directory (``.govwatch-site.json``) remembers the newest change and
check the site shows, and a fingerprint of what every page depends on besides them (the
templates, the settings, the organizations' and monitors' names, URLs and schedules, and
which history it is: the hash of its first check).
When the fingerprint differs, or there is no manifest, every page is written; otherwise a
build writes the pages of the new changes, the change before each (its "next" link), the
pages of the monitors checked since, the newest pages of their organizations, and the
index, heads and verify pages. Each file goes through a temporary file and a rename, and
one whose bytes are already there is left alone. The manifest is written last: a build
killed half-way is simply done again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.canonical import canonical_json
from core.errors import DeliveryFailed, LockHeld
from notifications import links
from notifications.config import SiteSettings
from notifications.feeds import atomic_write
from notifications.site import pages
from storage import site as queries
from storage.chain import current_heads
from storage.db import Store
from storage.noise import listing
from storage.queries import monitor_history

MANIFEST = ".govwatch-site.json"
LOCK = ".govwatch-site.lock"
#: The folders of pages (see ``notifications.links``).
PAGE_FOLDERS = ("change", "monitor", "org")
#: Raised whenever what a page shows for the same data changes (a full rebuild follows).
FORMAT = 1


@dataclass(frozen=True, slots=True)
class SiteReport:
    directory: Path
    full: bool
    written: int
    unchanged: int
    changes: int


@contextmanager
def site_lock(directory: Path) -> Iterator[None]:
    """One writer per site directory: a run and ``govwatch site`` may meet there."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / LOCK).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise LockHeld(f"another govwatch process is writing the site {directory}") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fingerprint(settings: SiteSettings, organizations: dict[str, dict[str, Any]],
                monitors: dict[str, dict[str, Any]], history: str | None) -> str:
    described = {
        "format": FORMAT, "templates": pages.template_sources(), "history": history,
        "settings": [settings.page_size, settings.checks_shown, settings.public_url],
        "organizations": sorted([o["id"], o["name"], o["homepage"]]
                                for o in organizations.values()),
        "monitors": sorted([m["id"], m["org_id"], m["name"], m["url"], m["kind"],
                            m["every_seconds"], m["enabled"], m["options"].get("cron")]
                           for m in monitors.values()),
    }
    return hashlib.sha256(canonical_json(described).encode()).hexdigest()


class SiteWriter:
    """Writes files under the site directory, skipping those already as they should be.

    Each file is written to ``.NAME.tmp`` beside it and renamed over it, so a web server
    serves the old page or the new one, never half of one. The names can be fixed because
    one process writes a directory at a time (``site_lock``); what a killed build left is
    removed when the next one starts. Files are not flushed one by one (on 10,000 pages
    that was most of a full build): ``finish`` flushes everything once, before the
    manifest says the pages are there.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.written = 0
        self.unchanged = 0
        self._made: set[Path] = set()
        self.seen: set[str] = set()
        for stale in directory.rglob(".*.tmp"):
            stale.unlink(missing_ok=True)

    def write(self, path: str, data: bytes) -> None:
        target = self.directory / path
        self.seen.add(path)
        try:
            if target.stat().st_size == len(data) and target.read_bytes() == data:
                self.unchanged += 1
                return
        except FileNotFoundError:
            if target.parent not in self._made:
                target.parent.mkdir(parents=True, exist_ok=True)
                self._made.add(target.parent)
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, target)
        self.written += 1

    def remove_unseen(self) -> None:
        """After a full build: pages of the site's own kinds that no longer exist (another
        history was written here before). Nothing else in the directory is touched."""
        for folder in PAGE_FOLDERS:
            for path in (self.directory / folder).rglob("*"):
                relative = path.relative_to(self.directory).as_posix()
                if path.suffix in (".html", ".txt") and relative not in self.seen:
                    path.unlink()

    def finish(self, manifest: dict[str, Any]) -> None:
        if self.written:
            os.sync()
        atomic_write(self.directory / MANIFEST, canonical_json(manifest).encode())


def read_manifest(directory: Path) -> dict[str, Any]:
    try:
        data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def build_site(store: Store, settings: SiteSettings, directory: str | Path | None = None,
               *, full: bool = False) -> SiteReport:
    """Bring the site in ``directory`` (default ``settings.directory``) up to date."""
    where = Path(directory if directory is not None else settings.directory)
    try:
        with site_lock(where):
            return _build(store, settings, where, full)
    except OSError as exc:
        raise DeliveryFailed(f"cannot write the site under {where}: {exc}") from exc


def _build(store: Store, settings: SiteSettings, directory: Path, full: bool) -> SiteReport:
    organizations = {o["id"]: o for o in queries.organizations(store)}
    monitors = {m["id"]: m for m in queries.monitors(store)}
    last_change, last_check = queries.newest_ids(store)
    print_ = fingerprint(settings, organizations, monitors, queries.identity(store))
    manifest = read_manifest(directory)
    full = full or manifest.get("fingerprint") != print_ or \
        not isinstance(manifest.get("last_change_id"), int) or \
        not isinstance(manifest.get("last_check_id"), int)
    writer = SiteWriter(directory)
    if not full and (manifest["last_change_id"], manifest["last_check_id"]) == \
            (last_change, last_check):
        return SiteReport(directory, False, 0, 0, 0)  # nothing new since the last build
    archive = pages.Archive(organizations, monitors, queries.listed_changes(store),
                            settings.page_size)
    if full:
        new_changes = [c["id"] for c in archive.changes]
        checked = set(archive.monitors)
        touched_orgs: dict[str, int] = {org: 1 for org in archive.organizations}
        rewrite = set(new_changes)
    else:
        new_changes = [c["id"] for c in archive.changes if c["id"] > manifest["last_change_id"]]
        checked = queries.monitors_checked_after(store, manifest["last_check_id"])
        checked |= {archive.by_id[i]["monitor_id"] for i in new_changes}
        rewrite = set(new_changes) | _predecessors(archive, new_changes)
        touched_orgs = _first_pages(archive, manifest["last_change_id"], checked, new_changes)
    _write_changes(store, archive, writer, rewrite)
    for monitor_id in sorted(checked & set(archive.monitors)):
        _write_monitor(store, archive, writer, monitor_id, settings.checks_shown)
    for org_id, first in sorted(touched_orgs.items()):
        _write_organization(archive, writer, org_id, first)
    newest = queries.change_pages(store, [c["id"] for c in archive.changes[-100:]])
    writer.write(links.INDEX, pages.index_page(archive, list(reversed(newest))))
    heads = current_heads(store.db)
    writer.write(links.HEADS, canonical_json({"heads": heads}).encode())
    writer.write(links.VERIFY, pages.verify_page(
        heads, archive, links.SiteLinks(settings.public_url).heads))
    writer.write(links.STYLE, pages.environment().get_template(links.STYLE).render()
                 .encode("utf-8"))
    if full:
        writer.remove_unseen()
    writer.finish({"fingerprint": print_, "last_change_id": last_change,
                   "last_check_id": last_check})
    return SiteReport(directory, full, writer.written, writer.unchanged, len(new_changes))


def _predecessors(archive: pages.Archive, new_changes: Iterable[int]) -> set[int]:
    """The change before each new one on its monitor: its "next" link appears."""
    found = set()
    for change_id in new_changes:
        previous, _ = archive.neighbours(archive.by_id[change_id])
        if previous is not None:
            found.add(previous)
    return found


def _first_pages(archive: pages.Archive, last_change_id: int, checked: set[str],
                 new_changes: list[int]) -> dict[str, int]:
    """Per organization to rewrite, the first timeline page to write: the page that was
    the newest (its "newer" link may appear) up to the newest page."""
    orgs = {archive.monitors[m]["org_id"] for m in checked if m in archive.monitors}
    orgs |= {archive.by_id[i]["org_id"] for i in new_changes}
    first: dict[str, int] = {}
    for org_id in orgs:
        old = [c for c in archive.by_org.get(org_id, []) if c["id"] <= last_change_id]
        first[org_id] = max(1, -(-len(old) // archive.page_size))
    return first


def _write_changes(store: Store, archive: pages.Archive, writer: SiteWriter,
                   change_ids: set[int]) -> None:
    ordered = sorted(change_ids)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start:start + 500]
        captured = queries.captures(store, chunk)
        for row in queries.change_pages(store, chunk):
            writer.write(links.change_path(row["id"]),
                         pages.change_page(archive, row, captured.get(row["id"], [])))


def _write_monitor(store: Store, archive: pages.Archive, writer: SiteWriter, monitor_id: str,
                   checks_shown: int) -> None:
    monitor = archive.monitors[monitor_id]
    history = monitor_history(store, monitor_id, limit=checks_shown)
    text = _latest_text(store, monitor_id)
    if text is not None:
        writer.write(links.monitor_text_path(monitor_id), text.encode("utf-8"))
    writer.write(links.monitor_path(monitor_id),
                 pages.monitor_page(archive, monitor["id"], history, listing(store, monitor_id),
                                    text is not None))


def _latest_text(store: Store, monitor_id: str) -> str | None:
    row = store.db.execute("SELECT last_content_hash FROM monitors WHERE id = ?",
                           [monitor_id]).fetchone()
    if row is None or row[0] is None:
        return None
    return store.load_content(row[0]).text


def _write_organization(archive: pages.Archive, writer: SiteWriter, org_id: str,
                        first: int) -> None:
    """Pages ``first`` up to the newest; the newest is also the organization's index."""
    last = archive.pages_of(org_id)
    for page in range(min(first, last), last + 1):
        data = pages.organization_page(archive, org_id, page, page == last)
        writer.write(links.organization_path(org_id, page), data)
        if page == last:
            writer.write(links.organization_path(org_id), data)
