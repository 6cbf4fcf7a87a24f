"""The digest command: deliver what the notification channels owe."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from core.errors import NotificationError
from core.sanitise import clean_line
from pipeline.cli.group import Context, cli, pass_context
from pipeline.logs import emit

if TYPE_CHECKING:
    from notifications.outbox import DeliveryReport


@cli.command()
@click.option("--channel", type=click.Choice(["email", "feed", "webhook", "apprise"]),
              help="Only this channel (default: every enabled channel).")
@click.option("--dry-run", is_flag=True,
              help="Print what would be sent (the email itself) and write nothing.")
@pass_context
def digest(context: Context, channel: str | None, dry_run: bool) -> None:
    """Send the digests that are owed now, whatever the `digest` schedule says."""
    from pipeline.digest import deliver_owed, preview_owed

    config = context.config()
    with context.store(config) as store:
        if dry_run:
            report = preview_owed(config, store, channel=channel)
            for part in report.channels:
                emit("digest-preview", part.preview or f"{part.channel}: nothing owed",
                     channel=part.channel, preview=part.preview or None)
            return
        report = deliver_owed(config, store, channel=channel)
    print_delivery(report)
    failed = [part for part in report.channels if part.error]
    if failed:
        raise NotificationError("; ".join(f"{part.channel}: {part.error}" for part in failed))


def print_delivery(report: DeliveryReport) -> None:
    if not report.channels:
        emit("digest", "digest: no notification channel is enabled", channel=None)
    for part in report.channels:
        if not (part.delivered or part.messages_sent or part.error):
            line = f"digest {part.channel}: nothing owed"
        else:
            line = (f"digest {part.channel}: {part.delivered} item(s) delivered, "
                    f"{part.messages_sent} message(s) sent")
            if part.refused:
                line += f", refused recipients: {clean_line(', '.join(part.refused), None)}"
            if part.failed:
                line += (f", {len(part.failed)} message(s) refused for good (recorded "
                         f"failed): {clean_line('; '.join(part.failed), None)}")
            if part.error:
                line += f"; FAILED, still owed: {clean_line(part.error, None)}"
        emit("digest", line, level="error" if part.error or part.failed else "info",
             channel=part.channel, delivered=part.delivered, messages_sent=part.messages_sent,
             refused=list(part.refused), failed=list(part.failed), error=part.error or None)
    if report.alerts_recorded:
        emit("alerts", f"failure alerts recorded: {report.alerts_recorded}",
             recorded=report.alerts_recorded)
