"""Audit commands: diff, timeline, verify, heads (and the snapshot view of ``show``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from core.errors import VerificationFailed
from core.sanitise import clean_line, clean_text
from pipeline.cli.group import Context, cli, pass_context
from pipeline.cli.timespec import BadTime, When, looks_like_time, parse_when
from storage.records import iso

if TYPE_CHECKING:  # the commands import what they use when they run
    from storage.db import Store
    from storage.integrity import VerifyReport


def show_snapshot(store: Store, snapshot_hash: str, *, raw: bool = False) -> None:
    """``govwatch show HASH``: metadata, who saw it, and the extracted text."""
    from storage.audit import snapshot_detail

    if raw:
        sys.stdout.buffer.write(store.load_body(snapshot_hash))
        sys.stdout.buffer.flush()
        return
    detail = snapshot_detail(store, snapshot_hash)
    click.echo(f"snapshot {detail['hash']}")
    content_type = clean_line(detail["content_type"]) or "no content type"
    click.echo(f"size:       {detail['size']} B ({content_type})")
    if detail["pruned_at"]:
        click.echo(f"body:       pruned at {detail['pruned_at']} (hash kept)")
    else:
        against = f" against base {detail['base'][:16]}" if detail["base"] else ""
        click.echo(f"body:       {detail['stored_bytes']} B stored ({detail['compression']}"
                   f"{against})")
    click.echo(f"first seen: {detail['first_seen_at']}")
    for seen in detail["seen_by"]:
        click.echo(
            f"seen by {seen['org_id']}/{seen['monitor_id']}: {seen['checks']} check(s), "
            f"#{seen['first_check_id']} {seen['first_seen']} .. "
            f"#{seen['last_check_id']} {seen['last_seen']} ({seen['outcomes']}) "
            f"<{clean_line(seen['final_url'], None)}>"
        )
    if not detail["contents"]:
        click.echo("\nno extracted text: extraction of this body failed")
    for content in detail["contents"]:
        click.echo(f"\n--- extracted text ({content['monitor_id']}, "
                   f"content {content['hash'][:16]})")
        click.echo(clean_text(content["text"]) or "(empty)")


def resolve_version(store: Store, monitor_id: str, spec: str) -> dict[str, Any]:
    """A check id, a snapshot hash prefix, or a time (the version current then)."""
    from storage.audit import (
        find_snapshot,
        is_hash_prefix,
        latest_version,
        version_at,
        version_by_check,
        version_by_snapshot,
    )

    spec = spec.strip()
    if spec.isdigit():
        found = version_by_check(store, monitor_id, int(spec))
        if found is not None:
            return found
    if is_hash_prefix(spec):
        snapshot_hash = find_snapshot(store, spec)
        if snapshot_hash is not None:
            return version_by_snapshot(store, monitor_id, snapshot_hash)
    if spec in ("latest", "now"):
        return latest_version(store, monitor_id)
    if looks_like_time(spec):
        try:
            return version_at(store, monitor_id, iso(parse_when(spec, end_of_day=True)))
        except BadTime as exc:
            raise click.BadParameter(str(exc)) from exc
    raise click.BadParameter(
        f"{spec!r} is not a check of {monitor_id}, a snapshot hash prefix or a time")


def _describe(version: dict[str, Any]) -> str:
    return (f"check #{version['check_id']} {version['started_at']} "
            f"(snapshot {(version['snapshot_hash'] or '-')[:12]})")


@cli.command()
@click.argument("monitor_id")
@click.option("--from", "from_spec", required=True, metavar="WHEN_OR_ID",
              help="Check id, snapshot hash prefix, or a time (the version current then).")
@click.option("--to", "to_spec", default="latest", show_default=True, metavar="WHEN_OR_ID",
              help="Same forms as --from.")
@pass_context
def diff(context: Context, monitor_id: str, from_spec: str, to_spec: str) -> None:
    """Diff the extracted text of any two versions of a monitor."""
    from monitors.diffing import unified_text_diff

    with context.store() as store:
        old = resolve_version(store, monitor_id, from_spec)
        new = resolve_version(store, monitor_id, to_spec)
    click.echo(f"{monitor_id}: from {_describe(old)}")
    click.echo(f"{' ' * len(monitor_id)}    to {_describe(new)}")
    if old["content_hash"] == new["content_hash"]:
        click.echo("no difference in the extracted text")
        return
    text = unified_text_diff(old["text"] or "", new["text"] or "")
    click.echo("")
    click.echo(clean_text(text) or "the extracted data differs, the text does not")


@cli.command("timeline")
@click.option("--org", "org_ids", multiple=True, metavar="ID", help="Only this organization.")
@click.option("--since", type=When(), help="Changes from this time (date, ISO, or 7d).")
@click.option("--until", type=When(end_of_day=True), help="Changes up to this time.")
@click.option("--limit", default=200, show_default=True, help="The newest N changes.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_context
def timeline_command(context: Context, org_ids: tuple[str, ...], since: str | None,
                     until: str | None, limit: int, as_json: bool) -> None:
    """What changed when, across monitors, oldest first."""
    from storage.audit import timeline

    with context.store() as store:
        rows = timeline(store, org_ids, since, until, limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    day = ""
    for row in rows:
        if row["detected_at"][:10] != day:
            day = row["detected_at"][:10]
            click.echo(f"== {day}")
        click.echo(f"{row['detected_at'][11:16]}  {row['org_id']}/{row['monitor_id']}  "
                   f"change #{row['change_id']} [{row['kind']}] {clean_line(row['summary'])}")
    if not rows:
        click.echo("no changes")


def load_heads(path: Path) -> dict[str, str]:
    """``{monitor: head}`` as ``heads --json`` prints it, or an object with a ``heads`` key."""
    from storage.audit import is_hash_prefix

    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"cannot read heads from {path}: {exc}") from exc
    if isinstance(loaded, dict) and isinstance(loaded.get("heads"), dict):
        loaded = loaded["heads"]
    if not isinstance(loaded, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and is_hash_prefix(v) and len(v) == 64
        for k, v in loaded.items()
    ):
        raise click.BadParameter(
            f"{path}: expected a JSON object of monitor id -> 64-hex head hash")
    return dict(loaded)


def _print_report(report: VerifyReport) -> None:
    for problem in report.problems:
        click.echo(f"PROBLEM {clean_line(problem, None)}")
    click.echo(
        f"checked {report.checks} checks in {report.chains} chains, {report.snapshots} "
        f"snapshots ({report.pruned} pruned, reported as pruned), {report.contents} contents"
        + (f", {report.heads_checked} published heads" if report.heads_checked else "")
    )
    if report.legacy:
        click.echo(f"{report.legacy} checks were recorded before captures and snapshot "
                   "metadata were chained: a seal covers those (monitors.legacy_seal, then "
                   "the monitor's next check)")


@cli.command("verify")
@click.option("--against", "heads_file", type=click.Path(path_type=Path, dir_okay=False),
              metavar="HEADS", help="JSON of heads published earlier (heads --json, digest).")
@pass_context
def verify_command(context: Context, heads_file: Path | None) -> None:
    """Recompute every body hash and every chain; exit 1 on any mismatch."""
    from storage.integrity import verify

    against = load_heads(heads_file) if heads_file is not None else None
    with context.store() as store:
        report = verify(store, against)
    _print_report(report)
    if not report.ok:
        raise VerificationFailed(f"verify found {len(report.problems)} problem(s)")
    click.echo("OK: the history is intact")


@cli.command("heads")
@click.option("--json", "as_json", is_flag=True, help="Print {monitor: head} as JSON.")
@pass_context
def heads_command(context: Context, as_json: bool) -> None:
    """The current head hash of every monitor's chain (what digests publish)."""
    from storage.chain import current_heads

    with context.store() as store:
        heads = current_heads(store.db)
        newest = dict(store.db.execute(
            "SELECT monitor_id, max(id) FROM checks GROUP BY monitor_id").fetchall())
    if as_json:
        click.echo(json.dumps(heads, indent=2, sort_keys=True))
        return
    if not heads:
        click.echo("no chains yet: no check has been recorded")
    for monitor, head in heads.items():
        click.echo(f"{monitor:<36} check #{newest.get(monitor, '-')!s:<8} {head}")
