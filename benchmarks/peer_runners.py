"""The three tools benchmarks/peers.py compares, each driven through its own command line.

A ``Tool`` writes its own job/config files into a directory of its own, runs one cycle as
a child process through ``measure.run_measured`` (its own session, so the whole process
tree can be measured and stopped) and reads what it reported from its stdout.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from measure import Measured, run_measured

HERE = Path(__file__).resolve().parent
PEERS = {"urlwatch": "2.29", "webchanges": "3.37.0"}  # the versions this benchmark was run with


@dataclass(frozen=True)
class SourceSpec:
    id: str
    org: int
    kind: str  # page or feed
    url: str


@dataclass
class Reported:
    """What a tool said about one cycle."""

    new: int = 0
    changed: set[str] = field(default_factory=set)  # URLs
    errors: int = 0


class Tool:
    name = ""
    settings = ""  # concurrency and other settings, for the results file
    timing_only = False  # left out of the storage phase

    def __init__(self, home: Path, sources: list[SourceSpec]) -> None:
        self.home = home
        self.store = home / "store"
        self.store.mkdir(parents=True, exist_ok=True)
        self.sources = sources
        self.write_files()

    def write_files(self) -> None:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def parse(self, stdout: str) -> Reported:
        raise NotImplementedError

    def storage_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.store.rglob("*") if p.is_file())

    def storage_note(self) -> str:
        """What the store is made of, for the results."""
        return ""

    def run(self, timeout: float) -> tuple[Measured, Reported]:
        measured = run_measured(self.command(), self.home, timeout)
        return measured, self.parse(measured.stdout)


class Govwatch(Tool):
    name = "govwatch"
    settings = ("`govwatch run --all` with `defaults: {per_host: 5, concurrency: 100}` (5 "
                "requests in flight per host, half of the 10 urlwatch sends to one host); "
                "one event loop fetches every source through one HTTP client and records "
                "every check, while a pool of worker processes, one per core (at most 4), "
                "parses and compares the bodies; keeps every raw body plus the extracted "
                "text, links and the check history in SQLite")
    #: ``defaults`` written into the config (None: govwatch's own defaults).
    defaults: str | None = "{per_host: 5, concurrency: 100}"
    #: Only timed: its store is the same as govwatch's.
    timing_only = False
    _change = re.compile(r"^CHANGE #\d+ \S+: .* <(\S+)>$", re.MULTILINE)
    _counts = re.compile(r"^checked \d+: new (\d+), changed \d+, .*errors (\d+)$", re.MULTILINE)

    def write_files(self) -> None:
        lines = [f"database: {self.store / 'govwatch.db'}"]
        if self.defaults:
            lines.append(f"defaults: {self.defaults}")
        lines.append("organizations:")
        for org in sorted({s.org for s in self.sources}):
            port = next(s.url for s in self.sources if s.org == org).split(":")[2].split("/")[0]
            lines += [f"  - id: office{org:02d}", f"    name: National AI Office {org:02d}",
                      f"    homepage: http://127.0.0.1:{port}/", "    monitors:"]
            lines += [f"      - {{id: {s.id}, kind: {s.kind}, url: '{s.url}'}}"
                      for s in self.sources if s.org == org]
        (self.home / "config.yaml").write_text("\n".join(lines) + "\n")

    def executable(self) -> Path:
        """The console script of the venv this benchmark runs in: this checkout's code."""
        return Path(sys.executable).parent / "govwatch"

    def command(self) -> list[str]:
        return [str(self.executable()), "--config", str(self.home / "config.yaml"), "run",
                "--all"]

    def storage_note(self) -> str:
        """Raw captures against the rest, from SQLite's dbstat (bytes of pages per table)."""
        uri = f"file:{self.store / 'govwatch.db'}?mode=ro"
        try:
            with closing(sqlite3.connect(uri, uri=True)) as db:
                sizes = dict(db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
        except sqlite3.Error as exc:
            return f"no breakdown: {exc}"
        groups = {"raw bodies (zstd)": ("snapshots",), "changes (diff, detail)": ("changes",),
                  "extracted text and data": ("contents",),
                  "plain texts and full-text index": tuple(
                      n for n in sizes if n.startswith("contents_fts") or n == "search_docs")}
        sized = {label: sum(sizes.get(n, 0) for n in names) for label, names in groups.items()}
        sized["other tables"] = sum(sizes.values()) - sum(sized.values())
        return "store: " + ", ".join(f"{k} {v / 1e6:.0f} MB" for k, v in sized.items())

    def parse(self, stdout: str) -> Reported:
        counts = self._counts.search(stdout)
        if counts is None:
            return Reported(errors=-1)
        return Reported(int(counts[1]), set(self._change.findall(stdout)), int(counts[2]))


class GovwatchDefaults(Govwatch):
    name = "govwatch-defaults"
    settings = ("`govwatch run --all` on its polite defaults: concurrency 32, per_host 2 (at "
                "most 40 requests in flight over the 20 hosts); timing only")
    defaults = None
    timing_only = True


class Urlwatch(Tool):
    name = "urlwatch"
    settings = ("10 threads (urlwatch.worker.MAX_WORKERS, fixed), requests without a shared "
                "session; pages `filter: html2text` (its default `re` method), feeds unfiltered; "
                "stdout reporter, no colour; cache.db (minidb/SQLite) keeps every changed "
                "version's filtered text, never the raw body")
    def write_files(self) -> None:
        jobs = [{"url": s.url, **({"filter": [{"html2text": {}}]} if s.kind == "page" else {})}
                for s in self.sources]
        (self.home / "urls.yaml").write_text(yaml_documents(jobs))
        config = {"report": {"stdout": {"enabled": True, "color": False},
                             "text": {"footer": False}}}
        (self.home / "urlwatch.yaml").write_text(json.dumps(config))

    def command(self) -> list[str]:
        return [str(peer_bin("urlwatch")), "--urls", str(self.home / "urls.yaml"),
                "--config", str(self.home / "urlwatch.yaml"),
                "--hooks", str(self.home / "hooks.py"), "--cache", str(self.store / "cache.db")]

    def parse(self, stdout: str) -> Reported:
        return parse_report(stdout)


class Webchanges(Tool):
    name = "webchanges"
    settings = (f"Python's default thread pool (min(32, cores + 4) = "
                f"{min(32, (os.cpu_count() or 1) + 4)} here), httpx client per job; pages "
                "`filter: html2text` (its default `html2text` library method), feeds unfiltered; "
                "stdout reporter, no colour, version check off; SQLite store with its default "
                "`max_snapshots: 4` (older versions are dropped)")
    def write_files(self) -> None:
        jobs = [{"url": s.url, **({"filter": [{"html2text": {}}]} if s.kind == "page" else {})}
                for s in self.sources]
        (self.home / "jobs.yaml").write_text(yaml_documents(jobs))
        config = {"report": {"stdout": {"enabled": True, "color": False},
                             "text": {"footer": False}},
                  "version_check": {"enabled": False}}
        (self.home / "config.yaml").write_text(json.dumps(config))

    def command(self) -> list[str]:
        return [str(peer_bin("webchanges")), "--jobs", str(self.home / "jobs.yaml"),
                "--config", str(self.home / "config.yaml"),
                "--hooks", str(self.home / "hooks.py"),
                "--database", str(self.store / "cache.db")]

    def parse(self, stdout: str) -> Reported:
        return parse_report(stdout)


TOOLS: dict[str, type[Tool]] = {
    t.name: t for t in (Govwatch, GovwatchDefaults, Urlwatch, Webchanges)}


def yaml_documents(documents: Sequence[Mapping[str, object]]) -> str:
    """A multi-document YAML file: JSON is YAML, so no YAML writer is needed."""
    return "".join(f"---\n{json.dumps(d)}\n" for d in documents)


# The text report of both peers names each job with its verb, once in the numbered summary
# and once above its diff: "01. CHANGED: http://..." (urlwatch, no job names) or
# "CHANGED: <page title> (http://...)" (webchanges names a job after its <title>).
_REPORT_LINE = re.compile(
    r"^(?:\d+\. )?(NEW|CHANGED|ERROR): (?:.*\()?(http://127\.0\.0\.1:\d+/[^\s)]+)\)?\s*$",
    re.MULTILINE)


def parse_report(stdout: str) -> Reported:
    """Counts each job once per verb, whichever of its report lines named it."""
    seen: dict[str, set[str]] = {"NEW": set(), "CHANGED": set(), "ERROR": set()}
    for verb, url in _REPORT_LINE.findall(stdout):
        seen[verb].add(url)
    return Reported(len(seen["NEW"]), seen["CHANGED"], len(seen["ERROR"]))


PEERS_VENV = HERE / ".peers-venv"


def peer_bin(name: str) -> Path:
    return PEERS_VENV / "bin" / name


def ensure_peers(timeout: float = 600) -> dict[str, str]:
    """Installs the pinned peers into their own venv unless present; returns their versions."""
    python = PEERS_VENV / "bin" / "python"
    if not all(peer_bin(name).exists() for name in PEERS):
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True,
                       timeout=120)
        subprocess.run([str(python), "-m", "pip", "install", "-q",
                        *(f"{name}=={version}" for name, version in PEERS.items())],
                       check=True, timeout=timeout)
    code = ("import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n "
            "in sys.argv[1:]}))")
    names = [*PEERS, "requests", "httpx", "lxml", "html2text", "minidb"]
    out = subprocess.run([str(python), "-c", code, *names], check=True, capture_output=True,
                         text=True, timeout=60).stdout
    versions: dict[str, str] = json.loads(out)
    return versions
