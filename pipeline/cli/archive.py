"""Archive commands: export (WARC, JSON Lines), backup, prune."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from core.errors import GovwatchError
from pipeline.cli.group import Context, cli, pass_context
from pipeline.cli.timespec import When
from pipeline.logs import emit

if TYPE_CHECKING:  # the commands import what they use when they run
    from storage.retention import PruneReport


@cli.command("export")
@click.option("--format", "export_format", type=click.Choice(["warc", "jsonl"]), required=True,
              help="warc: raw captures (request + response records); jsonl: checks, changes.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), required=True,
              metavar="PATH", help="File to write (.warc.gz is gzipped per record).")
@click.option("--org", "org_ids", multiple=True, metavar="ID", help="Only this organization.")
@click.option("--monitor", "monitor_ids", multiple=True, metavar="ID", help="Only this monitor.")
@click.option("--since", type=When(), help="Checks from this time (date, ISO, or 7d).")
@click.option("--force", is_flag=True, help="Replace PATH if it exists (a regular file only).")
@pass_context
def export_command(context: Context, export_format: str, output: Path,
                   org_ids: tuple[str, ...], monitor_ids: tuple[str, ...],
                   since: str | None, force: bool) -> None:
    """Export the history as WARC or JSON Lines."""
    from pipeline.export import export  # warcio: only export needs it
    from storage.audit import export_checks
    from storage.outfiles import check_target

    check_target(output, force=force)  # before a long export, not after it
    with context.store() as store:
        if output.resolve() == store.path.resolve():
            raise GovwatchError("the export must not be the database itself")
        counts = export(store, export_checks(store, org_ids, monitor_ids, since), output,
                        export_format, force=force)
    if export_format == "warc":
        click.echo(f"{output}: {counts.checks} checks -> {counts.responses} responses, "
                   f"{counts.revisits} revisits, {counts.not_modified} not-modified; skipped "
                   f"{counts.skipped_no_capture} with nothing received, "
                   f"{counts.skipped_pruned} with pruned bodies")
    else:
        click.echo(f"{output}: {counts.checks} checks, {counts.changes} changes")


@cli.command("backup")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@pass_context
def backup_command(context: Context, path: Path, force: bool) -> None:
    """Copy the database with SQLite's online backup (safe while a run writes)."""
    from storage.backup import backup_database

    with context.store() as store:
        if path.resolve() == store.path.resolve():
            raise GovwatchError("the backup must not be the database itself")
        report = backup_database(store, path, force=force)
    click.echo(f"backed up to {report.path}: {report.pages} pages, {report.bytes} B")


@cli.command("prune")
@click.option("--keep-days", type=click.IntRange(min=1), metavar="N",
              help="Keep bodies seen in the last N days (overrides retention.keep_days).")
@click.option("--keep-versions", type=click.IntRange(min=1), metavar="N",
              help="Keep each monitor's newest N bodies (overrides retention.keep_versions).")
@click.option("--dry-run", is_flag=True, help="Count what would be pruned, change nothing.")
@pass_context
def prune_command(context: Context, keep_days: int | None, keep_versions: int | None,
                  dry_run: bool) -> None:
    """Prune raw bodies by the retention policy; hashes, text and the chain stay."""
    from storage.records import utc_now
    from storage.retention import prune_bodies

    config = None
    if keep_days is None and keep_versions is None:
        config = context.config()
        if config.retention is None:
            raise click.UsageError("no retention policy: set `retention` in the config or "
                                   "pass --keep-days / --keep-versions")
        keep_days, keep_versions = config.retention.keep_days, config.retention.keep_versions
    with context.store(config) as store:
        report = prune_bodies(store, keep_days=keep_days, keep_versions=keep_versions,
                              now=utc_now(), dry_run=dry_run)
    print_prune(report)


def print_prune(report: PruneReport) -> None:
    verb = "would prune" if report.dry_run else "pruned"
    emit("prune", f"{verb} {report.pruned} bodies ({report.bytes_freed} B compressed); "
                  f"{report.kept} bodies kept",
         dry_run=report.dry_run, pruned=report.pruned, bytes_freed=report.bytes_freed,
         kept=report.kept)
