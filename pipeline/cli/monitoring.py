"""Core commands: check-config, run, status, history, show, kinds.

Like every command module, this one imports only what registering its commands needs;
each command imports the rest when it runs (docs/architecture.md, "Start-up").
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from core.errors import GovwatchError
from core.sanitise import clean_line, clean_text
from core.units import format_duration
from pipeline.cli.archive import print_prune
from pipeline.cli.audit import show_snapshot
from pipeline.cli.digest import print_delivery
from pipeline.cli.group import Context, cli, pass_context
from pipeline.cli.progress import progress
from pipeline.cli.site import print_site
from pipeline.cli.timespec import When
from pipeline.lock import RunLock
from pipeline.logs import emit

if TYPE_CHECKING:
    from pipeline.config import Config
    from pipeline.cycle import CycleReport


@cli.command("check-config")
@pass_context
def check_config(context: Context) -> None:
    """Validate the config and summarize organizations, kinds and schedules."""
    from pipeline.config import config_path, load_config

    path = config_path(context.config_option)
    config = load_config(path).config
    pairs = list(config.monitors())
    click.echo(f"{path}: OK - {len(config.organizations)} organizations, "
               f"{len(pairs)} monitors ({sum(m.enabled for _, m in pairs)} enabled)")
    click.echo(f"database: {context.db_option or config.database}")
    by_kind: dict[str, int] = {}
    by_every: dict[str, int] = {}
    for _, monitor in pairs:
        by_kind[monitor.kind] = by_kind.get(monitor.kind, 0) + 1
        every = format_duration(monitor.every) if monitor.every else "?"
        by_every[every] = by_every.get(every, 0) + 1
    click.echo("monitors by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(by_kind.items())))
    click.echo("schedules: " + ", ".join(f"every {e}: {n}" for e, n in sorted(by_every.items())))
    rendered = sum(m.render == "browser" for _, m in pairs)
    if rendered:
        from pipeline.fetch.browser import INSTALL_HINT, find_browser

        found = find_browser(config.browser.executable)
        click.echo(f"rendered in a browser: {rendered} monitor(s), "
                   + (f"with {found}" if found else f"but no browser is found: {INSTALL_HINT}"))
    for org in config.organizations:
        kinds = ", ".join(sorted({m.kind for m in org.monitors}))
        click.echo(f"  {org.id:<18} {len(org.monitors):>3} monitors ({kinds})  {org.name}")
    for line in publishing_notes(config):
        click.echo(line)


def publishing_notes(config: Config) -> list[str]:
    """Where the site and the feeds are written, and what a missing public_url leaves out
    (govwatch never writes a ``file://`` link in their place)."""
    notes = []
    site = config.site
    if site is not None and site.enabled:
        if site.public_url:
            notes.append(f"site: {site.directory}, served at {site.public_url}; digests and "
                         "feeds link each change to its page")
        else:
            notes.append(f"site: {site.directory}; no site.public_url: links inside the site "
                         "are relative, and digests and feeds do not link to change pages")
    feed = config.notifications.feed
    if feed is not None and feed.enabled:
        if feed.public_url:
            notes.append(f"feeds: {feed.directory}, served at {feed.public_url}")
        else:
            notes.append(f"feeds: {feed.directory}; no notifications.feed.public_url: the "
                         "feeds have no self link" + ("" if config.site_url else
                                                      ", and the global RSS feed no channel "
                                                      "link unless site.public_url is set"))
    return notes


@cli.command(ids_from="config")
@click.option("--all", "run_all", is_flag=True, help="Run every enabled monitor, due or not.")
@click.option("--org", "org_ids", multiple=True, metavar="ID", help="Only this organization.")
@click.option("--monitor", "monitor_ids", multiple=True, metavar="ID",
              help="Only this monitor (runs it even if not due).")
@click.option("--where", is_flag=True,
              help="End by saying where the results are and which commands show them.")
@pass_context
def run(context: Context, run_all: bool, org_ids: tuple[str, ...],
        monitor_ids: tuple[str, ...], where: bool) -> None:
    """Run one cycle over the monitors that are due, then exit."""
    import asyncio

    from pipeline.cycle import run_cycle, select_monitors
    from pipeline.digest import digest_stage, start_channels
    from pipeline.site import site_stage
    from storage.records import utc_now
    from storage.retention import prune_bodies
    from storage.runs import RunRecord, record_run

    config = context.config()
    with RunLock(context.database(config), "cron"), \
            context.store(config, create=True) as store:
        store.sync_monitors(config.organizations)
        start_channels(config, store)
        monitors = select_monitors(config, store, run_all=run_all, org_ids=org_ids,
                                   monitor_ids=monitor_ids)
        with progress(len(monitors)) as advance:
            report = asyncio.run(run_cycle(config, store, monitors, on_check=advance))
        record_run(store, RunRecord.from_counts(
            "cron", os.getpid(), report.started_at, report.finished_at, report.counts))
        print_report(report)
        pruned = written = None
        try:
            delivery = digest_stage(config, store)                        # 5. digest
            written = site_stage(config, store)                           # 6. site
        finally:  # a failing channel never keeps the retention policy from running
            if config.retention is not None:
                pruned = prune_bodies(store, keep_days=config.retention.keep_days,
                                      keep_versions=config.retention.keep_versions,
                                      now=utc_now())
    if delivery is not None:
        print_delivery(delivery)
    if written is not None and written.written:
        print_site(written)
    if pruned is not None and pruned.pruned:
        print_prune(pruned)
    if where:
        print_where(context, config)


def print_where(context: Context, config: Config) -> None:
    """The database, the feed directory, and the commands that read them (as typed)."""
    import shlex

    database = str(Path(context.database(config)).resolve())
    feed = config.notifications.feed
    feeds, described = None, "none (no feed channel is enabled)"
    if feed is not None and feed.enabled:
        feeds = str(Path(feed.directory).resolve())
        described = f"{feeds} ({', '.join(feed.formats)})"
    options = "".join(f" {flag} {shlex.quote(value)}" for flag, value in (
        ("--config", context.config_option), ("--db", context.db_option)) if value)
    commands = [f"govwatch{options} {command}" for command in ("status", "timeline", "show ID")]
    emit("where", f"database: {database}\nfeeds:    {described}\n"
                  f"next:     {' | '.join(commands)}",
         database=database, feeds=feeds, next=commands)


def print_report(report: CycleReport) -> None:
    counts = report.counts
    emit("checked",
         f"checked {len(report.checks)}: new {counts['new']}, changed {counts['changed']}, "
         f"unchanged {counts['unchanged']}, not-modified {counts['not-modified']}, "
         f"blocked {counts['blocked']}, errors {counts['error']}",
         checked=len(report.checks), new=counts["new"], changed=counts["changed"],
         unchanged=counts["unchanged"], not_modified=counts["not-modified"],
         blocked=counts["blocked"], errors=counts["error"])
    for check in report.changes:
        summary, url = clean_line(check.summary), clean_line(check.url, None)
        emit("change", f"CHANGE #{check.change_id} {check.org_id}/{check.monitor_id}: "
                       f"{summary} <{url}>",
             change_id=check.change_id, organization=check.org_id, monitor=check.monitor_id,
             summary=summary, url=url)
    if report.muted:
        emit("muted", f"({len(report.muted)} change(s) below their monitor's "
                      "min_significance recorded without notice)", count=len(report.muted))
    for check in report.errors:
        error, url = clean_line(check.error, None), clean_line(check.url, None)
        emit("check-error", f"ERROR {check.org_id}/{check.monitor_id}: {error} <{url}>",
             level="warning", organization=check.org_id, monitor=check.monitor_id,
             error=error, url=url)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_context
def status(context: Context, as_json: bool) -> None:
    """One row per monitor: last check, outcome, failures, last change."""
    from storage.queries import monitor_status
    from storage.runs import describe_run, last_run

    with context.store() as store:
        rows = monitor_status(store)
        heartbeat = last_run(store)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(describe_run(heartbeat))
    click.echo(f"{'ORGANIZATION':<16} {'MONITOR':<34} {'LAST CHECK':<24} {'OUTCOME':<13} "
               f"{'FAILS':>5} LAST CHANGE")
    for row in rows:
        click.echo(f"{row['organization']:<16} {row['monitor']:<34} "
                   f"{row['last_check_at'] or '-':<24} {row['last_outcome'] or '-':<13} "
                   f"{row['consecutive_failures']:>5} {row['last_change_at'] or '-'}")
    for row in rows:
        if row["advice"]:
            click.echo(f"! {row['organization']}/{row['monitor']} ({row['signal']}): "
                       f"{row['advice']}")


@cli.command()
@click.argument("monitor_id")
@click.option("--limit", default=50, show_default=True, help="How many checks to list.")
@click.option("--since", type=When(), help="Checks from this time (2026-11-28, ISO, or 7d).")
@click.option("--until", type=When(end_of_day=True), help="Checks up to this time.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_context
def history(context: Context, monitor_id: str, limit: int, since: str | None,
            until: str | None, as_json: bool) -> None:
    """A monitor's checks and changes, newest first, with their ids."""
    from storage.queries import monitor_history

    with context.store() as store:
        rows = monitor_history(store, monitor_id, limit, since, until)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        line = (f"check #{row['check_id']} {row['started_at']} {row['outcome']:<12} "
                f"HTTP {row['status'] or '-'} {row['bytes'] or 0} B {row['duration_ms']} ms")
        if row["change_id"] is not None:
            line += (f"  change #{row['change_id']} [{row['change_kind']}] "
                     f"{clean_line(row['summary'])}")
            if not row["notable"]:
                line += " (not announced)"
        if row["error"]:
            line += f"  {clean_line(row['error'], None)}"
        if row["note"]:
            line += f"  ({clean_line(row['note'], None)})"
        click.echo(line)


@cli.command()
@click.argument("target", metavar="SNAPSHOT_OR_CHANGE")
@click.option("--raw", is_flag=True, help="For a snapshot: write the raw body to stdout.")
@pass_context
def show(context: Context, target: str, raw: bool) -> None:
    """Print one change with its diff, or one snapshot (hash or 8+ hex prefix) and its text."""
    from monitors.feed import ordered_changes
    from storage.audit import find_snapshot
    from storage.queries import change_detail

    with context.store() as store:
        snapshot_hash = find_snapshot(store, target)
        if snapshot_hash is not None:
            show_snapshot(store, snapshot_hash, raw=raw)
            return
        if not target.isdigit():
            raise GovwatchError(f"{target!r} is neither a change id nor a snapshot hash "
                                f"(or a prefix of at least 8 hex digits) in the store")
        row = change_detail(store, int(target))
    # Everything below but the ids and times is fetched text: one clean line per field,
    # the diff clean text (core.sanitise); the field diffs are shown whole, not clipped.
    click.echo(f"change #{row['id']} [{row['kind']}] {row['org_id']}/{row['monitor_id']}")
    click.echo(f"url:      {clean_line(row['url'], None)}")
    click.echo(f"detected: {row['detected_at']} (check #{row['check_id']})")
    click.echo(f"from:     {row['from_snapshot'] or '-'}\nto:       {row['to_snapshot'] or '-'}")
    click.echo(f"summary:  {clean_line(row['summary'])}")
    reasons = clean_line("; ".join(json.loads(row["reasons"] or "[]")), None)
    click.echo(f"significance: {row['significance']:.2f}" + (f" ({reasons})" if reasons else ""))
    detail = row["detail"]
    for document in detail.get("documents", []):
        click.echo(f"  new document: {_title(document)} <{clean_line(document['url'], None)}>")
    for entry in detail.get("entries_added", []):
        click.echo(f"  + {_title(entry)} <{clean_line(entry.get('link'), None)}>")
    for entry in detail.get("entries_updated", []):
        fields = clean_line(", ".join(entry.get("fields", [])), None)
        click.echo(f"  ~ {_title(entry)} <{clean_line(entry.get('link'), None)}> ({fields})")
        for name, edit in ordered_changes(entry.get("changes") or {}):
            click.echo(f"      {clean_line(name)}: {clean_line(edit.get('words', ''), None)}")
    for entry in detail.get("entries_removed", []):
        click.echo(f"  - {_title(entry)} <{clean_line(entry.get('link'), None)}>")
    if row["diff"]:
        click.echo("")
        click.echo(clean_text(row["diff"]))


def _title(item: dict[str, object]) -> str:
    """A fetched document's or entry's title as one clean line."""
    return clean_line(item.get("title")) or "(untitled)"


@cli.command()
def kinds() -> None:
    """List the registered monitor kinds."""
    from monitors import monitor_kinds

    for name, kind_class in sorted(monitor_kinds().items()):
        click.echo(f"{name:<6} {kind_class.description}")
