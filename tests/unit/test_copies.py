"""A confirming copy that needs no parser (a 304, a failed fetch, the same bytes) is
settled in the run's process: no worker is started for it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from core.errors import FailureKind
from core.records import Extracted, FetchResult
from monitors import MonitorConfig, build_monitor
from monitors.volatility import Noise
from pipeline import stages
from pipeline.pool import Extractor
from storage.records import MonitorState

PAGE = b"<html><body><main><h1>Calls</h1><p>Open until 30 June.</p></main></body></html>"
EDITED = PAGE.replace(b"30 June", b"31 July")
MONITOR = build_monitor(MonitorConfig(id="m", kind="page", url="https://x.example/c"), "o")
NO_VERSION = MonitorState("m", None, None, None, None, None, None, 0)


def fetched(body: bytes | None, status: int = 200) -> FetchResult:
    return FetchResult(
        monitor_id="m", url="https://x.example/c", started_at=datetime.now(UTC).isoformat(),
        duration_ms=1, final_url="https://x.example/c", status=status,
        headers={"content-type": "text/html"}, body=body,
        bytes_received=len(body or b""))


def never_read(content_hash: str) -> Extracted:
    raise AssertionError(f"a first check reads no stored version ({content_hash})")


def first_check() -> stages.Outcome:
    outcome = stages.evaluate(MONITOR, fetched(PAGE), NO_VERSION, never_read)
    assert outcome.check.outcome == "new" and outcome.content is not None
    return outcome


FAILED = FetchResult.failure("m", "https://x.example/c", datetime.now(UTC).isoformat(), 1,
                             FailureKind.CONNECT_FAILED, "refused")


@pytest.mark.parametrize(("copy", "to_read", "note"), [
    pytest.param(fetched(PAGE), False, "second copy of a first check: the same", id="same"),
    pytest.param(fetched(None, 304), False, "not modified", id="304"),
    pytest.param(FAILED, False, "unusable", id="failed"),
    pytest.param(fetched(EDITED), True, "learned", id="other bytes"),
])
async def test_a_copy_is_parsed_only_when_its_bytes_differ(
        copy: FetchResult, to_read: bool, note: str) -> None:
    first = first_check()
    assert first.content is not None
    assert stages.copy_to_read(first.check, copy) is to_read
    with Extractor(2, None) as extractor:
        outcome, _ = await extractor.learn_from_copy(
            MONITOR, first.check, first.content, copy, Noise(), NO_VERSION,
            never_read)
        assert bool(extractor.worker_pids()) is to_read
    assert outcome.check.outcome == "confirm"
    assert note in (outcome.check.note or "")


def test_the_same_bytes_after_a_change_say_the_difference_is_real() -> None:
    first = first_check()
    assert first.content is not None
    changed = replace(first.check, outcome="changed")
    outcome, learned = stages.learn_from_copy(MONITOR, changed, first.content, fetched(PAGE))
    assert learned == frozenset()
    assert outcome.check.note == "second copy: the same, so the difference is real"
    assert outcome.check.content_hash == first.check.content_hash
