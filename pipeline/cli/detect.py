"""Tuning commands: ``preview`` one monitor live, ``compare`` two local files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from core.errors import GovwatchError, StorageError
from core.records import Change, Extracted, FetchResult, Volatile
from core.sanitise import clean_line, clean_text, terminal_json
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
        # What a digest would carry: a change kept in the history may stay unannounced.
        "announced": change is not None and change.quiet is None,
        "not_announced_because": change.quiet if change else None,
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
@click.option("--again", "again", metavar="NEW2",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A second copy of NEW fetched moments later: what differs between NEW "
                   "and NEW2 changes by itself, and is learned as a run would learn it.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare(old: Path, new: Path, kind: str | None, select: str | None, url: str,
            again: Path | None, as_json: bool) -> None:
    """Run the change-detection engine on two local files."""
    from monitors import build_monitor
    from monitors.config import MonitorConfig
    from monitors.volatility import NO_NOISE, Noise
    from pipeline import stages

    kind = kind or _guess_kind(new.read_bytes())
    options: dict[str, Any] = {"select": select} if select else {}
    monitor = build_monitor(MonitorConfig(id="compare", kind=kind, url=url, **options), "local")
    extracted = []
    for path in (old, new, *([again] if again else [])):
        fetched = FetchResult(monitor_id="compare", url=url, started_at="", duration_ms=0,
                              status=200, body=path.read_bytes(), final_url=url)
        _, result = stages.extract(monitor, fetched)
        if isinstance(result, str):
            raise GovwatchError(f"{path}: {result}")
        extracted.append(result)
    noise = NO_NOISE
    if again is not None:
        witness = Noise(stable=monitor.stood(extracted[0]))
        noise = Noise(frozenset(monitor.learn(extracted[1], extracted[2], witness)))
    change = monitor.compare(extracted[0], extracted[1], noise)
    if as_json:
        report = change_json(kind, change)
        report["learned"] = [list(item) for item in sorted(
            (v.kind, v.where, v.what) for v in noise.learned)]
        click.echo(terminal_json(json.dumps(report, indent=2, ensure_ascii=False)))
        return
    for item in sorted(noise.learned):
        where = f" after {item.where!r}" if item.where else ""
        click.echo(f"learned from --again: {item.kind} {item.what!r}{where}")
    if change is None:
        click.echo("no change" + (" (after what --again showed changes by itself)"
                                  if noise.learned else ""))
        return
    click.echo(f"[{change.kind}] {clean_line(change.summary)}")
    reasons = clean_line("; ".join(change.reasons), None)
    click.echo(f"significance: {change.significance:.2f} ({reasons})")
    if change.quiet:
        click.echo(f"not announced by default: {change.quiet}")
    if change.diff:
        click.echo(clean_text(change.diff))


@cli.command(ids_from="config")
@click.argument("monitor_id")
@click.option("--lines", default=SHOWN_LINES, show_default=True, help="Lines of text to show.")
@pass_context
def preview(context: Context, monitor_id: str, lines: int) -> None:
    """Fetch one monitor now and show what would be stored and compared (writes nothing)."""
    import asyncio

    from monitors import build_monitor
    from monitors.volatility import Noise
    from pipeline import stages

    config = context.config()
    org, monitor_config = next((org, m) for org, m in config.monitors() if m.id == monitor_id)
    monitor = build_monitor(monitor_config, org.id)
    fetched = asyncio.run(_fetch_once(monitor, config))
    click.echo(f"{org.id}/{monitor.id} [{monitor.kind}] {monitor_config.url}")
    if fetched.error:
        click.echo(f"fetch failed: {clean_line(fetched.error, None)}")
        return
    hops = clean_line(" -> ".join(r.url for r in fetched.redirects), None)
    click.echo(f"HTTP {fetched.status} {clean_line(fetched.reason)}, {fetched.bytes_received} "
               f"bytes, {fetched.duration_ms} ms" + (f", redirected via {hops}" if hops else "")
               + f", final URL {clean_line(fetched.final_url, None)}")
    previous, stored, learned = _stored(context, config.database, monitor_id)
    # Judged as a run would judge it: against the stored version, in the signal the
    # monitor is in (a page that already said it needs JavaScript is unchanged).
    state = MonitorState(monitor_id, None, None, None, None, None, None, 0,
                         signal=stored.signal, last_final_url=stored.last_final_url)
    if previous is not None:
        state = replace(state, last_snapshot_hash="stored",
                        last_content_hash=previous.content_hash,
                        last_content_at=stored.last_content_at)
    noise = Noise(learned)
    outcome = stages.evaluate(monitor, fetched, state, lambda _hash: previous or Extracted(""),
                              noise)
    if not isinstance(outcome.content, Extracted):  # evaluated in-process: never packed
        click.echo(f"would record: {outcome.check.outcome}"
                   + (f" - {clean_line(outcome.check.error, None)}" if outcome.check.error
                      else "")
                   + (f" [{clean_line(outcome.change.summary)}]" if outcome.change else ""))
        if outcome.check.note:
            click.echo(f"note: {clean_line(outcome.check.note)}")
        return
    _show_content(monitor, outcome.content, lines)
    _show_learned(learned)
    if previous is None:
        click.echo("\nno stored version: this would be the first (new)")
    elif outcome.change is None:
        click.echo("\nagainst the stored version: no change"
                   + (f" ({clean_line(outcome.check.note, None)})" if outcome.check.note
                      else ""))
    elif outcome.confirmable:
        change = outcome.change
        click.echo(f"\nagainst the stored version: [{change.kind}] {clean_line(change.summary)} "
                   f"(significance {change.significance:.2f}); a run would fetch a second "
                   "copy first, to learn what of it changes by itself")
        if change.diff:
            click.echo(clean_text(change.diff))
    else:
        change = outcome.change
        click.echo(f"\nagainst the stored version: [{change.kind}] {clean_line(change.summary)} "
                   f"(significance {change.significance:.2f})")
        if change.diff:
            click.echo(clean_text(change.diff))


async def _fetch_once(monitor: Monitor, config: Any) -> FetchResult:
    from pipeline.cycle import fetch_settings
    from pipeline.fetch.client import Fetcher, build_client, rendering

    settings = fetch_settings(config.defaults)
    async with build_client(settings) as client, rendering(config, settings) as browser:
        empty = MonitorState(monitor.id, None, None, None, None, None, None, 0)
        return await Fetcher(client, settings, browser=browser).fetch(monitor, empty)


def _stored(context: Context, database: str, monitor_id: str
            ) -> tuple[Extracted | None, MonitorState, frozenset[Volatile]]:
    """The monitor's baseline, its stored state and what it learned (or nothing)."""
    from storage import noise
    from storage.db import Store

    nothing = MonitorState(monitor_id, None, None, None, None, None, None, 0)
    path = Path(context.db_option or database)
    if not path.exists():
        return None, nothing, frozenset()
    try:
        store = Store(path, readonly=True)
    except StorageError:
        return None, nothing, frozenset()
    with store:
        try:
            state = store.monitor_state(monitor_id)
            learned = noise.learned(store, monitor_id)
            if state.last_content_hash is None:
                return None, state, learned
            return store.load_content(state.last_content_hash), state, learned
        except (StorageError, Exception):  # noqa: BLE001 - an old or foreign file: no baseline
            return None, nothing, frozenset()


def _show_learned(learned: frozenset[Volatile]) -> None:
    click.echo(f"\n--- learned as changing by itself ({len(learned)}) ---")
    for item in sorted(learned):
        where = f" after {item.where!r}" if item.where else ""
        click.echo(f"  {item.kind} {item.what!r}{where}")
    click.echo("  (clocks, a date or time that reads as the fetch time, are masked as well)")


def _show_content(monitor: Monitor, content: Extracted, limit: int) -> None:
    data = content.data
    if data.get("title"):
        click.echo(f"title: {clean_line(data['title'])}")
    text_lines = clean_text(content.text).splitlines()
    click.echo(f"\n--- text ({len(text_lines)} lines) ---")
    for line in text_lines[:limit]:
        click.echo(line)
    if len(text_lines) > limit:
        click.echo(f"... {len(text_lines) - limit} more lines")
    if data.get("noise"):
        click.echo(f"\n--- ignored as noise ({len(data['noise'])} lines) ---")
        for line in data["noise"][:10]:
            click.echo(f"  {clean_line(line, None)}")
    if "links" in data:
        click.echo(f"\n--- links ({len(data['links'])}) ---")
        for url, text in data["links"][:limit]:
            click.echo(f"  {clean_line(text) or '(no text)'} <{clean_line(url, None)}>")
    if "entries" in data:
        click.echo(f"\n--- entries ({len(data['entries'])}) ---")
        for entry in data["entries"][:limit]:
            click.echo(f"  {clean_line(entry['published']) or '-'}  {clean_line(entry['title'])} "
                       f"<{clean_line(entry['link'], None)}>")
    keywords = monitor.config.keywords
    if keywords:
        click.echo(f"\nkeywords: {', '.join(keywords)} (only matching new links/entries count)")


@cli.command("noise")
@click.argument("monitor_id")
@click.option("--forget", is_flag=True,
              help="Forget everything the monitor learned (it learns again from its next "
                   "confirming copies).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_context
def noise_command(context: Context, monitor_id: str, forget: bool, as_json: bool) -> None:
    """What a monitor learned changes by itself on its source, where, since when and from
    which confirming check."""
    from storage import noise

    with context.store() as store:
        if forget:
            click.echo(f"{monitor_id}: forgot {noise.forget(store, monitor_id)} learned fact(s)")
            return
        rows = noise.listing(store, monitor_id)
    if as_json:
        click.echo(terminal_json(json.dumps(rows, indent=2, ensure_ascii=False)))
        return
    if not rows:
        click.echo(f"{monitor_id}: nothing learned (no difference has needed a second copy)")
        return
    for row in rows:
        where = f" after {row['where']!r}" if row["where"] else ""
        click.echo(f"{row['kind']:<9} {row['what']!r}{where}  seen {row['seen']}x, "
                   f"{row['first_seen_at']} .. {row['last_seen_at']} "
                   f"(check #{row['learned_by_check']})")
