"""``govwatch``'s entry point: every family of commands registered on one group."""

from __future__ import annotations

from pipeline.cli import archive, audit, detect, digest, monitoring, ops, search, site
from pipeline.cli.group import cli

# Imported for their ``@cli.command`` registrations.
COMMAND_FAMILIES = (archive, audit, detect, digest, monitoring, ops, search, site)


def main() -> None:
    cli(prog_name="govwatch")


if __name__ == "__main__":
    main()
