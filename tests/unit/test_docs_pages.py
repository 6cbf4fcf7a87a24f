"""The reference pages checked against the code: every command and option, exit code,
deployment file, table and column, and module of the layout is documented; the pages
stay short and their links resolve. (test_docs.py: config keys and YAML examples.)"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

import pipeline.cli.main  # noqa: F401  (registers the commands on the group)
from pipeline import VERSION
from pipeline.cli import group
from storage.migrations import MIGRATIONS
from tests.unit.docs_support import (
    CHANGELOG,
    DOCS,
    LINE_LIMITS,
    LINKED_FILES,
    REPO,
    code_spans,
    headings,
    prose,
    section,
    text_of,
)

# -- commands -------------------------------------------------------------------------

COMMANDS_PAGE = DOCS / "commands.md"


def walk_commands(command: click.Command, path: tuple[str, ...]) -> Iterator[
        tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            if not sub.hidden:
                yield from walk_commands(sub, (*path, name))


COMMANDS = list(walk_commands(group.cli, ("govwatch",)))


def command_section(path: tuple[str, ...]) -> str:
    if len(path) == 1:
        return section(COMMANDS_PAGE, "Global options")
    return section(COMMANDS_PAGE, f"`{' '.join(path)}`")


def undocumented(path: tuple[str, ...], command: click.Command) -> list[str]:
    text = command_section(path)
    name = " ".join(path)
    if not text:
        return [f"{name}: no section"]
    missing = []
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        if isinstance(param, click.Argument):
            if not re.search(rf"\b{re.escape(param.human_readable_name)}\b", text):
                missing.append(f"{name}: argument {param.human_readable_name}")
            continue
        missing += [f"{name}: option {opt}" for opt in (*param.opts, *param.secondary_opts)
                    if not re.search(rf"`{re.escape(opt)}[`\s=]", text)]
        if isinstance(param.type, click.Choice):
            missing += [f"{name}: {param.opts[0]} choice {choice}"
                        for choice in param.type.choices
                        if not re.search(rf"\b{re.escape(str(choice))}\b", text)]
    return missing


def test_every_command_and_option_is_documented() -> None:
    missing = [item for path, command in COMMANDS for item in undocumented(path, command)]
    assert not missing, f"missing from docs/commands.md: {missing}"


def test_commands_page_documents_no_stale_command() -> None:
    known = {" ".join(path) for path, _ in COMMANDS}
    titled = [span for title in headings(COMMANDS_PAGE) for span in code_spans(title)
              if span.startswith("govwatch")]
    assert titled
    stale = sorted(set(titled) - known)
    assert not stale, f"docs/commands.md has sections for commands that do not exist: {stale}"


def commands_used(text: str) -> Iterator[str]:
    """The command of every ``govwatch ...`` in inline code and after a ``$`` prompt."""
    takes_value = {opt for param in group.cli.params if isinstance(param, click.Option)
                   and not param.is_flag for opt in param.opts}
    invocations = re.findall(r"`(?:\S*/)?govwatch ([^`]*)`", text)
    invocations += re.findall(r"^\$ (?:\S*/)?govwatch (.*)$", text, re.MULTILINE)
    for invocation in invocations:
        words = invocation.split()
        while words and words[0].startswith("-"):
            words = words[2:] if words[0] in takes_value else words[1:]
        if words and re.fullmatch(r"[a-z][a-z-]*", words[0]):
            yield words[0]


def test_commands_named_in_the_docs_exist() -> None:
    known = set(group.cli.commands)
    unknown = sorted({f"{path.name}: govwatch {word}" for path in LINKED_FILES
                      for word in commands_used(text_of(path)) if word not in known})
    assert not unknown, f"the docs run commands that do not exist: {unknown}"


# -- operations: exit codes, deployment files -----------------------------------------

OPERATIONS = DOCS / "operations.md"


def test_every_exit_code_is_documented() -> None:
    codes = {value for name, value in vars(group).items() if name.startswith("EXIT_")}
    assert {0, 1, 2} <= codes
    rows = {int(m) for m in re.findall(r"^\| (\d+) \|", section(OPERATIONS, "Exit codes"),
                                       re.MULTILINE)}
    assert rows == codes, f"exit codes in the code {sorted(codes)}, documented {sorted(rows)}"


def test_every_deployment_file_is_documented() -> None:
    text = text_of(OPERATIONS)
    missing = [p.name for p in sorted((REPO / "deploy").iterdir())
               if f"deploy/{p.name}" not in text]
    assert not missing, f"deploy/ files not described in docs/operations.md: {missing}"


# -- data model -----------------------------------------------------------------------

def test_every_table_and_column_is_documented(tmp_path: Path) -> None:
    from storage.db import Store

    with Store(tmp_path / "docs.db") as store:
        rows = store.db.execute("SELECT name, sql FROM sqlite_master WHERE type IN "
                                "('table', 'view') AND name NOT LIKE 'sqlite_%'").fetchall()
        virtual = [name for name, sql in rows if sql.startswith("CREATE VIRTUAL TABLE")]
        tables = {name: [column[1] for column in store.db.execute(
                      f"SELECT * FROM pragma_table_info('{name}')").fetchall()]
                  for name, _ in rows
                  if not any(name.startswith(f"{v}_") for v in virtual)}  # FTS5 shadows
    assert {"checks", "changes", "snapshots", "deliveries", "monitor_status"} <= set(tables)
    page = text_of(DOCS / "audit.md").splitlines()
    missing = []
    for table, columns in sorted(tables.items()):
        row = next((line for line in page if line.startswith(f"| `{table}` |")), None)
        if row is None:
            missing.append(f"table {table}")
            continue
        missing += [f"{table}.{c}" for c in columns if f"`{c}`" not in row.split("|")[2]]
    assert not missing, f"missing from the tables of docs/audit.md: {missing}"


def test_the_schema_version_is_documented() -> None:
    assert f"now {len(MIGRATIONS)}" in text_of(DOCS / "audit.md")


# -- architecture ---------------------------------------------------------------------

ARCHITECTURE = DOCS / "architecture.md"


def documented_layout() -> dict[str, set[str]]:
    """The modules the Layout block lists, by package directory."""
    block = re.search(r"^```text\n(.*?)^```", section(ARCHITECTURE, "Layout"),
                      re.MULTILINE | re.DOTALL)
    assert block, "docs/architecture.md has no Layout block"
    layout: dict[str, set[str]] = {}
    directory = ""
    for line in block.group(1).splitlines():
        if line and not line[0].isspace():
            directory = line.split()[0].rstrip("/")
            layout[directory] = set()
        layout[directory].update(re.findall(r"\b(\w+\.py)\b", line))
    return layout


def test_the_layout_lists_every_module_and_no_other() -> None:
    layout = documented_layout()
    packages = sorted({p.parent.relative_to(REPO).as_posix()
                       for top in ("core", "monitors", "storage", "notifications", "pipeline")
                       for p in (REPO / top).rglob("__init__.py")})
    problems = []
    for package in packages:
        actual = {p.name for p in (REPO / package).glob("*.py") if p.name != "__init__.py"}
        listed = layout.get(package, set())
        problems += [f"{package}/{name} not listed" for name in sorted(actual - listed)]
        problems += [f"{package}/{name} listed, does not exist" for name in sorted(listed - actual)]
    problems += [f"{d}/ is not a package" for d in sorted(set(layout) - set(packages))]
    assert not problems, f"docs/architecture.md, Layout: {problems}"


# -- size, links, versions ------------------------------------------------------------

@pytest.mark.parametrize("path", list(LINE_LIMITS), ids=lambda p: p.name)
def test_pages_stay_short(path: Path) -> None:
    lines = len(text_of(path).splitlines())
    assert lines <= LINE_LIMITS[path], f"{path.name}: {lines} lines, limit {LINE_LIMITS[path]}"


def slug(title: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for title in headings(path):
        base = slug(title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(path: Path) -> Iterator[str]:
    for target in re.findall(r"\[[^\]]*\]\(([^)\s]+)\)", prose(path)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            yield f"{path.name}: {target} (no such file)"
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            yield f"{path.name}: {target} (no such heading)"


def test_every_relative_link_resolves() -> None:
    links = [re.findall(r"\]\(([^)\s]+)\)", prose(path)) for path in LINKED_FILES]
    assert sum(map(len, links)) > 20
    broken = [problem for path in LINKED_FILES for problem in broken_links(path)]
    assert not broken, f"broken links: {broken}"


def test_the_version_is_released_in_the_changelog() -> None:
    project = tomllib.loads(text_of(REPO / "pyproject.toml"))["project"]
    assert project["version"] == VERSION
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", text_of(CHANGELOG),
                          re.MULTILINE)
    assert releases and releases[0] == VERSION, f"newest release {releases[:1]}, code {VERSION}"
