"""The docs are tested against the code, so they cannot drift from it silently.

Everything is found by walking the code, not listed here: every key of every config model
(from the root ``Config`` down, monitors and notification channels included), every
command and option of the click group, every table and column of a fresh database, every
module of the layout, every exit code, every deployment file. Each check reports what is
missing by name.

YAML examples: a block is a whole config unless its first line names a fragment:
``# fragment: top-level`` (top-level keys; an organization is added), ``# fragment:
monitor`` (one monitor entry) or ``# fragment: a.b`` (the mapping under that dotted path).
"""

from __future__ import annotations

import re
import textwrap
import tomllib
import typing
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from pydantic import BaseModel

import pipeline.cli.main  # noqa: F401  (registers the commands on the group)
from core.errors import ConfigError
from monitors import monitor_kinds
from notifications import notifier_channels
from pipeline import VERSION
from pipeline.cli import group
from pipeline.config import Config, parse_config
from storage.migrations import MIGRATIONS

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
README = REPO / "README.md"
CHANGELOG = REPO / "CHANGELOG.md"
PAGES = sorted(DOCS.glob("*.md"))
LINKED_FILES = [README, CHANGELOG, *PAGES]
LINE_LIMITS = {README: 200, DOCS / "architecture.md": 250}


def text_of(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def marked_lines(path: Path) -> list[tuple[str, bool]]:
    """Each line of a page, and whether it is inside a fenced code block."""
    marked, fenced = [], False
    for line in text_of(path).splitlines():
        fence = line.startswith("```")
        fenced ^= fence
        marked.append((line, fenced or fence))
    return marked


def prose(path: Path) -> str:
    """The page without its fenced code blocks (a ``# comment`` there is no heading)."""
    return "\n".join(line for line, code in marked_lines(path) if not code)


def level(line: str) -> int:
    return len(line) - len(line.lstrip("#")) if line.startswith("#") else 0


def headings(path: Path) -> list[str]:
    return [line.lstrip("#").strip() for line, code in marked_lines(path)
            if not code and level(line)]


def section(page: Path, title: str) -> str:
    """The part of ``page`` under the first heading that contains ``title``, up to the next
    heading of the same or a higher level; empty when there is no such heading."""
    lines = marked_lines(page)
    starts = [n for n, (line, code) in enumerate(lines)
              if not code and level(line) and title in line]
    if not starts:
        return ""
    start = starts[0]
    end = next((n for n in range(start + 1, len(lines)) if not lines[n][1]
                and 0 < level(lines[n][0]) <= level(lines[start][0])), len(lines))
    return "\n".join(line for line, _ in lines[start:end])


def code_spans(line: str) -> list[str]:
    return re.findall(r"`([^`]+)`", line)


# -- config keys ----------------------------------------------------------------------

def nested_models(annotation: object) -> Iterator[type[BaseModel]]:
    """The models inside a field's type: ``X``, ``X | None``, ``tuple[X, ...]``, ...."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from nested_models(argument)


def config_keys(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(path, key) for every key a config file can write, walking nested models."""
    for name, field in model.model_fields.items():
        key = field.alias or name
        yield f"{prefix}{key}", key
        for inner in nested_models(field.annotation):
            yield from config_keys(inner, f"{prefix}{key}.")


CONFIG_PAGES = (DOCS / "configuration.md", DOCS / "notifications.md")
ALL_CONFIG_KEYS = sorted(set(config_keys(Config)))


def key_table_rows(path: Path) -> Iterator[str]:
    """The first cell of every row of a table whose header starts with ``| key |``."""
    in_table = False
    for line in prose(path).splitlines():
        if line.startswith("| key |"):
            in_table = True
        elif in_table and line.startswith("|"):
            if not line.startswith("|---"):
                yield line.split("|")[1].strip()
        else:
            in_table = False


def documented_keys() -> set[str]:
    """Keys named in backticks in a key table's first cell or in a heading."""
    names: set[str] = set()
    cells = [cell for page in CONFIG_PAGES for cell in key_table_rows(page)]
    titles = [title for page in CONFIG_PAGES for title in headings(page)]
    for span in (span for text in (*cells, *titles) for span in code_spans(text)):
        names.add(span)
        names.update(span.split("."))
    return names


def test_the_walk_reaches_every_model() -> None:
    assert {"defaults.every", "retention.keep_days", "organizations.monitors.select",
            "notifications.email.smtp.password_env", "notifications.email.from",
            "notifications.feed.id_prefix", "digest"} <= {path for path, _ in ALL_CONFIG_KEYS}


def test_every_config_key_is_documented() -> None:
    documented = documented_keys()
    missing = [path for path, key in ALL_CONFIG_KEYS if key not in documented]
    assert not missing, f"config keys missing from {[p.name for p in CONFIG_PAGES]} " \
                        f"(a `key` row in a '| key |' table, or a heading): {missing}"


def test_every_documented_key_exists() -> None:
    known = {key for _, key in ALL_CONFIG_KEYS}
    stale = [f"{page.name}: {cell}" for page in CONFIG_PAGES for cell in key_table_rows(page)
             if not set(code_spans(cell)) & known]
    assert not stale, f"key tables name keys the config models do not have: {stale}"


def test_every_monitor_kind_is_documented() -> None:
    rows = text_of(DOCS / "configuration.md")
    missing = [kind for kind in sorted(monitor_kinds()) if f"| `{kind}` |" not in rows]
    assert not missing, f"monitor kinds without a row in configuration.md: {missing}"


def test_every_notification_channel_has_a_section() -> None:
    titles = headings(DOCS / "notifications.md")
    missing = [channel for channel in sorted(notifier_channels())
               if f"`notifications.{channel}`" not in titles]
    assert not missing, f"channels without a '## `notifications.NAME`' heading: {missing}"


# -- YAML examples --------------------------------------------------------------------

MINIMAL_ORGANIZATIONS = ("organizations:\n  - id: docs\n    name: Docs\n    monitors:\n"
                         "      - {id: docs-page, kind: page, url: 'https://example.org/'}\n")
FRAGMENT = re.compile(r"#\s*fragment:\s*(\S+)\s*")


def yaml_blocks() -> Iterator[tuple[str, str]]:
    for path in [README, *PAGES]:
        text = text_of(path)
        for match in re.finditer(r"^```yaml\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
            line = text.count("\n", 0, match.start()) + 2
            yield f"{path.relative_to(REPO)}:{line}", match.group(1)


def as_config(block: str) -> str:
    """A whole config file from an example: itself, or the fragment wrapped as it says."""
    first, _, rest = block.partition("\n")
    marker = FRAGMENT.fullmatch(first)
    if marker is None:
        return block
    where = marker.group(1)
    if where == "top-level":
        return rest if re.search(r"^organizations:", rest, re.MULTILINE) \
            else rest + MINIMAL_ORGANIZATIONS
    if where == "monitor":
        return ("organizations:\n  - id: docs\n    name: Docs\n    monitors:\n"
                + textwrap.indent(rest, " " * 8).replace(" " * 8, "      - ", 1))
    keys = where.split(".")
    head = "".join(f"{'  ' * depth}{key}:\n" for depth, key in enumerate(keys))
    return head + textwrap.indent(rest, "  " * len(keys)) + MINIMAL_ORGANIZATIONS


BLOCKS = list(yaml_blocks())


@pytest.mark.parametrize(("where", "block"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_yaml_examples_load(where: str, block: str) -> None:
    config = parse_config(as_config(block), where)
    assert config.organizations


def test_yaml_examples_exist_and_the_readme_has_whole_files() -> None:
    fragments = [where for where, block in BLOCKS if FRAGMENT.fullmatch(block.split("\n")[0])]
    assert len(BLOCKS) >= 5 and fragments
    # tests/unit/test_startup.py loads the README's examples as they are.
    readme = [where for where in fragments if where.startswith("README")]
    assert not readme, f"README examples must be whole config files: {readme}"


def test_a_fragment_is_wrapped_where_it_says() -> None:
    config = parse_config(as_config("# fragment: notifications.feed\ntitle: T\n"))
    assert config.notifications.feed is not None and config.notifications.feed.title == "T"
    config = parse_config(as_config("# fragment: monitor\nid: m\nkind: feed\n"
                                    "url: https://example.org/f\nevery: 1h\n"))
    assert [m.id for _, m in config.monitors()] == ["m"]
    with pytest.raises(ConfigError, match="unknown key 'evry'"):
        parse_config(as_config("# fragment: defaults\nevry: 6h\n"))


@pytest.mark.parametrize("path", sorted(DOCS.rglob("*.yaml")),
                         ids=lambda p: str(p.relative_to(REPO)))
def test_config_files_in_docs_load(path: Path) -> None:
    assert parse_config(text_of(path), str(path)).organizations


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
