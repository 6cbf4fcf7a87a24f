"""Fixtures of the audit tests: a recorded history of 100 checks and its database path."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.db import Store
from tests.unit.audit_history import History, build_history


@pytest.fixture
def history(store: Store) -> History:
    return build_history(store)


@pytest.fixture
def db(store: Store) -> Path:
    return store.path
