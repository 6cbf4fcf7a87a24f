"""The archive site's pages: what each one shows, rendered by Jinja2 with autoescape.

:class:`Archive` is what every page shares (organizations, monitors, the list of changes),
read once per build; each ``*_page`` function renders one file from it. Every string that
came from a fetch is escaped by the templates, and only http(s) URLs become links (the
``web`` test): a ``javascript:`` link stays text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from core.units import format_duration
from notifications import links
from notifications.digest import announced, entry_updates, is_web_url, template_only
from notifications.site.diffview import view
from storage.outbox import OwedChange

if TYPE_CHECKING:
    from jinja2 import Environment

#: Newest changes and documents on the index page.
INDEX_CHANGES = 30
INDEX_DOCUMENTS = 30


@cache
def environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("notifications.site", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.tests["web"] = lambda value: isinstance(value, str) and is_web_url(value)
    env.globals.update(
        change_path=links.change_path, monitor_path=links.monitor_path,
        organization_path=links.organization_path, monitor_text_path=links.monitor_text_path,
        index_path=links.INDEX, style_path=links.STYLE, heads_path=links.HEADS,
        verify_path=links.VERIFY)
    return env


def template_sources() -> str:
    """Every template's text: a change to one of them rebuilds the whole site."""
    env = environment()
    assert env.loader is not None
    return "".join(env.loader.get_source(env, name)[0] for name in sorted(env.list_templates()))


def render(template: str, **values: Any) -> bytes:
    return environment().get_template(template).render(**values).encode("utf-8")


@dataclass
class Archive:
    """What the pages share, read once per build."""

    organizations: dict[str, dict[str, Any]]
    monitors: dict[str, dict[str, Any]]
    changes: list[dict[str, Any]]  # listed changes, oldest first
    page_size: int
    by_id: dict[int, dict[str, Any]] = field(default_factory=dict)
    by_monitor: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    by_org: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: A change's place in its organization's and its monitor's list.
    org_place: dict[int, int] = field(default_factory=dict)
    monitor_place: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for change in self.changes:
            self.by_id[change["id"]] = change
            of_monitor = self.by_monitor.setdefault(change["monitor_id"], [])
            self.monitor_place[change["id"]] = len(of_monitor)
            of_monitor.append(change)
            of_org = self.by_org.setdefault(change["org_id"], [])
            self.org_place[change["id"]] = len(of_org)
            of_org.append(change)

    def pages_of(self, org_id: str) -> int:
        """How many timeline pages the organization has (one, empty, when no change)."""
        count = len(self.by_org.get(org_id, ()))
        return max(1, -(-count // self.page_size))

    def page_of(self, change_id: int) -> int:
        """The timeline page of the change's organization that lists it."""
        return self.org_place[change_id] // self.page_size + 1

    def neighbours(self, change: dict[str, Any]) -> tuple[int | None, int | None]:
        """The previous and next change of the same monitor."""
        same = self.by_monitor[change["monitor_id"]]
        at = self.monitor_place[change["id"]]
        return (same[at - 1]["id"] if at else None), \
            (same[at + 1]["id"] if at + 1 < len(same) else None)

    def org_name(self, org_id: str) -> str:
        return str(self.organizations.get(org_id, {}).get("name") or org_id)


def owed_change(archive: Archive, row: dict[str, Any]) -> OwedChange:
    """A stored change in the shape the digests read, to reuse what they announce."""
    monitor = archive.monitors.get(row["monitor_id"], {})
    return OwedChange(
        change_id=row["id"], org_id=row["org_id"], org_name=archive.org_name(row["org_id"]),
        monitor_id=row["monitor_id"], monitor_name=monitor.get("name") or row["monitor_id"],
        monitor_url=monitor.get("url") or "", monitor_kind=monitor.get("kind") or "",
        kind=row["kind"], summary=row["summary"] or "", diff=row["diff"] or "",
        detail=row["detail"], significance=float(row["significance"] or 0.0),
        reasons=tuple(row["reasons"]), detected_at=row["detected_at"])


def schedule(monitor: dict[str, Any]) -> str:
    cron = monitor["options"].get("cron")
    if cron:
        return f"cron {cron}"
    seconds = monitor.get("every_seconds")
    return f"every {format_duration(timedelta(seconds=seconds))}" if seconds else "?"


def failing(monitor: dict[str, Any]) -> bool:
    return bool(monitor["consecutive_failures"]) or monitor.get("last_outcome") == "error"


def change_page(archive: Archive, row: dict[str, Any], captured: list[dict[str, Any]]) -> bytes:
    owed = owed_change(archive, row)
    previous, following = archive.neighbours(row)
    return render(
        "change.html", root="../", title=f"{owed.monitor_name}: {owed.summary}",
        change=row, owed=owed, monitor=archive.monitors.get(row["monitor_id"], {}),
        org_name=owed.org_name, documents=announced(owed), updates=entry_updates(owed),
        diff=view(owed.diff), captures=captured, previous=previous, following=following,
        template_only=template_only(owed),
        page=archive.page_of(row["id"]))


def organization_page(archive: Archive, org_id: str, page: int, last: bool) -> bytes:
    """Page ``page`` of the timeline (1: the oldest changes), newest first."""
    changes = archive.by_org.get(org_id, [])
    start = (page - 1) * archive.page_size
    shown = list(reversed(changes[start:start + archive.page_size]))
    monitors = [m for m in archive.monitors.values() if m["org_id"] == org_id]
    org = archive.organizations.get(org_id, {"id": org_id, "name": org_id, "homepage": None})
    older = links.organization_path(org_id, page - 1) if page > 1 else None
    newer = None if last else links.organization_path(org_id, page + 1)
    return render(
        "organization.html", root="../../", title=org["name"], org=org, changes=shown,
        monitors=monitors, page=page, older=older, newer=newer, last=last,
        monitor_names={m["id"]: m["name"] for m in monitors}, schedule=schedule,
        failing=failing)


def monitor_page(archive: Archive, monitor_id: str, history: list[dict[str, Any]],
                 noise: list[dict[str, Any]], has_text: bool) -> bytes:
    monitor = archive.monitors[monitor_id]
    return render(
        "monitor.html", root="../", title=monitor["name"], monitor=monitor,
        org_name=archive.org_name(monitor["org_id"]), schedule=schedule(monitor),
        changes=list(reversed(archive.by_monitor.get(monitor_id, []))), history=history,
        noise=noise, has_text=has_text, failing=failing(monitor))


def index_page(archive: Archive, newest: list[dict[str, Any]]) -> bytes:
    """Organizations, the newest changes and documents, and the monitors' health.

    ``newest`` are whole change rows, newest first, to take the new documents from."""
    organizations = []
    for org_id, org in archive.organizations.items():
        monitors = [m for m in archive.monitors.values() if m["org_id"] == org_id]
        changes = archive.by_org.get(org_id, [])
        organizations.append({
            **org, "monitors": len(monitors),
            "failing": sum(failing(m) for m in monitors),
            "changes": len(changes), "latest": changes[-1] if changes else None})
    organizations.sort(key=lambda o: (str(o["name"]).lower(), o["id"]))
    documents: list[tuple[str, str, dict[str, Any]]] = []
    seen: set[str] = set()
    for row in newest:
        for url, title in announced(owed_change(archive, row)):
            if url not in seen and len(documents) < INDEX_DOCUMENTS:
                seen.add(url)
                documents.append((url, title, row))
    monitors = list(archive.monitors.values())
    checked = [m["last_check_at"] for m in monitors if m["last_check_at"]]
    return render(
        "index.html", root="", title="govwatch archive", organizations=organizations,
        latest=list(reversed(archive.changes[-INDEX_CHANGES:])), documents=documents,
        monitor_names={m["id"]: m["name"] for m in monitors}, org_name=archive.org_name,
        failing=sorted((m for m in monitors if failing(m)), key=lambda m: m["id"]),
        monitor_count=len(monitors), last_check=max(checked) if checked else None)


def verify_page(heads: dict[str, str], archive: Archive, heads_url: str | None) -> bytes:
    return render("verify.html", root="", title="Chain heads and how to verify them",
                  heads=heads, monitors=archive.monitors, heads_url=heads_url)
