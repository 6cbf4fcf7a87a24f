"""Tuning commands: ``preview`` one monitor live, ``compare`` two local files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from core.errors import GovwatchError, StorageError
from core.records import Change, Extracted, FetchResult
from pipeline.cli.group import Context, cli, pass_context
from storage.records import MonitorState

if TYPE_CHECKING:  # the commands import what they use when they run
    from monitors.base import Monitor

SHOWN_LINES = 60


def change_json(kind: str, change: Change | None) -> dict[str, Any]:
    """The stable JSON shape of a comparison (documented in the README)."""
    detail = change.detail if change else {}
    result: dict[str, Any] = {
        "kind": change.kind if change else None,
        "monitor_kind": kind,
        "changed": change is not None,
        "summary": change.summary if change else "",
        "significance": change.significance if change else 0.0,
        "reasons": list(change.reasons) if change else [],
        "added": detail.get("added", []),
        "removed": detail.get("removed", []),
        "links_added": detail.get("links_added", []),
        "links_removed": detail.get("links_removed", []),
        "documents": detail.get("documents", []),
    }
    if kind == "feed":
        for key in ("entries_added", "entries_updated", "entries_removed"):
            result[key] = detail.get(key, [])
    if kind == "pdf":
        result["pages_changed"] = detail.get("pages_changed", [])
    return result


def _guess_kind(body: bytes) -> str:
    head = body[:2048].lstrip().lower()
    if b"%PDF-" in body[:1024]:
        return "pdf"
    if head.startswith(b"<?xml") or b"<rss" in head or b"<feed" in head:
        return "feed"
    return "page"


@cli.command()
@click.argument("old", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["page", "feed", "pdf"]),
              help="How to read the files (default: guessed from the content).")
@click.option("--select", metavar="CSS", help="Page region to compare.")
@click.option("--url", default="https://example.org/", show_default=True,
              help="Base URL for relative links.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare(old: Path, new: Path, kind: str | None, select: str | None, url: str,
            as_json: bool) -> None:
    """Run the change-detection engine on two local files."""
    from monitors import build_monitor
    from monitors.config import MonitorConfig
    from pipeline import stages

    old_body, new_body = old.read_bytes(), new.read_bytes()
    kind = kind or _guess_kind(new_body)
    options: dict[str, Any] = {"select": select} if select else {}
    monitor = build_monitor(MonitorConfig(id="compare", kind=kind, url=url, **options), "local")
    extracted = []
    for path, body in ((old, old_body), (new, new_body)):
        fetched = FetchResult(monitor_id="compare", url=url, started_at="", duration_ms=0,
                              status=200, body=body, final_url=url)
        _, result = stages.extract(monitor, fetched)
        if isinstance(result, str):
            raise GovwatchError(f"{path}: {result}")
        extracted.append(result)
    change = monitor.compare(extracted[0], extracted[1])
    if as_json:
        click.echo(json.dumps(change_json(kind, change), indent=2, ensure_ascii=False))
        return
    if change is None:
        click.echo("no change (after noise filters)")
        return
    click.echo(f"[{change.kind}] {change.summary}")
    click.echo(f"significance: {change.significance:.2f} ({'; '.join(change.reasons)})")
    if change.diff:
        click.echo(change.diff)


@cli.command(ids_from="config")
@click.argument("monitor_id")
@click.option("--lines", default=SHOWN_LINES, show_default=True, help="Lines of text to show.")
@pass_context
def preview(context: Context, monitor_id: str, lines: int) -> None:
    """Fetch one monitor now and show what would be stored and compared (writes nothing)."""
    import asyncio

    from monitors import build_monitor
    from pipeline import stages

    config = context.config()
    org, monitor_config = next((org, m) for org, m in config.monitors() if m.id == monitor_id)
    monitor = build_monitor(monitor_config, org.id)
    fetched = asyncio.run(_fetch_once(monitor, config))
    click.echo(f"{org.id}/{monitor.id} [{monitor.kind}] {monitor_config.url}")
    if fetched.error:
        click.echo(f"fetch failed: {fetched.error}")
        return
    hops = " -> ".join(r.url for r in fetched.redirects)
    click.echo(f"HTTP {fetched.status} {fetched.reason}, {fetched.bytes_received} bytes, "
               f"{fetched.duration_ms} ms" + (f", redirected via {hops}" if hops else "")
               + f", final URL {fetched.final_url}")
    previous = _stored_content(context, config.database, monitor_id)
    state = MonitorState(monitor_id, None, None, None, None, None, None, 0)
    if previous is not None:
        state = MonitorState(monitor_id, None, None, "stored", previous.content_hash, None,
                             None, 0)
    outcome = stages.evaluate(monitor, fetched, state, lambda _hash: previous or Extracted(""))
    if not isinstance(outcome.content, Extracted):  # evaluated in-process: never packed
        click.echo(f"would record: {outcome.check.outcome}"
                   + (f" - {outcome.check.error}" if outcome.check.error else "")
                   + (f" [{outcome.change.summary}]" if outcome.change else ""))
        return
    _show_content(monitor, outcome.content, lines)
    if previous is None:
        click.echo("\nno stored version: this would be the first (new)")
    elif outcome.change is None:
        click.echo("\nagainst the stored version: no change (after noise filters)")
    else:
        change = outcome.change
        click.echo(f"\nagainst the stored version: [{change.kind}] {change.summary} "
                   f"(significance {change.significance:.2f})")
        if change.diff:
            click.echo(change.diff)


async def _fetch_once(monitor: Monitor, config: Any) -> FetchResult:
    from pipeline.cycle import fetch_settings
    from pipeline.fetch.client import Fetcher, build_client

    settings = fetch_settings(config.defaults)
    async with build_client(settings) as client:
        empty = MonitorState(monitor.id, None, None, None, None, None, None, 0)
        return await Fetcher(client, settings).fetch(monitor, empty)


def _stored_content(context: Context, database: str, monitor_id: str) -> Extracted | None:
    from storage.db import Store

    path = Path(context.db_option or database)
    if not path.exists():
        return None
    try:
        store = Store(path, readonly=True)
    except StorageError:
        return None
    with store:
        try:
            state = store.monitor_state(monitor_id)
            if state.last_content_hash is None:
                return None
            return store.load_content(state.last_content_hash)
        except (StorageError, Exception):  # noqa: BLE001 - an old or foreign file: no baseline
            return None


def _show_content(monitor: Monitor, content: Extracted, limit: int) -> None:
    data = content.data
    if data.get("title"):
        click.echo(f"title: {data['title']}")
    text_lines = content.text.splitlines()
    click.echo(f"\n--- text ({len(text_lines)} lines) ---")
    for line in text_lines[:limit]:
        click.echo(line)
    if len(text_lines) > limit:
        click.echo(f"... {len(text_lines) - limit} more lines")
    if data.get("noise"):
        click.echo(f"\n--- ignored as noise ({len(data['noise'])} lines) ---")
        for line in data["noise"][:10]:
            click.echo(f"  {line}")
    if "links" in data:
        click.echo(f"\n--- links ({len(data['links'])}) ---")
        for url, text in data["links"][:limit]:
            click.echo(f"  {text or '(no text)'} <{url}>")
    if "entries" in data:
        click.echo(f"\n--- entries ({len(data['entries'])}) ---")
        for entry in data["entries"][:limit]:
            click.echo(f"  {entry['published'] or '-'}  {entry['title']} <{entry['link']}>")
    keywords = monitor.config.keywords
    if keywords:
        click.echo(f"\nkeywords: {', '.join(keywords)} (only matching new links/entries count)")
