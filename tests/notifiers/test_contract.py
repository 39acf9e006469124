"""The contract every registered notifier kind keeps, checked against its real server.

For each kind in ``notifiers.CHANNELS`` and each situation (accepted, refused for good,
refused for now, server down, server silent): the verdict is the expected one, the reason
is one readable line, no secret (signing secret, header values, password and its encoded
forms, the URL's path and query) shows up in the reason or the reply even when the
server echoes them back, and a silent server costs about the configured timeout.

A new kind fails here until it gets a case in ``CASES``.
"""

from __future__ import annotations

import base64
import functools
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, cast

import pytest
from mailserver import MailServer, TestCA
from receiver import WHSEC, Receiver, Reply, refused_port, refused_url, silent_port
from vendors import ChatBot, DingTalkRobot, FeishuBot, SlackHook, WeComRobot

from notifiers import CHANNELS, ChannelConfig, EmailChannel, WebhookChannel, build_notifier
from notifiers.base import Message, Verdict, url_secrets
from notifiers.email import SmtpSettings

pytestmark = pytest.mark.anyio

TIMEOUT = 0.5
AUTH = "Bearer tok-3f9a1c77e2"
PATH = "/hooks/T0KEN-in-the-path"
QUERY = "key=QUERY-S3CRET"
USER = "rulewatch"
PASSWORD = "pa55-w0rd-xyz"
ENCODED = [
    base64.b64encode(PASSWORD.encode()).decode(),
    base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode(),
]
MESSAGE = Message(
    id="rmd_contract",
    subject="【生效提醒】1688商家发货行为管理规范 7天后生效",
    text="text",
    html="<p>html</p>",
    payload={"event": "reminder.lead"},
)

SITUATIONS = {
    "accepted": Verdict.delivered,
    "refused-for-good": Verdict.failed,
    "refused-for-now": Verdict.retry,
    "down": Verdict.retry,
    "silent": Verdict.retry,
}


@dataclass(frozen=True)
class Case:
    config: ChannelConfig
    smtp: SmtpSettings | None
    secrets: list[str]  # none of these may appear in a reason or reply


def _hook(url: str) -> WebhookChannel:
    return WebhookChannel.model_validate(
        {
            "name": "hook",
            "kind": "webhook",
            "url": url,
            "secret": WHSEC,
            "headers": {"Authorization": AUTH},
            "timeout": TIMEOUT,
        }
    )


@contextmanager
def webhook_case(situation: str, ca: TestCA) -> Iterator[Case]:
    secrets = [WHSEC, WHSEC.removeprefix("whsec_"), AUTH, AUTH.split()[1], PATH, QUERY]
    if situation == "down":
        with refused_url(f"{PATH}?{QUERY}") as url:
            yield Case(_hook(url), None, secrets)
        return
    with Receiver(secret=WHSEC) as rx:
        url = rx.url_for(f"{PATH}?{QUERY}")
        echo = f"bad {AUTH} for {url} signed {WHSEC}; path {PATH} query {QUERY}"
        rx.script(
            {
                "accepted": Reply(200, body=echo),
                "refused-for-good": Reply(401, body=echo),
                "refused-for-now": Reply(503, {"Retry-After": "5"}, echo),
                "silent": Reply(200, delay=30),
            }[situation]
        )
        yield Case(_hook(url), None, secrets)


def _smtp(port: int, security: str = "none", timeout: float = 5.0) -> SmtpSettings:
    return SmtpSettings.model_validate(
        {
            "host": "127.0.0.1",
            "port": port,
            "security": security,
            "username": USER,
            "password": PASSWORD,
            "from": "rulewatch <rw@example.com>",
            "timeout": timeout,
        }
    )


@contextmanager
def email_case(situation: str, ca: TestCA) -> Iterator[Case]:
    secrets = [PASSWORD, *ENCODED]
    channel = EmailChannel.model_validate(
        {"name": "mail", "kind": "email", "to": ["ops@example.com"]}
    )
    if situation in ("down", "silent"):
        server = refused_port if situation == "down" else silent_port
        with server() as port:
            yield Case(channel, _smtp(port, timeout=TIMEOUT), secrets)
        return
    # A server echoing the password and the AUTH exchange back, to prove they are masked.
    echo = f"password {PASSWORD} or {ENCODED[0]} or {ENCODED[1]}"
    reject = {
        "refused-for-good": {"ops@example.com": f"550 no such user ({echo})"},
        "refused-for-now": {"ops@example.com": f"451 try later ({echo})"},
    }.get(situation, {})
    with MailServer(security="starttls", ca=ca, users={USER: PASSWORD}, reject=reject) as mx:
        yield Case(channel, _smtp(mx.port, "starttls"), secrets)


DD_SECRET = "SEC6a1f0c2b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1"
FS_SECRET = "fs-sign-s3cret-q8w7"


def _chat(kind: str, url: str, secret: str | None = None) -> ChannelConfig:
    config: dict[str, Any] = {"name": kind, "kind": kind, "url": url, "timeout": TIMEOUT}
    if secret is not None:
        config["secret"] = secret
    model = CHANNELS[kind].model
    return cast(ChannelConfig, model.model_validate(config))


@contextmanager
def chat_case(kind: str, situation: str) -> Iterator[Case]:
    """A chat kind against its vendor's loopback robot: refused for good is a wrong
    signature (DingTalk, Feishu), a wrong key (WeCom) or a wrong path (Slack); refused
    for now is the vendor's rate limit."""
    bot: ChatBot
    secret = {"dingtalk": DD_SECRET, "feishu": FS_SECRET, "lark": FS_SECRET}.get(kind)
    rate = situation == "refused-for-now"
    if kind == "dingtalk":
        bot = DingTalkRobot(secret=DD_SECRET, per_minute=0 if rate else 20)
    elif kind == "wecom":
        bot = WeComRobot(per_minute=0 if rate else 20)
    elif kind in ("feishu", "lark"):
        bot = FeishuBot(secret=FS_SECRET, per_second=0 if rate else 5)
    else:
        bot = SlackHook(per_second=0 if rate else 1)
    with bot:
        url = bot.url
        secrets = [s for s in (secret, *url_secrets(url)) if s and s != "/"]
        if situation == "refused-for-good":
            if secret is not None:
                secret = secret[:-4] + "0000"  # the robot holds another secret
            elif kind == "wecom":
                url = url.replace(bot.key, "wc-key-someone-else")  # type: ignore[attr-defined]
            else:
                url = url.replace("/services/", "/services/X")
            secrets += [s for s in (secret, *url_secrets(url)) if s and s != "/"]
        path = url.removeprefix(bot.url_for(""))
        if situation in ("down", "silent"):
            server = refused_port if situation == "down" else silent_port
            with server() as port:
                yield Case(_chat(kind, f"http://127.0.0.1:{port}{path}", secret), None, secrets)
            return
        yield Case(_chat(kind, url, secret), None, secrets)


CASES: dict[str, Callable[[str, TestCA], AbstractContextManager[Case]]] = {
    "webhook": webhook_case,
    "email": email_case,
    **{
        kind: functools.partial(lambda kind, situation, ca: chat_case(kind, situation), kind)
        for kind in ("dingtalk", "wecom", "feishu", "lark", "slack")
    },
}


@pytest.mark.parametrize("situation", SITUATIONS)
@pytest.mark.parametrize("kind", sorted(CHANNELS))
async def test_notifier_contract(kind: str, situation: str, http: Any, ca: TestCA):
    if kind not in CASES:
        pytest.fail(f"channel kind {kind!r} has no case in tests/notifiers/test_contract.py")
    with CASES[kind](situation, ca) as case:
        assert case.config.kind == kind
        notifier = build_notifier(
            case.config, http=http, smtp=case.smtp, tls_context=ca.client_context()
        )
        started = time.monotonic()
        outcome = await notifier.send(MESSAGE)
        elapsed = time.monotonic() - started

    assert outcome.verdict is SITUATIONS[situation], outcome.reason
    assert outcome.reason and "\n" not in outcome.reason and "\r" not in outcome.reason
    shown = f"{outcome.reason}\n{outcome.reply or ''}"
    leaked = [secret for secret in case.secrets if secret in shown]
    assert not leaked, f"{leaked} leaked into {shown!r}"
    if situation == "silent":
        assert elapsed < 5 * TIMEOUT, f"a {TIMEOUT} s timeout took {elapsed:.2f} s"
        assert f"在 {TIMEOUT:g} 秒内没有应答" in outcome.reason
