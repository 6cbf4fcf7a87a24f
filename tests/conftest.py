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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--crash-campaign", action="store_true", default=False,
                     help="also run the full crash campaign: 50 kills "
                          "(GOVWATCH_CRASH_CAMPAIGN=N sets another number)")
