"""The webhook session's answers, tries and signature (httpx faked at the transport)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import httpx
import pytest
import respx

from core.errors import DeliveryFailed, DeliveryRejected
from notifications.config import WebhookSettings
from notifications.webhook import WebhookNotifier, signature
from storage.outbox import StoredMessage

URL = "https://hooks.example.org/services/T0K3N/govwatch?token=s3cret"
BODY = b'{"schema_version":1}'
MESSAGE = StoredMessage(id=7, digest_id=3, message_id="govwatch-key-1", recipients=(),
                        body=BODY, attempts=0)


def settings(**overrides: object) -> WebhookSettings:
    values: dict[str, object] = {"url": URL, "secret_env": "HOOK_SECRET", "attempts": 3,
                                 "backoff": "0.01s", "timeout": "1s"}
    values.update(overrides)
    return WebhookSettings.model_validate(values)


def send(config: WebhookSettings) -> tuple[str, ...]:
    with WebhookNotifier(config).session() as session:
        return session.send(MESSAGE)


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", "k3y")


@respx.mock
def test_a_timeout_is_tried_again_with_the_same_key_and_signature() -> None:
    route = respx.post(URL).mock(side_effect=[httpx.ReadTimeout("slow"),
                                              httpx.Response(503), httpx.Response(204)])
    assert send(settings()) == ()
    assert route.call_count == 3
    keys = {call.request.headers["Idempotency-Key"] for call in route.calls}
    signatures = {call.request.headers["X-Govwatch-Signature"] for call in route.calls}
    assert keys == {"govwatch-key-1"}
    assert signatures == {"sha256=" + hmac.new(b"k3y", BODY, hashlib.sha256).hexdigest()}
    assert all(call.request.content == BODY for call in route.calls)


@respx.mock
@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
def test_passing_failures_end_in_delivery_failed_after_the_tries(status: int) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(status))
    with pytest.raises(DeliveryFailed, match=f"after 3 tries: HTTP {status}") as raised:
        send(settings())
    assert route.call_count == 3
    assert "s3cret" not in str(raised.value) and "T0K3N" not in str(raised.value), \
        "a token in the path or the query stays out of errors (and of the database)"


@respx.mock
@pytest.mark.parametrize("status", [400, 401, 404, 410, 422, 301])
def test_a_refusal_for_good_is_not_tried_again(status: int) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(status, text="no such hook"))
    with pytest.raises(DeliveryRejected, match=f"HTTP {status}.*: no such hook"):
        send(settings())
    assert route.call_count == 1


@respx.mock
def test_the_back_off_doubles(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("notifications.webhook.time.sleep", waits.append)
    respx.post(URL).mock(return_value=httpx.Response(503))
    with pytest.raises(DeliveryFailed):
        send(settings(attempts=4, backoff="2s"))
    assert waits == [2.0, 4.0, 8.0]


@respx.mock
def test_without_secret_env_nothing_is_signed() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200))
    send(settings(secret_env=None))
    assert "X-Govwatch-Signature" not in route.calls[0].request.headers


def test_an_unset_secret_fails_before_anything_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOK_SECRET")
    with pytest.raises(DeliveryFailed, match="HOOK_SECRET"):
        send(settings())


def test_signature_is_hmac_sha256_hex_of_the_body() -> None:
    assert signature("key", b"The quick brown fox jumps over the lazy dog") == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")


def test_settings_refuse_a_bad_per_and_need_a_url() -> None:
    with pytest.raises(ValueError, match="per"):
        settings(per="hour")
    with pytest.raises(ValueError, match="url"):
        WebhookSettings.model_validate({"secret_env": "X"})
    assert settings().timeout == timedelta(seconds=1)
