"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config.cache import CACHE_ENV
from storage.db import Store

REPO = Path(__file__).resolve().parents[1]
#: ``defaults.confirm_pause`` of tests whose subject is not a clock that ticks between a
#: check and its confirming copy: the copy is still taken, without the default's 1.1 s
#: wait. The tests of learning what changes by itself keep the default, and
#: tests/integration/test_confirm_pause.py checks that the pause is kept.
QUICK_CONFIRM = "0.05s"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "govwatch.db") as opened:
        yield opened


def pytest_configure(config: pytest.Config) -> None:
    # Tests (and the govwatch processes they start, which inherit it) never write to the
    # user's cache of parsed configs.
    if not os.environ.get(CACHE_ENV):
        directory = tempfile.mkdtemp(prefix="govwatch-test-cache-")
        os.environ[CACHE_ENV] = directory
        atexit.register(shutil.rmtree, directory, True)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Workers of ``-n auto`` (pyproject.toml): two per core the suite may use. Tests
    spend about half their time waiting (on local servers, subprocesses, browsers), so
    one worker per core would leave the cores half idle."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 2 * (cores or 1)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--crash-campaign", action="store_true", default=False,
                     help="also run the full crash campaign: 50 kills "
                          "(GOVWATCH_CRASH_CAMPAIGN=N sets another number)")
