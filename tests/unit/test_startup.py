"""Start-up stays cheap: the command line imports no heavy library it does not use, and
the config reading copes with every form of YAML a user may write.

Import checks run in a fresh interpreter: this one has loaded everything long ago.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ConfigError
from pipeline.config import parse_config

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", README, flags=re.DOTALL)
# Libraries a command loads only when it does the work that needs them.
PARSERS = ("feedparser", "pypdf", "selectolax", "w3lib")
DELIVERY = ("jinja2", "feedgen", "smtplib", "warcio", "apscheduler")
RUN_NEEDS = ("pydantic", "ruamel", "sqlite_utils", "httpx", "aiohttp", "asyncio")
# Code that delivers digests (a run with no channel enabled needs none of it).
CHANNELS = ("notifications.outbox", "notifications.mail", "notifications.feeds",
            "notifications.render")
# Prints the modules loaded when the interpreter exits (also after SystemExit).
REPORT_MODULES = ("import atexit, sys; "
                  "atexit.register(lambda: print('MODULES', ' '.join(sorted(sys.modules))))")


def loaded_by(code: str, *args: str) -> tuple[set[str], str]:
    """Modules a fresh interpreter has loaded after ``code`` (each package and module by
    its full name, and every top-level package by its own name), and its stdout."""
    result = subprocess.run([sys.executable, "-c", f"{REPORT_MODULES}\n{code}", *args],
                            cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    report = [line for line in result.stdout.splitlines() if line.startswith("MODULES ")]
    assert report, result.stderr
    modules = set(report[-1].split()[1:])
    return modules | {name.split(".")[0] for name in modules}, result.stdout


def test_registering_the_commands_imports_no_heavy_library() -> None:
    modules, _ = loaded_by("import pipeline.cli.main")
    assert "click" in modules and "pipeline" in modules
    assert modules.isdisjoint(PARSERS + DELIVERY + RUN_NEEDS), \
        sorted(modules & set(PARSERS + DELIVERY + RUN_NEEDS))


def test_help_lists_every_command_without_loading_them() -> None:
    import pipeline.cli.main  # noqa: F401  (registers the subcommands here too)
    from pipeline.cli.group import cli

    modules, stdout = loaded_by("from pipeline.cli.main import main; main()", "--help")
    for command in cli.commands:
        assert re.search(rf"^  {re.escape(command)}\s", stdout, re.MULTILINE), command
    assert modules.isdisjoint(PARSERS + DELIVERY + RUN_NEEDS), \
        sorted(modules & set(PARSERS + DELIVERY + RUN_NEEDS))


def test_what_run_imports_loads_no_parser_and_no_delivery_code() -> None:
    """The run's process fetches and records; parsers load where a body is parsed."""
    modules, _ = loaded_by("import pipeline.cli.main, pipeline.config, "
                           "pipeline.cycle, pipeline.digest, "
                           "storage.retention, storage.runs; "
                           "from monitors import monitor_kinds; monitor_kinds()")
    assert {"sqlite_utils", "pydantic"} <= modules
    unused = {*PARSERS, *DELIVERY, *CHANNELS}
    assert modules.isdisjoint(unused), sorted(modules & unused)


def test_the_parsers_module_loads_every_parser_for_the_workers() -> None:
    modules, _ = loaded_by("import monitors.parsers; from monitors import monitor_kinds; "
                           "print(sorted(monitor_kinds()))")
    assert set(PARSERS) <= modules


# -- the fast config reading -------------------------------------------------------------

def generated_config(monitors: int) -> str:
    """Like benchmarks/startup.py: organizations of 50 monitors as flow mappings."""
    lines = ["organizations:"]
    for org in range(0, monitors, 50):
        lines += [f"  - id: office{org // 50:02d}", f"    name: Office {org // 50}",
                  f"    homepage: http://127.0.0.1:{8000 + org // 50}/", "    monitors:"]
        lines += [f"      - {{id: s{n:05d}, kind: {'feed' if n % 5 == 0 else 'page'}, "
                  f"url: 'http://127.0.0.1:{8000 + org // 50}/p/{n}'}}"
                  for n in range(org, min(org + 50, monitors))]
    return "\n".join(lines) + "\n"


MINIMAL = ("organizations:\n  - id: o\n    name: O\n    monitors:\n"
           "      - {id: m, kind: page, url: 'https://o.example/'}\n")


@pytest.mark.parametrize(
    "text",
    [(REPO / "config.yaml").read_text(encoding="utf-8"), *YAML_BLOCKS,
     generated_config(1000),
     MINIMAL + "digest: 08:00\n",
     MINIMAL.replace("name: O", "name: on"),
     MINIMAL.replace("name: O", "name: |\n      two\n      lines"),
     MINIMAL.replace("name: O", "name: Science & Technology")],
    ids=["config.yaml", *(f"README-{n}" for n in range(len(YAML_BLOCKS))), "generated-1000",
         "digest-08:00", "name-on", "block-scalar", "ampersand-in-text"],
)
def test_valid_files_load(text: str) -> None:
    assert parse_config(text, "t.yaml").organizations


def test_yaml_1_2_keeps_on_no_and_times_as_strings() -> None:
    for value in ("on", "no", "12:30"):
        config = parse_config(MINIMAL.replace("name: O", f"name: {value}"), "t.yaml")
        assert config.organizations[0].name == value


def test_deep_nesting_is_refused_not_crashed_into() -> None:
    deep = "organizations: " + "[" * 40_000 + "]" * 40_000 + "\n"
    with pytest.raises(ConfigError, match="nested too deeply"):
        parse_config(deep, "deep.yaml")


def test_a_config_of_too_many_values_is_refused() -> None:
    lots = MINIMAL + "".join(f"k{n}: [" + ", ".join(["1"] * 1000) + "]\n" for n in range(120))
    with pytest.raises(ConfigError, match="more than"):
        parse_config(lots, "big.yaml")


# -- what a run does before its first fetch ---------------------------------------------

def test_syncing_an_unchanged_config_writes_no_row(tmp_path: Path) -> None:
    from storage.db import Store

    text = generated_config(100)
    with Store(tmp_path / "gw.db") as store:
        store.sync_monitors(parse_config(text).organizations)
        before = store.db.conn.total_changes
        store.sync_monitors(parse_config(text).organizations)
        assert store.db.conn.total_changes == before
        edited = text.replace("kind: page, url: 'http://127.0.0.1:8000/p/1'}",
                              "kind: page, url: 'http://127.0.0.1:8000/p/1', every: 1h}")
        edited = edited.replace("name: Office 1\n", "name: Office One\n")
        store.sync_monitors(parse_config(edited).organizations)
        assert store.db.conn.total_changes == before + 2
        assert store.db.execute("SELECT every_seconds FROM monitors WHERE id = 's00001'"
                                ).fetchone() == (3600.0,)
        assert store.db.execute("SELECT name FROM organizations WHERE id = 'office01'"
                                ).fetchone() == ("Office One",)
