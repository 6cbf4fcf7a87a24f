"""Export and backup write only new or regular files, through a new file beside them:
devices, FIFOs, directories and symbolic links are refused, an existing file needs
--force, and a link planted at the old temporary name is never followed."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from core.errors import ExportFailed
from storage.db import Store
from storage.outfiles import OutputFile
from tests.unit.audit_history import History, govwatch

EXPORT = ("export", "--format", "jsonl", "--output")


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".partial"))


@pytest.mark.parametrize("command", ["export", "backup"])
def test_a_fifo_is_refused_and_left_a_fifo(history: History, db: Path, tmp_path: Path,
                                           command: str) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    args = [*EXPORT, str(fifo)] if command == "export" else ["backup", str(fifo)]
    result = govwatch(db, *args, "--force")
    assert result.exit_code == 1, result.output
    assert f"cannot write {fifo}: it is a FIFO, not a regular file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, "one line, no traceback"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("command", ["export", "backup"])
def test_a_symlink_is_refused_and_its_target_untouched(history: History, db: Path,
                                                       tmp_path: Path, command: str) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "out.link"
    link.symlink_to(victim)
    args = [*EXPORT, str(link)] if command == "export" else ["backup", str(link)]
    result = govwatch(db, *args, "--force")
    assert result.exit_code == 1, result.output
    assert f"cannot write {link}: it is a symbolic link" in result.stderr
    assert link.is_symlink() and os.readlink(link) == str(victim)
    assert victim.read_text() == "precious"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root could replace /dev/full")
@pytest.mark.parametrize("command", ["export", "backup"])
def test_dev_full_is_refused_as_a_device_even_as_root(history: History, db: Path,
                                                      command: str) -> None:
    before = os.lstat("/dev/full")
    assert stat.S_ISCHR(before.st_mode)
    args = [*EXPORT, "/dev/full"] if command == "export" else ["backup", "/dev/full"]
    result = govwatch(db, *args, "--force")
    assert result.exit_code == 1, result.output
    assert "cannot write /dev/full: it is a character device" in result.stderr
    after = os.lstat("/dev/full")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert not [name for name in os.listdir("/dev") if name.startswith(".full.")]


def test_a_directory_is_refused_as_usage(history: History, db: Path, tmp_path: Path) -> None:
    result = govwatch(db, *EXPORT, str(tmp_path), "--force")
    assert result.exit_code == 2 and "is a directory" in result.output


def test_an_existing_export_is_replaced_only_with_force(history: History, db: Path,
                                                        tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("precious")
    refused = govwatch(db, *EXPORT, str(out))
    assert refused.exit_code == 1
    assert f"{out} exists; pass --force to replace it" in refused.stderr
    assert out.read_text() == "precious"
    forced = govwatch(db, *EXPORT, str(out), "--force")
    assert forced.exit_code == 0, forced.output
    lines = out.read_text().splitlines()
    assert len(lines) >= len(history.checks) and lines[0].startswith('{"')
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("command", ["export", "backup"])
def test_a_planted_partial_symlink_is_not_followed(history: History, db: Path,
                                                   tmp_path: Path, command: str) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out.jsonl"
    planted = tmp_path / "out.jsonl.partial"
    planted.symlink_to(victim)
    args = [*EXPORT, str(out)] if command == "export" else ["backup", str(out)]
    result = govwatch(db, *args)
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "precious"
    assert planted.is_symlink() and os.readlink(planted) == str(victim)
    assert stat.S_ISREG(os.lstat(out).st_mode)
    if command == "backup":
        with sqlite3.connect(out) as copy:
            assert copy.execute("SELECT count(*) FROM checks").fetchone()[0] == len(
                history.checks)
        copy.close()
        assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert leftovers(tmp_path) == ["out.jsonl.partial"]


def test_a_failed_write_leaves_neither_target_nor_temporary_file(tmp_path: Path) -> None:
    out = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), OutputFile(out, force=False) as output:
        assert output.file is not None
        output.file.write(b"half")
        raise RuntimeError("the export failed half way")
    assert list(tmp_path.iterdir()) == []


def test_a_target_that_appears_while_writing_is_not_replaced_without_force(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out.bin"
    with pytest.raises(ExportFailed, match="pass --force"), \
            OutputFile(out, force=False) as output:
        assert output.file is not None
        output.file.write(b"new")
        out.write_bytes(b"written meanwhile by someone else")
    assert out.read_bytes() == b"written meanwhile by someone else"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_backup_needs_force_for_an_existing_copy(history: History, store: Store,
                                                 tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    assert govwatch(store.path, "backup", str(copy)).exit_code == 0
    again = govwatch(store.path, "backup", str(copy))
    assert again.exit_code == 1 and "pass --force" in again.stderr
    assert govwatch(store.path, "backup", str(copy), "--force").exit_code == 0
    assert govwatch(copy, "verify").exit_code == 0
