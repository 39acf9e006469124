"""Tests for notifiers/webhook.py against a real HTTP receiver on loopback."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import MappingProxyType
from typing import Any

import pytest
from receiver import WHSEC, Receiver, Reply, refused_url, trickling_port
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from notifiers.base import Message, Verdict
from notifiers.webhook import WebhookChannel, WebhookNotifier, new_secret, sign

pytestmark = pytest.mark.anyio

PAYLOAD = {
    "event": "reminder.lead",
    "days_left": 7,
    "rule": "1688商家发货行为管理规范",
    "platform": "1688",
    "effective_on": "2024-03-01",
}


def hook(url: str, **extra: Any) -> WebhookChannel:
    """A channel validated the way config.toml's entries are."""
    return WebhookChannel.model_validate({"name": "hook", "kind": "webhook", "url": url, **extra})


def message(payload: Mapping[str, Any] | None = None, id: str = "rmd_01HQ7Z") -> Message:
    return Message(
        id=id,
        subject="【生效提醒】1688商家发货行为管理规范 7天后生效",
        text="text",
        html="<p>html</p>",
        payload=PAYLOAD if payload is None else payload,
    )


def at(instant: datetime):
    return lambda: instant


async def test_posts_the_payload_as_compact_utf8_json(receiver: Receiver, http):
    outcome = await WebhookNotifier(hook(receiver.url, secret=WHSEC), http).send(message())

    assert outcome.verdict is Verdict.delivered and outcome.status_code == 200
    (got,) = receiver.wait_for(1)
    assert got.method == "POST" and got.path == "/hook"
    assert got.body == json.dumps(PAYLOAD, ensure_ascii=False, separators=(",", ":")).encode()
    assert "1688商家发货行为管理规范".encode() in got.body  # not \u-escaped
    assert got.headers["content-type"] == "application/json"
    assert got.json() == PAYLOAD


async def test_standard_webhooks_headers_come_from_the_message_and_the_clock(receiver, http):
    instant = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    notifier = WebhookNotifier(hook(receiver.url, secret=WHSEC), http, now=at(instant))

    await notifier.send(message(id="rmd_same"))
    await notifier.send(message(id="rmd_same"))

    first, again = receiver.wait_for(2)
    assert first.headers["webhook-id"] == again.headers["webhook-id"] == "rmd_same"
    assert first.headers["webhook-timestamp"] == str(int(instant.timestamp()))
    version, _, signature = first.headers["webhook-signature"].partition(",")
    assert version == "v1" and len(base64.b64decode(signature)) == 32


async def test_the_signature_verifies_with_the_standardwebhooks_package(receiver, http):
    await WebhookNotifier(hook(receiver.url, secret=WHSEC), http).send(message())

    (got,) = receiver.wait_for(1)
    assert got.verified, got.verify_error
    assert Webhook(WHSEC).verify(got.body, got.headers) == PAYLOAD
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(got.body, got.headers)
    tampered = got.body.replace(b'"days_left":7', b'"days_left":1')
    with pytest.raises(WebhookVerificationError):
        Webhook(WHSEC).verify(tampered, got.headers)


async def test_a_stale_clock_makes_the_receiver_refuse_the_timestamp(receiver, http):
    # The timestamp is the injected clock's, not the wall clock's: the receiver sees it.
    old = datetime.now(UTC) - timedelta(hours=1)
    await WebhookNotifier(hook(receiver.url, secret=WHSEC), http, now=at(old)).send(message())

    (got,) = receiver.wait_for(1)
    assert got.verified is False and "too old" in (got.verify_error or "")


def test_sign_matches_the_spec_example():
    # The example in the Standard Webhooks spec (and the standardwebhooks test suite).
    key = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected


async def test_without_a_secret_nothing_is_signed(http):
    with Receiver() as rx:
        outcome = await WebhookNotifier(hook(rx.url), http).send(message())
        (got,) = rx.wait_for(1)
    assert outcome.verdict is Verdict.delivered
    assert "webhook-signature" not in got.headers
    assert {"webhook-id", "webhook-timestamp"} <= got.headers.keys()


async def test_configured_headers_are_sent(receiver, http):
    channel = hook(receiver.url, headers={"Authorization": "Bearer t0ken", "X-Team": "ops"})
    await WebhookNotifier(channel, http).send(message())

    (got,) = receiver.wait_for(1)
    assert got.headers["authorization"] == "Bearer t0ken" and got.headers["x-team"] == "ops"
    assert got.headers["user-agent"] == "rulewatch-webhook"


async def test_a_configured_user_agent_replaces_the_default_once(receiver, http):
    await WebhookNotifier(hook(receiver.url, headers={"User-Agent": "ours"}), http).send(message())

    (got,) = receiver.wait_for(1)
    assert [v for k, v in got.raw_headers if k.lower() == "user-agent"] == ["ours"]


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        pytest.param(200, Verdict.delivered, id="200"),
        pytest.param(201, Verdict.delivered, id="201"),
        pytest.param(204, Verdict.delivered, id="204"),
        pytest.param(301, Verdict.failed, id="301-not-followed"),
        pytest.param(400, Verdict.failed, id="400"),
        pytest.param(401, Verdict.failed, id="401"),
        pytest.param(404, Verdict.failed, id="404"),
        pytest.param(410, Verdict.failed, id="410"),
        pytest.param(408, Verdict.retry, id="408"),
        pytest.param(429, Verdict.retry, id="429"),
        pytest.param(500, Verdict.retry, id="500"),
        pytest.param(502, Verdict.retry, id="502"),
        pytest.param(503, Verdict.retry, id="503"),
    ],
)
async def test_answers_are_classified(receiver, http, status, verdict):
    receiver.script(status)
    outcome = await WebhookNotifier(hook(receiver.url), http).send(message())
    assert (outcome.verdict, outcome.status_code) == (verdict, status)
    assert str(status) in outcome.reason
    assert outcome.retry_after is None


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_in_seconds(receiver, http, status):
    receiver.script(Reply(status, {"Retry-After": "7"}))
    outcome = await WebhookNotifier(hook(receiver.url), http).send(message())
    assert outcome.verdict is Verdict.retry and outcome.retry_after == 7


async def test_retry_after_as_an_http_date_is_read_against_the_injected_clock(receiver, http):
    instant = datetime.now(UTC).replace(microsecond=0)
    later = format_datetime(instant + timedelta(seconds=90), usegmt=True)
    receiver.script(Reply(429, {"Retry-After": later}))

    outcome = await WebhookNotifier(hook(receiver.url), http, now=at(instant)).send(message())

    assert outcome.verdict is Verdict.retry and outcome.retry_after == 90


async def test_the_error_body_is_quoted_in_the_reason(receiver, http):
    receiver.script(Reply(422, {"Content-Type": "text/plain"}, "unknown\nevent type"))
    outcome = await WebhookNotifier(hook(receiver.url), http).send(message())
    assert outcome.verdict is Verdict.failed
    assert outcome.reason.endswith("HTTP 422 Unprocessable Entity；回复：unknown event type")


async def test_connection_refused_is_retried_naming_the_host_only(http):
    with refused_url("/hooks/T0KEN?sig=abc") as url:
        outcome = await WebhookNotifier(hook(url), http).send(message())
    assert outcome.verdict is Verdict.retry and outcome.status_code is None
    assert "无法连接 http://127.0.0.1:" in outcome.reason
    assert "T0KEN" not in outcome.reason and "sig" not in outcome.reason


async def test_a_receiver_slower_than_the_timeout_is_retried(receiver, http):
    receiver.script(Reply(200, delay=30))
    notifier = WebhookNotifier(hook(receiver.url, timeout=0.5), http)

    started = time.monotonic()
    outcome = await notifier.send(message())

    assert time.monotonic() - started < 2.5  # 5× the timeout: generous, not a measurement
    assert outcome.verdict is Verdict.retry
    assert "在 0.5 秒内没有应答" in outcome.reason
    assert "ReadTimeout" in outcome.reason or "没有收到完整的应答" in outcome.reason


async def test_a_payload_that_is_not_json_fails_without_sending(receiver, http):
    outcome = await WebhookNotifier(hook(receiver.url), http).send(message({"x": {1, 2}}))
    assert outcome.verdict is Verdict.failed and "无法写成 JSON" in outcome.reason
    assert receiver.requests == []


async def test_dates_in_the_payload_are_sent_as_iso_8601(receiver, http):
    payload = {"effective_on": datetime(2024, 3, 1, tzinfo=UTC).date()}
    await WebhookNotifier(hook(receiver.url), http).send(message(payload))
    assert receiver.wait_for(1)[0].json() == {"effective_on": "2024-03-01"}


async def test_a_read_only_payload_is_sent(receiver, http):
    await WebhookNotifier(hook(receiver.url), http).send(message(MappingProxyType(PAYLOAD)))
    assert receiver.wait_for(1)[0].json() == PAYLOAD


@pytest.mark.parametrize("bad_id", ["", "two words", "line\r\nX-Evil: 1", "事件"])
async def test_an_id_unfit_for_a_header_fails_without_sending(receiver, http, bad_id):
    outcome = await WebhookNotifier(hook(receiver.url), http).send(message(id=bad_id))
    assert outcome.verdict is Verdict.failed
    assert receiver.requests == []


def test_new_secret_round_trips_through_the_channel_model():
    first, second = new_secret(), new_secret()
    assert first != second and first.startswith("whsec_")
    channel = hook("https://hooks.example.com/x", secret=first)
    assert channel.signing_keys()[0] == base64.b64decode(first.removeprefix("whsec_"))
    assert len(channel.signing_keys()[0]) == 32
    assert Webhook(first)._whsecret == channel.signing_keys()[0]


def test_header_values_must_be_ascii():
    with pytest.raises(ValueError, match="must be ASCII"):
        hook("https://hooks.example.com/x", headers={"X-Team": "运维"})


HEAD_200 = b"HTTP/1.1 200 OK\r\ncontent-length: 40\r\n\r\n"
HEAD_500 = b"HTTP/1.1 500 Oops\r\ncontent-length: 40\r\n\r\n"


@pytest.mark.parametrize(
    ("answer", "at_once", "verdict", "said"),
    [
        # The status line itself a byte at a time: each read is quick, the answer endless.
        (HEAD_200 + b"x" * 40, 0, Verdict.retry, "在 2 秒内没有应答"),
        # The status at once, the body trickling: judged by the status, with what came.
        (HEAD_500 + b"x" * 40, len(HEAD_500), Verdict.retry, "xxx"),
        (HEAD_200 + b"x" * 40, len(HEAD_200), Verdict.delivered, "200"),
    ],
    ids=["trickled-status", "trickled-refusal", "trickled-acceptance"],
)
async def test_the_timeout_bounds_the_whole_attempt(http, answer, at_once, verdict, said):
    with trickling_port(answer, every=0.5, at_once=at_once) as port:
        notifier = WebhookNotifier(hook(f"http://127.0.0.1:{port}/hook", timeout=2), http)
        began = time.monotonic()
        outcome = await notifier.send(message())
        took = time.monotonic() - began
    assert (outcome.verdict, said in outcome.reason) == (verdict, True), outcome.reason
    # Whole, the answer would take 20 s or more at this pace.
    assert took < 3.5, f"the attempt took {took:.1f} s with timeout = 2"


async def test_while_a_secret_is_rotated_both_receivers_verify(http):
    new = new_secret()
    config = hook("http://127.0.0.1:1/hook", secret=[new, WHSEC])  # the newest first
    for holding in (WHSEC, new):
        with Receiver(secret=holding) as receiver:
            moved = config.model_copy(update={"url": receiver.url})
            outcome = await WebhookNotifier(moved, http).send(message())
            (got,) = receiver.wait_for(1)
        assert outcome.verdict is Verdict.delivered
        assert got.verified, got.verify_error
        assert len(got.headers["webhook-signature"].split(" ")) == 2


def test_a_secret_list_is_checked_secret_by_secret():
    with pytest.raises(ValueError, match="secret 2 of the list: the key decodes to 5 bytes"):
        hook("http://127.0.0.1:1/hook", secret=[new_secret(), "whsec_c2hvcnQ="])
    with pytest.raises(ValueError):
        hook("http://127.0.0.1:1/hook", secret=[])
