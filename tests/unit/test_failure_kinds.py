"""Failure kinds are typed, and the text they store is the text stored before they were."""

from __future__ import annotations

import pickle

import pytest

import core.errors as errors
from core.errors import ExtractError, FailureKind, FetchError
from core.records import FetchResult
from monitors import MonitorConfig, build_monitor
from pipeline import stages
from storage.records import MonitorState

# The stored text of each kind, written out: rows in existing databases start with it.
STORED = [
    (FailureKind.FETCH_TIMEOUT, "FetchTimeout"),
    (FailureKind.CONNECT_FAILED, "ConnectFailed"),
    (FailureKind.PROTOCOL_FAILED, "ProtocolFailed"),
    (FailureKind.BODY_TOO_LARGE, "BodyTooLarge"),
    (FailureKind.UNSUPPORTED_URL, "UnsupportedURL"),
    (FailureKind.TOO_MANY_REDIRECTS, "TooManyRedirects"),
    (FailureKind.ROBOTS_DISALLOWED, "RobotsDisallowed"),
    (FailureKind.HTTP_STATUS_FAILED, "HTTPStatusFailed"),
    (FailureKind.EXTRACT_ERROR, "ExtractError"),
    (FailureKind.RENDER_FAILED, "RenderFailed"),
]
# Kinds that are a decision on an answer, not a failed exchange: no exception carries them.
WITHOUT_EXCEPTION = {FailureKind.ROBOTS_DISALLOWED, FailureKind.HTTP_STATUS_FAILED}
EMPTY = MonitorState("m", None, None, None, None, None, None, 0)


def test_every_kind_is_in_the_table() -> None:
    assert [kind for kind, _ in STORED] == list(FailureKind)


@pytest.mark.parametrize(("kind", "text"), STORED, ids=[text for _, text in STORED])
def test_a_kind_stores_the_text_rows_already_hold(kind: FailureKind, text: str) -> None:
    assert kind == text and str(kind) == text and f"{kind}" == text
    assert kind.message("what happened") == f"{text}: what happened"
    assert FailureKind(text) is kind
    assert pickle.loads(pickle.dumps(kind)) is kind  # crosses to the parsing workers


@pytest.mark.parametrize(("error", "kind"), [
    ("FetchTimeout: no complete answer within 2s", FailureKind.FETCH_TIMEOUT),
    ("ConnectFailed: [Errno 111] Connection refused", FailureKind.CONNECT_FAILED),
    ("ProtocolFailed: not a valid HTTP response: Bad status line: invalid HTTP version",
     FailureKind.PROTOCOL_FAILED),
    ("BodyTooLarge: body exceeds max_bytes 20000000 (decoded from gzip)",
     FailureKind.BODY_TOO_LARGE),
    ("UnsupportedURL: refusing non-http(s) URL file:///etc/passwd", FailureKind.UNSUPPORTED_URL),
    ("TooManyRedirects: more than 10 redirects (a loop?)", FailureKind.TOO_MANY_REDIRECTS),
    ("RobotsDisallowed: robots.txt at https://x.org/robots.txt disallows https://x.org/a",
     FailureKind.ROBOTS_DISALLOWED),
    ("HTTPStatusFailed: HTTP 500 Internal Server Error", FailureKind.HTTP_STATUS_FAILED),
    ("ExtractError: ValueError: bad", FailureKind.EXTRACT_ERROR),
    ("ExtractError:", FailureKind.EXTRACT_ERROR),
    # Failures that no kind names, and text that only looks like a kind.
    ("empty body: the server answered 200 with no content", None),
    ("HTTP 304 Not Modified, but no earlier version is stored", None),
    ("FetchTimeout", None),
    ("fetchtimeout: lower case is not the stored word", None),
    (" FetchTimeout: a leading space", None),
    ("Timeout: not a kind", None),
    ("", None),
    (None, None),
])
def test_the_kind_of_a_stored_error(error: str | None, kind: FailureKind | None) -> None:
    assert FailureKind.of(error) is kind


def _exception_classes() -> list[type[Exception]]:
    return [value for value in vars(errors).values()
            if isinstance(value, type) and issubclass(value, errors.GovwatchError)]


@pytest.mark.parametrize("cls", [c for c in _exception_classes()
                                 if issubclass(c, FetchError) and c is not FetchError]
                         + [ExtractError], ids=lambda c: c.__name__)
def test_an_exception_that_fails_a_check_carries_the_kind_named_after_it(
    cls: type[FetchError | ExtractError],
) -> None:
    assert cls.kind is FailureKind(cls.__name__)
    assert FailureKind.of(cls.kind.message(str(cls("detail")))) is cls.kind


def test_every_kind_is_carried_by_one_exception_or_is_a_decision() -> None:
    carried = [getattr(c, "kind", None) for c in _exception_classes()]
    carried = [kind for kind in carried if kind is not None]
    assert len(carried) == len(set(carried))
    assert set(carried) | WITHOUT_EXCEPTION == set(FailureKind)
    assert not set(carried) & WITHOUT_EXCEPTION


def test_a_failed_fetch_stores_its_kind_and_its_text() -> None:
    result = FetchResult.failure("m", "https://x.org/", "2026-11-28T10:00:00.000+00:00", 7,
                                 FailureKind.FETCH_TIMEOUT, "no complete answer within 2s")
    assert result.error_kind is FailureKind.FETCH_TIMEOUT
    assert result.error == "FetchTimeout: no complete answer within 2s"
    assert not result.ok and result.duration_ms == 7 and result.status is None


def _fetched(status: int, body: bytes, reason: str = "", content_type: str = "text/html",
             ) -> FetchResult:
    return FetchResult("m", "https://x.org/a", "2026-11-28T10:00:00.000+00:00", 5,
                       final_url="https://x.org/a", status=status, reason=reason,
                       headers={"content-type": content_type}, body=body)


@pytest.mark.parametrize(("kind", "fetched", "error"), [
    ("page", _fetched(500, b"oops", "Internal Server Error"),
     "HTTPStatusFailed: HTTP 500 Internal Server Error"),
    ("page", _fetched(502, b""), "HTTPStatusFailed: HTTP 502"),
    ("page", _fetched(200, b"\x89PNG\r\n\x1a\n" + b"\0" * 64),
     "ExtractError: not HTML: the body is a PNG image (served as text/html)"),
    ("pdf", _fetched(200, b"<p>hi</p>"),
     "ExtractError: not a PDF: body has no %PDF- header (text/html, 9 bytes)"),
    ("page", _fetched(200, b""), "empty body: the server answered 200 with no content"),
    ("page", FetchResult.failure("m", "https://x.org/a", "2026-11-28T10:00:00.000+00:00", 5,
                                 FailureKind.CONNECT_FAILED, "refused"),
     "ConnectFailed: refused"),
], ids=["status-with-reason", "status-without-reason", "binary-page", "html-for-pdf",
        "empty-body", "fetch-failure-passes-through"])
def test_a_failed_check_stores_the_kind_and_the_text(
    kind: str, fetched: FetchResult, error: str,
) -> None:
    monitor = build_monitor(MonitorConfig(id="m", kind=kind, url="https://x.org/a"), "o")
    outcome = stages.evaluate(monitor, fetched, EMPTY, lambda digest: pytest.fail(digest))
    assert outcome.check.outcome == "error"
    assert outcome.check.error == error
