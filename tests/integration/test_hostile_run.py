"""Hostile configuration and a run over hundreds of hostile sources: a bad config line is
named (file and line), never a traceback, and the run's memory stays bounded. See
test_hostile.py for how a case runs."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigError
from pipeline.config import parse_config
from storage.db import Store
from tests.integration.hostile_server import (
    HostileServer,
    chunked,
    drip,
    endless_bomb,
    raw,
    redirect,
    respond,
    streamed,
)
from tests.integration.hostile_support import (
    GOVWATCH,
    MB,
    big_feed,
    billion_laughs,
)

pytestmark = pytest.mark.integration


# -- configuration ------------------------------------------------------------------

GOOD_CONFIG = """\
organizations:
  - id: unidir
    name: UNIDIR
    monitors:
      - id: pubs
        kind: page
        url: https://unidir.org/publications
"""

BAD_CONFIGS = {
    "invalid YAML": (GOOD_CONFIG + "      - id: [unclosed\n", 9, "invalid YAML: expected ','"),
    "a wrong type": (GOOD_CONFIG.replace("kind: page", "kind: page\n        enabled: maybe"),
                     7, "organizations[0].monitors[0].enabled: Input should be a valid "
                        "boolean, unable to interpret input (got 'maybe')"),
    "a tab": (GOOD_CONFIG.replace("        kind: page", "\tkind: page"), 6,
              "invalid YAML: found character '\\t' that cannot start any token (indent with "
              "spaces; YAML does not allow tabs there)"),
    "a duplicate key": (GOOD_CONFIG.replace("kind: page", "kind: page\n        kind: feed"), 7,
                        'invalid YAML: found duplicate key "kind" (a key may appear once per '
                        "mapping)"),
    "a control character": (GOOD_CONFIG.replace("UNIDIR", "UNI\x00DIR"), 3,
                            "invalid YAML: unacceptable character #x0000"),
    "an alias bomb": ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join([f'*{chr(97 + n)}'] * 10)}]\n"
        for n in range(8)) + GOOD_CONFIG, 5,
        "the config expands to more than 100000 values here (aliases repeating aliases?)"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_line_is_named(case: str) -> None:
    text, line, message = BAD_CONFIGS[case]
    # The alias bomb would be 10^9 values: its message shows expansion stopped at the cap.
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "govwatch.yaml")
    assert str(caught.value).startswith(f"govwatch.yaml:{line}: {message}"), str(caught.value)


def test_config_nested_too_deeply_is_a_config_error_not_a_recursion_error() -> None:
    # ruamel's composer recurses per level: this raised RecursionError out of the loader.
    text = "a: " + "[" * 600 + "]" * 600 + "\n" + GOOD_CONFIG
    with pytest.raises(ConfigError, match=r"^govwatch.yaml: invalid YAML: nested too deeply$"):
        parse_config(text, "govwatch.yaml")


@pytest.mark.parametrize("case", ["a duplicate key", "a tab", "an alias bomb"])
@pytest.mark.parametrize("command", ["check-config", "run"])
def test_cli_exits_2_naming_the_file_and_line(tmp_path: Path, case: str, command: str) -> None:
    text, line, message = BAD_CONFIGS[case]
    config = tmp_path / "bad.yaml"
    config.write_text(text, encoding="utf-8")

    result = subprocess.run(
        [str(GOVWATCH), "--config", str(config), "--db", str(tmp_path / "g.db"), command],
        capture_output=True, text=True, timeout=60, check=False,
    )

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"config error: {config}:{line}: {message}")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "g.db").exists()  # nothing was started


# -- memory over a run of hostile sources ----------------------------------------------

PEAK_RSS_LIMIT_MB = 400
RUN_BOUND = 100.0  # seconds; the run takes about 15 on two idle cores


def hostile_mix(server: HostileServer) -> list[dict[str, Any]]:
    """Monitors over every kind of bad answer above, several of each."""
    nested = b"<html><body>" + b"<div>" * 100_000 + b"deep" + b"</div>" * 100_000
    cases: dict[str, tuple[str, Any, dict[str, Any], int]] = {
        "drip": ("page", drip(b"<p>" + b"x" * 50), {"timeout": "2s"}, 5),
        "chunked": ("page", chunked([b"<p>one", b"two"], finish=False), {}, 30),
        "short": ("page", respond(b"<p>short</p>", content_length=1000), {}, 30),
        "long": ("page", respond(b"<p>longer than declared</p>", content_length=5), {}, 30),
        "garbage": ("page", raw(b"HTTX/9 banana\r\n\r\n"), {}, 30),
        "hangup": ("page", raw(b""), {}, 15),
        "big-ok": ("page", streamed(20 * MB), {"max_bytes": "25MB"}, 3),
        "big-over": ("page", streamed(20 * MB, declare_length=False), {"max_bytes": "5MB"}, 10),
        "gzip-bomb": ("page", endless_bomb("gzip"), {}, 10),
        "zstd-bomb": ("page", endless_bomb("zstd"), {}, 10),
        "laughs": ("feed", respond(billion_laughs(), content_type="application/rss+xml"), {}, 20),
        "to-file": ("page", redirect("file:///etc/passwd"), {}, 15),
        "loop": ("page", redirect("/loop"), {}, 5),
        "charset": ("page", respond("<p>café</p>".encode("latin-1"),
                                    content_type="text/html; charset=utf-8"), {}, 20),
        "binary": ("page", respond(os.urandom(5000), content_type="text/html"), {}, 15),
        "empty": ("page", respond(b""), {}, 15),
        "nested": ("page", respond(nested), {}, 3),
        "big-feed": ("feed", respond(big_feed(10_000), content_type="application/rss+xml"),
                     {}, 1),
        "not-pdf": ("pdf", respond(b"<html>moved</html>", content_type="text/html"), {}, 15),
        "cut-pdf": ("pdf", respond(b"%PDF-1.7\n", content_type="application/pdf"), {}, 15),
    }
    monitors: list[dict[str, Any]] = []
    for name, (kind, behaviour, options, count) in cases.items():
        server.route(f"/{name}", behaviour)
        monitors.extend({"id": f"{name}-{n}", "kind": kind, **options,
                         "url": server.url(f"/{name}?n={n}")} for n in range(count))
    return monitors


def session_memory_kb(session: int) -> int:
    """Sum of PSS (RSS where smaps_rollup is missing) of every process in a session.

    PSS splits a page shared by n processes into n parts: summing RSS would count the
    parser libraries the workers share with their fork server once per process.
    """
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[3]) != session:
                continue
            rollup = Path(entry.path, "smaps_rollup")
            text = rollup.read_text() if rollup.exists() else Path(entry.path, "status").read_text()
        except (OSError, ValueError, IndexError):
            continue
        for line in text.splitlines():
            if line.startswith(("Pss:", "VmRSS:")):
                total += int(line.split()[1])
                break
    return total


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_peak_memory_of_a_run_over_hundreds_of_hostile_sources(
    hostile: HostileServer, tmp_path: Path
) -> None:
    monitors = hostile_mix(hostile)
    config = tmp_path / "hostile.yaml"
    config.write_text(json.dumps({
        "defaults": {"every": "1h", "timeout": "10s", "per_host": 64},
        "organizations": [{"id": "hostile", "name": "Hostile", "monitors": monitors}],
    }), encoding="utf-8")
    database = tmp_path / "hostile.db"
    out, err = tmp_path / "run.out", tmp_path / "run.err"
    started = time.perf_counter()
    # Output to files: a pipe nobody reads while the loop samples memory could fill up.
    with out.open("wb") as stdout_file, err.open("wb") as stderr_file:
        run = subprocess.Popen(
            [str(GOVWATCH), "--config", str(config), "--db", str(database), "run", "--all"],
            stdout=stdout_file, stderr=stderr_file, start_new_session=True)
    peak_mb = 0.0
    try:
        while run.poll() is None:
            # A bound below pytest's own timeout, so a hang fails here, saying so.
            assert time.perf_counter() - started < RUN_BOUND, \
                f"the run did not finish within {RUN_BOUND:g} s"
            # The whole run: govwatch, its worker fork server and the parsing workers.
            peak_mb = max(peak_mb, session_memory_kb(run.pid) / 1024)
            time.sleep(0.05)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, 9)
            run.wait()
    seconds = time.perf_counter() - started
    stdout, stderr = out.read_text("utf-8"), err.read_text("utf-8")
    returncode, summary = str(run.returncode), stdout.splitlines()[0]
    print(f"\npeak memory (sum of PSS over its processes) of `govwatch run --all` over "
          f"{len(monitors)} hostile sources: {peak_mb:.0f} MB in {seconds:.1f} s")

    assert returncode == "0", stderr
    assert summary.startswith(f"checked {len(monitors)}: ")
    with Store(database) as store:
        outcomes = dict(store.db.execute(
            "SELECT outcome, count(*) FROM checks WHERE outcome != 'confirm' "
            "GROUP BY outcome").fetchall())
        assert sum(outcomes.values()) == len(monitors)
        # big-ok, charset, nested, big-feed and cut-pdf are snapshots; the rest errors.
        assert outcomes["new"] == 3 + 20 + 3 + 1 + 15, outcomes
    assert peak_mb < PEAK_RSS_LIMIT_MB, f"peak memory {peak_mb:.0f} MB"
