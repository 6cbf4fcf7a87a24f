"""A database govwatch must not or cannot write: one of a newer schema is refused by every
command and left as it was; one on a read-only file system or in a read-only file makes
`run` fail in one line, while the read commands go on working."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.db import Store
from storage.migrations import MIGRATIONS
from tests.unit.audit_history import build_history
from tests.unit.cli_support import config_text

GOVWATCH = str(Path(sys.executable).parent / "govwatch")
READS = (("status",), ("history", "principles"), ("verify",), ("heads",))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def world() -> Iterator[Path]:
    """A directory others may enter (pytest's own are private to root), with a database of
    100 checks and a config naming it; no WAL file left beside it."""
    directory = Path(tempfile.mkdtemp(prefix="govwatch-unwritable-"))
    try:
        directory.chmod(0o755)
        data = directory / "data"
        data.mkdir()
        with Store(data / "gw.db") as store:
            build_history(store)
        (directory / "config.yaml").write_text(config_text(data / "gw.db"))
        yield directory
    finally:
        shutil.rmtree(directory)


def govwatch(world: Path, *args: str,
             prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, GOVWATCH, "--config", str(world / "config.yaml"), *args],
        capture_output=True, text=True, timeout=120, check=False, cwd=world,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_a_newer_schema_is_refused_by_every_command_and_left_unchanged(world: Path) -> None:
    db = world / "data" / "gw.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    before = digest(db)
    for args in (("run", "--all"), *READS, ("export", "--format", "jsonl", "--output",
                                            str(world / "out.jsonl"))):
        line = one_line_error(govwatch(world, *args))
        assert f"database {db} has schema version 999" in line, args
        assert f"knows versions up to {len(MIGRATIONS)}" in line, args
    assert digest(db) == before
    assert not (world / "out.jsonl").exists()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal", "as it was"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 999
    conn.close()


def read_only_mount(directory: Path) -> tuple[str, ...]:
    """A command prefix running in a mount namespace of its own where ``directory`` is a
    read-only bind mount: a read-only file system for that process only."""
    script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'
    return ("unshare", "--mount", "--propagation", "private", "sh", "-c", script,
            str(directory))


def check_reads(world: Path, prefix: tuple[str, ...]) -> None:
    for args in READS:
        result = govwatch(world, *args, prefix=prefix)
        assert result.returncode == 0, (args, result.stderr)
        assert "Traceback" not in result.stderr
        if args == ("verify",):
            assert "OK: the history is intact" in result.stdout
    shown = govwatch(world, "show", "1", prefix=prefix)
    assert shown.returncode == 0 and "change #1" in shown.stdout, shown.stderr
    out = world / "export.jsonl"
    exported = govwatch(world, "export", "--format", "jsonl", "--output", str(out),
                        prefix=prefix)
    assert exported.returncode == 0, exported.stderr
    assert len(out.read_text().splitlines()) >= 100
    out.unlink()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare(1) for a private read-only mount")
def test_on_a_read_only_file_system_run_fails_in_one_line_and_reads_work(world: Path) -> None:
    data, db = world / "data", world / "data" / "gw.db"
    before = digest(db)
    prefix = read_only_mount(data)
    probe = subprocess.run([*prefix, "touch", str(data / "x")], capture_output=True,
                           text=True, check=False)
    if probe.returncode == 0 or "Read-only file system" not in probe.stderr:
        pytest.skip(f"no private read-only mount here: {probe.stderr.strip()}")
    line = one_line_error(govwatch(world, "run", "--all", prefix=prefix))
    assert "Read-only file system" in line and "gw.db.lock" in line
    check_reads(world, prefix=prefix)
    for writer in (("search", "principles"), ("prune", "--keep-versions", "1")):
        line = one_line_error(govwatch(world, *writer, prefix=prefix))
        assert f"cannot write database {db}: attempt to write a readonly database" in line
    assert digest(db) == before
    assert sorted(p.name for p in data.iterdir()) == ["gw.db"], "nothing created beside it"


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare(1) for a private read-only mount")
def test_in_a_read_only_file_run_fails_in_one_line_and_reads_work(world: Path) -> None:
    """The database file alone is read-only (its directory is not): even root cannot
    write it, as with a file another user owns."""
    data, db = world / "data", world / "data" / "gw.db"
    before = digest(db)
    prefix = read_only_mount(db)
    line = one_line_error(govwatch(world, "run", "--all", prefix=prefix))
    assert f"cannot write database {db}: attempt to write a readonly database" in line
    assert "read commands such as status" in line
    check_reads(world, prefix=prefix)
    assert digest(db) == before
    assert not (data / "gw.db-wal").exists() or (data / "gw.db-wal").stat().st_size == 0
