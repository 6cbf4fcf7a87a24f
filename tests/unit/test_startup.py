"""Start-up stays cheap: the command line imports no heavy library it does not use, and
the fast config reading (pipeline/fastyaml.py) agrees with the reading that keeps lines.

Import checks run in a fresh interpreter: this one has loaded everything long ago.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.errors import ConfigError
from pipeline import fastyaml
from pipeline.config import parse_config, parse_config_fast, parse_config_with_lines

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
    modules, _ = loaded_by("import pipeline.cli, pipeline.commands")
    assert "click" in modules and "pipeline" in modules
    assert modules.isdisjoint(PARSERS + DELIVERY + RUN_NEEDS), \
        sorted(modules & set(PARSERS + DELIVERY + RUN_NEEDS))


def test_help_lists_every_command_without_loading_them() -> None:
    import pipeline.commands  # noqa: F401  (registers the subcommands here too)
    from pipeline.cli import cli

    modules, stdout = loaded_by("from pipeline.cli import main; main()", "--help")
    for command in cli.commands:
        assert re.search(rf"^  {re.escape(command)}\s", stdout, re.MULTILINE), command
    assert modules.isdisjoint(PARSERS + DELIVERY + RUN_NEEDS), \
        sorted(modules & set(PARSERS + DELIVERY + RUN_NEEDS))


def test_what_run_imports_loads_no_parser_no_delivery_code_and_no_http_client() -> None:
    """The run's process plans and writes; its fetch shards, forked by the shard
    launcher, load the HTTP client (pipeline/launcher.py)."""
    modules, _ = loaded_by("import pipeline.cli, pipeline.commands, pipeline.config, "
                           "pipeline.run, pipeline.shards, pipeline.digest, "
                           "storage.retention, storage.runs; "
                           "from monitors import monitor_kinds; monitor_kinds()")
    assert {"sqlite_utils", "pydantic", "pipeline.launcher"} <= modules
    unused = {*PARSERS, *DELIVERY, *CHANNELS, "aiohttp", "pipeline.fetch",
              "pipeline.shard_process"}
    assert modules.isdisjoint(unused), sorted(modules & unused)


def test_the_shard_launcher_module_loads_the_standard_library_only() -> None:
    """Whatever the run imports before it forks the launcher is imported serially."""
    before, _ = loaded_by("pass")
    modules, _ = loaded_by("import pipeline.launcher")
    ours = {"monitors", "storage", "notifications"}
    assert modules.isdisjoint(ours | set(RUN_NEEDS) | set(PARSERS)), \
        sorted(modules & (ours | set(RUN_NEEDS) | set(PARSERS)))
    assert modules - before <= {"pipeline", "pipeline.launcher"} | set(sys.stdlib_module_names) \
        | {m for m in modules if m.split(".")[0] in sys.stdlib_module_names}


# Prints, at exit, whether the collector is on and how many collections ran inside main().
REPORT_COLLECTOR = (
    "import atexit, gc; from pipeline.cli import main; "
    "before = sum(s['collections'] for s in gc.get_stats()); "
    "atexit.register(lambda: print('COLLECTOR', gc.isenabled(), "
    "sum(s['collections'] for s in gc.get_stats()) - before)); main()"
)


def test_commands_run_with_the_collector_on_after_a_start_up_without_it() -> None:
    _, stdout = loaded_by(REPORT_COLLECTOR, "kinds")
    assert "page" in stdout
    assert "COLLECTOR True" in stdout, stdout


def test_what_start_up_built_is_frozen_when_the_collector_comes_back() -> None:
    """Objects allocated with the collector off all sit in the youngest generation; were
    they left there, the first collections of the cycle would walk every one of them."""
    _, stdout = loaded_by(
        "import gc; gc.disable(); kept = [[n] for n in range(50_000)]; "
        "from pipeline.cli import startup_done; startup_done(); "
        "print('COLLECTOR', gc.isenabled(), gc.get_count()[0], gc.get_freeze_count())")
    enabled, young, frozen = stdout.split("COLLECTOR ")[1].split()[:3]
    assert enabled == "True", stdout
    assert int(young) < 1_000 and int(frozen) >= 50_000, stdout


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
     # YAML 1.2: these stay strings, as the round-trip loader reads them.
     MINIMAL + "digest: 08:00\n",
     MINIMAL.replace("name: O", "name: on"),
     MINIMAL.replace("name: O", "name: no"),
     MINIMAL.replace("name: O", "name: 12:30"),
     MINIMAL + "defaults: {user_agent: yes, max_bytes: 0o17777}\n",
     MINIMAL.replace("name: O", "name: |\n      two\n      lines"),
     MINIMAL.replace("name: O", "name: Science & Technology")],
    ids=["config.yaml", *(f"README-{n}" for n in range(len(YAML_BLOCKS))), "generated-1000",
         "digest-08:00", "name-on", "name-no", "name-12:30", "yes-and-octal", "block-scalar",
         "ampersand-in-text"],
)
def test_fast_and_line_keeping_readings_give_the_same_config(text: str) -> None:
    fast = parse_config_fast(text, "t.yaml")
    assert fast is not None, "the fast reading declined a plain valid file"
    assert fast == parse_config_with_lines(text, "t.yaml")


@pytest.mark.parametrize(
    "text",
    [  # %YAML 1.1 would read `on` as true: only the slow path honours directives
        "%YAML 1.1\n---\n" + MINIMAL.replace("name: O", "name: on"),
        MINIMAL.replace("name: O", "name: !!str 3"),                        # a tag
        MINIMAL.replace("name: O", "name: &n O") + "digest: *n\n",          # an alias
        MINIMAL + "defaults: {<<: {every: 1h}}\n",                          # a merge key
        MINIMAL.replace("name: O", "name: O\n    1: one"),                  # a non-string key
        MINIMAL.replace("name: O", "name: O\n    name: P"),                 # a duplicate key
        MINIMAL.replace("kind: page", "kind: pgae"),                        # a bad kind
        # Characters libyaml reads otherwise than the round-trip parser (found by the
        # mutation test below): the round-trip parser refuses the first three files.
        MINIMAL.replace("name: O", "name:\tO"),
        MINIMAL.replace("    name: O", "\u2028    name: O"),
        MINIMAL.replace("    monitors:", "\ufeff    monitors:"),
        MINIMAL.replace("name: O", "name: a\x85b"),
    ],
    ids=["yaml-1.1", "tag", "alias", "merge", "int-key", "duplicate-key", "unknown-kind",
         "tab", "line-separator", "inner-bom", "next-line"],
)
def test_the_fast_reading_declines_what_it_cannot_read_alike(text: str) -> None:
    assert parse_config_fast(text, "t.yaml") is None


# Single characters and whole lines that change what a YAML file means.
EDITS = st.lists(st.tuples(st.floats(0, 1), st.sampled_from(
    [" ", "\t", "\n", ":", "- ", "{", "}", "[", "]", ",", "#", "'", '"', "&a", "*a", "!",
     "|", ">", "?", "%", "@", "\\", "\x07", "\x85", "\u2028", "\ufeff", "\r", "\xa0",
     "x", "0", "  ", "\n  - ", "\n    ", "", "", ""])), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(block=st.sampled_from(YAML_BLOCKS), edits=EDITS)
def test_a_mutated_file_the_fast_reading_accepts_reads_alike_the_slow_way(
    block: str, edits: list[tuple[float, str]]
) -> None:
    text = block
    for where, insert in edits:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + (not insert):]  # "" deletes a character
    fast = parse_config_fast(text, "t.yaml")
    if fast is not None:
        assert fast == parse_config_with_lines(text, "t.yaml")


def test_deep_nesting_is_refused_by_the_slow_path_not_crashed_into() -> None:
    # libyaml's composer recurses in C: ~27,000 levels overflow an 8 MiB stack (a crash,
    # not an exception), so such a file must never reach it.
    deep = "organizations: " + "[" * 40_000 + "]" * 40_000 + "\n"
    assert fastyaml.could_nest_deeper_than(deep, fastyaml.MAX_DEPTH)
    assert fastyaml.load_plain(deep, max_values=10**6) is None
    with pytest.raises(ConfigError, match="nested too deeply"):
        parse_config(deep, "deep.yaml")
    compact = "organizations:\n" + "- " * 20_000 + "x\n"  # block nesting on one line
    assert fastyaml.load_plain(compact, max_values=10**6) is None


def test_a_config_of_many_values_is_left_to_the_slow_path_and_its_limit() -> None:
    text = generated_config(200)
    assert fastyaml.load_plain(text, max_values=500) is None
    assert fastyaml.load_plain(text, max_values=100_000) is not None


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
