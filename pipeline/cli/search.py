"""``govwatch search``: full-text search over the extracted text of every version."""

from __future__ import annotations

import json
from typing import Any

import click

from core.errors import BadSearchQuery
from core.sanitise import clean_line
from pipeline.cli.group import Context, cli, pass_context

SHOWN_VERSIONS = 8


def _version_line(versions: list[dict[str, Any]]) -> str:
    """Where a text was seen: its first and last checks and the checks that began it."""
    first, last = versions[0], versions[-1]
    starts = [v for v in versions if v["outcome"] in ("new", "changed")] or [first]
    listed = ", ".join(f"#{v['check_id']} {v['started_at'][:16]}"
                       for v in starts[:SHOWN_VERSIONS])
    if len(starts) > SHOWN_VERSIONS:
        listed += f", ... ({len(starts) - SHOWN_VERSIONS} more)"
    return (f"  in {len(versions)} check(s) from #{first['check_id']} {first['started_at']} "
            f"to #{last['check_id']} {last['started_at']}; version begun at {listed}")


@cli.command("search")
@click.argument("query")
@click.option("--org", "org_ids", multiple=True, metavar="ID", help="Only this organization.")
@click.option("--monitor", "monitor_ids", multiple=True, metavar="ID", help="Only this monitor.")
@click.option("--limit", default=20, show_default=True, help="How many texts to show.")
@click.option("--fts", is_flag=True,
              help="QUERY is SQLite FTS5 syntax (OR, NOT, NEAR, prefix*) instead of words.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_context
def search_command(context: Context, query: str, org_ids: tuple[str, ...],
                   monitor_ids: tuple[str, ...], limit: int, fts: bool, as_json: bool) -> None:
    """Full-text search over every version's extracted text.

    QUERY is words, all of which must appear, as typed: punctuation splits them the way
    the text was split (high-risk finds "high risk"), "a phrase" keeps its words
    together, and a word ending in * is a prefix. --fts takes FTS5 syntax instead.
    """
    from storage.search import search

    with context.store() as store:
        try:
            matches = search(store, query, org_ids=org_ids, monitor_ids=monitor_ids,
                             limit=limit, fts=fts)
        except BadSearchQuery as exc:
            raise BadSearchQuery(f"{exc}; without --fts the words are searched as typed"
                                 ) from exc
    if as_json:
        click.echo(json.dumps(matches, indent=2))
        return
    if not matches:
        click.echo(f"no match for {query!r}")
    for match in matches:
        monitors = sorted({f"{v['org_id']}/{v['monitor_id']}" for v in match["versions"]})
        click.echo(f"{', '.join(monitors)}  content {match['content_hash'][:12]}")
        click.echo(f"  {clean_line(match['snippet'], None)}")
        click.echo(_version_line(match["versions"]))
