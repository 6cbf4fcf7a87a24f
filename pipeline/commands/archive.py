"""Archive commands: export (WARC, JSON Lines), backup, prune."""

from __future__ import annotations

from pathlib import Path

import click

from monitors.errors import GovwatchError
from pipeline.cli import Context, cli, pass_context
from pipeline.export import export
from pipeline.timespec import When
from storage.audit import export_checks, organization_exists
from storage.db import Store
from storage.queries import monitor_exists


def check_scope(store: Store, org_ids: tuple[str, ...], monitor_ids: tuple[str, ...]) -> None:
    unknown = [f"organization {o!r}" for o in org_ids if not organization_exists(store, o)]
    unknown += [f"monitor {m!r}" for m in monitor_ids if not monitor_exists(store, m)]
    if unknown:
        raise GovwatchError(f"unknown {', '.join(unknown)}")


@cli.command("export")
@click.option("--format", "export_format", type=click.Choice(["warc", "jsonl"]), required=True,
              help="warc: raw captures (request + response records); jsonl: checks, changes.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), required=True,
              metavar="PATH", help="File to write (.warc.gz is gzipped per record).")
@click.option("--org", "org_ids", multiple=True, metavar="ID", help="Only this organization.")
@click.option("--monitor", "monitor_ids", multiple=True, metavar="ID", help="Only this monitor.")
@click.option("--since", type=When(), help="Checks from this time (date, ISO, or 7d).")
@pass_context
def export_command(context: Context, export_format: str, output: Path,
                   org_ids: tuple[str, ...], monitor_ids: tuple[str, ...],
                   since: str | None) -> None:
    """Export the history as WARC or JSON Lines."""
    with context.store() as store:
        check_scope(store, org_ids, monitor_ids)
        counts = export(store, export_checks(store, org_ids, monitor_ids, since), output,
                        export_format)
    if export_format == "warc":
        click.echo(f"{output}: {counts.checks} checks -> {counts.responses} responses, "
                   f"{counts.revisits} revisits, {counts.not_modified} not-modified; skipped "
                   f"{counts.skipped_no_capture} with nothing received, "
                   f"{counts.skipped_pruned} with pruned bodies")
    else:
        click.echo(f"{output}: {counts.checks} checks, {counts.changes} changes")
