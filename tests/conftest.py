"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.db import Store

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "govwatch.db") as opened:
        yield opened


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--crash-campaign", action="store_true", default=False,
                     help="also run the full crash campaign: 50 kills "
                          "(GOVWATCH_CRASH_CAMPAIGN=N sets another number)")
