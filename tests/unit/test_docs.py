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
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

import pipeline.cli.main  # noqa: F401  (registers the commands on the group)
from core.errors import ConfigError
from monitors import monitor_kinds
from notifications import notifier_channels
from pipeline.config import Config, parse_config
from tests.unit.docs_support import (
    DOCS,
    PAGES,
    README,
    REPO,
    code_spans,
    headings,
    prose,
    text_of,
)

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
