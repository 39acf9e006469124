"""Tests for notifiers/email.py against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from mailserver import MailServer, TestCA
from receiver import refused_port, silent_port

from notifiers.base import Message, Verdict
from notifiers.email import (
    EmailChannel,
    EmailNotifier,
    SmtpSettings,
    clean_header,
    parse_mailbox,
)

pytestmark = pytest.mark.anyio

SUBJECT = "【生效提醒】1688商家发货行为管理规范 7天后生效"
PASSWORD = "s3cret-Pa55!"
TEXT = "《1688商家发货行为管理规范》将于 2024-03-01 生效。\n.\n最后一行"
HTML = "<p>《1688商家发货行为管理规范》将于 <b>2024-03-01</b> 生效。</p>"


def smtp(port: int, **extra: Any) -> SmtpSettings:
    """``[smtp]`` validated the way config.toml's section is."""
    values = {"host": "127.0.0.1", "port": port, "from": "规则提醒 <rw@example.com>", **extra}
    return SmtpSettings.model_validate({"security": "none", "timeout": 5.0} | values)


def channel(**extra: Any) -> EmailChannel:
    values = {"name": "mail", "kind": "email", "to": ["张三 <zs@example.com>"]} | extra
    return EmailChannel.model_validate(values)


def body(mail: EmailMessage, subtype: str) -> str:
    part = mail.get_body((subtype,))
    assert part is not None
    # The message travels with CRLF line ends; the part's own text uses \n.
    return part.get_content().replace("\r\n", "\n").rstrip("\n")


def message(subject: str = SUBJECT, id: str = "rmd_01HQ7Z") -> Message:
    return Message(id=id, subject=subject, text=TEXT, html=HTML, payload={"ignored": True})


async def test_starttls_with_login_delivers_an_intact_chinese_message(ca: TestCA):
    to = channel(
        to=["张三 <zs@example.com>", "ops@example.com"], cc=['"运营, 值班" <duty@example.com>']
    )
    with MailServer(security="starttls", ca=ca, users={"rw": PASSWORD}) as mx:
        settings = smtp(mx.port, security="starttls", username="rw", password=PASSWORD)
        notifier = EmailNotifier(to, settings, tls_context=ca.client_context())
        outcome = await notifier.send(message())
        (mail,) = mx.wait_for(1)

    assert outcome.verdict is Verdict.delivered, outcome.reason
    assert outcome.reply is not None and outcome.reply.startswith("250 ")
    assert mail.authenticated_as == "rw"
    assert mail.mail_from == "rw@example.com"
    assert mail.rcpt_tos == ["zs@example.com", "ops@example.com", "duty@example.com"]
    got = mail.message
    assert got["Subject"] == SUBJECT
    assert str(got["From"]) == "规则提醒 <rw@example.com>"
    assert [a.display_name for a in got["To"].addresses] == ["张三", ""]
    assert got["Cc"].addresses[0].display_name == "运营, 值班"
    assert got["X-Rulewatch-Event"] == "rmd_01HQ7Z"
    assert got["Message-ID"] == "<rmd_01HQ7Z@example.com>"
    assert got["Date"] is not None
    assert got.get_content_type() == "multipart/alternative"
    assert body(got, "plain") == TEXT
    assert body(got, "html") == HTML


async def test_headers_on_the_wire_are_ascii_with_rfc_2047_words(ca: TestCA):
    with MailServer() as mx:
        await EmailNotifier(channel(), smtp(mx.port)).send(message())
        (mail,) = mx.wait_for(1)
    head = mail.data.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"Subject: =?utf-8?" in head


async def test_reminders_say_they_are_automatic_so_nobody_auto_replies():
    with MailServer() as mx:
        await EmailNotifier(channel(), smtp(mx.port)).send(message())
        (mail,) = mx.wait_for(1)
    assert mail.message["Auto-Submitted"] == "auto-generated"  # RFC 3834


async def test_the_message_id_is_the_same_on_every_retry():
    with MailServer() as mx:
        notifier = EmailNotifier(channel(), smtp(mx.port))
        await notifier.send(message())
        await notifier.send(message())
        first, again = mx.wait_for(2)
    assert first.message["Message-ID"] == again.message["Message-ID"]


@pytest.mark.parametrize("odd_id", ["a b@c", "a..b", ".a", "事件"])
async def test_an_id_unfit_for_a_message_id_gets_a_random_one(odd_id):
    with MailServer() as mx:
        await EmailNotifier(channel(), smtp(mx.port)).send(message(id=odd_id))
        (mail,) = mx.wait_for(1)
    msgid = mail.message["Message-ID"]
    assert msgid.endswith("@example.com>") and odd_id not in msgid
    assert mail.message["X-Rulewatch-Event"] == odd_id


async def test_the_date_header_comes_from_the_injected_clock():
    instant = datetime(2024, 2, 23, 1, 0, tzinfo=UTC)
    with MailServer() as mx:
        await EmailNotifier(channel(), smtp(mx.port), now=lambda: instant).send(message())
        (mail,) = mx.wait_for(1)
    assert mail.message["Date"].datetime == instant


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param("提醒\r\nBcc: evil@example.com", id="crlf"),
        pytest.param("提醒\nBcc: evil@example.com", id="lf"),
        pytest.param("提醒\rBcc: evil@example.com", id="cr"),
        pytest.param("提醒\u2028Bcc: evil@example.com", id="line-separator"),
        pytest.param("提醒\r\n\r\nevil body", id="blank-line"),
    ],
)
async def test_a_subject_cannot_inject_headers_or_recipients(subject):
    with MailServer() as mx:
        outcome = await EmailNotifier(channel(), smtp(mx.port)).send(message(subject))
        (mail,) = mx.wait_for(1)
    assert outcome.verdict is Verdict.delivered
    assert mail.rcpt_tos == ["zs@example.com"]
    got = mail.message
    assert got["Bcc"] is None and "evil" not in str(got.keys())
    assert got["Subject"].startswith("提醒 ") and "\n" not in got["Subject"]
    assert body(got, "plain") == TEXT


def test_clean_header_folds_every_line_break_and_drops_control_characters():
    assert clean_header(" a\r\n\tb\x0b\x0cc\x85d\u2029e\x00f\x1b ") == "a b c d ef"


@pytest.mark.parametrize(
    ("written", "name", "address"),
    [
        ("ops@example.com", "", "ops@example.com"),
        ("张三 <zs@example.com>", "张三", "zs@example.com"),
        ('"Ops, \\"Duty\\"" <d@example.com>', 'Ops, "Duty"', "d@example.com"),
    ],
)
def test_parse_mailbox(written, name, address):
    parsed = parse_mailbox(written)
    assert (parsed.display_name, parsed.addr_spec) == (name, address)


async def test_implicit_tls(ca: TestCA):
    with MailServer(security="tls", ca=ca) as mx:
        notifier = EmailNotifier(
            channel(), smtp(mx.port, security="tls"), tls_context=ca.client_context()
        )
        outcome = await notifier.send(message())
        mx.wait_for(1)
    assert outcome.verdict is Verdict.delivered, outcome.reason


async def test_login_without_tls_when_security_is_none():
    with MailServer(users={"rw": PASSWORD}) as mx:
        settings = smtp(mx.port, username="rw", password=PASSWORD)
        outcome = await EmailNotifier(channel(), settings).send(message())
        (mail,) = mx.wait_for(1)
    assert outcome.verdict is Verdict.delivered and mail.authenticated_as == "rw"


async def test_a_certificate_the_client_does_not_trust_is_retried(ca: TestCA):
    # The system's CAs do not know the test CA: the handshake fails, and may be fixed.
    with MailServer(security="starttls", ca=ca) as mx:
        outcome = await EmailNotifier(channel(), smtp(mx.port, security="starttls")).send(message())
    assert outcome.verdict is Verdict.retry
    assert "CERTIFICATE_VERIFY_FAILED" in outcome.reason or "certificate" in outcome.reason
    assert mx.mails == []


async def test_starttls_is_required_when_configured():
    # A server without STARTTLS: "starttls" must not quietly send in clear.
    with MailServer() as mx:
        outcome = await EmailNotifier(channel(), smtp(mx.port, security="starttls")).send(message())
    assert outcome.verdict is Verdict.failed
    assert "STARTTLS" in outcome.reason
    assert mx.mails == []


async def test_plain_against_a_server_requiring_starttls_fails(ca: TestCA):
    with MailServer(security="starttls", ca=ca) as mx:
        outcome = await EmailNotifier(channel(), smtp(mx.port)).send(message())
    assert outcome.verdict is Verdict.failed
    assert outcome.reply is not None and outcome.reply.startswith("530")


async def test_a_rejected_recipient_fails_naming_it():
    with MailServer(reject={"nobody@example.com": "550 no such user"}) as mx:
        outcome = await EmailNotifier(channel(to=["nobody@example.com"]), smtp(mx.port)).send(
            message()
        )
    assert outcome.verdict is Verdict.failed
    assert "nobody@example.com (550 no such user)" in outcome.reason
    assert outcome.reply == "550 no such user"


async def test_a_temporarily_refused_recipient_is_retried():
    with MailServer(reject={"busy@example.com": "450 mailbox busy"}) as mx:
        outcome = await EmailNotifier(channel(to=["busy@example.com"]), smtp(mx.port)).send(
            message()
        )
    assert outcome.verdict is Verdict.retry
    assert "busy@example.com (450 mailbox busy)" in outcome.reason


async def test_one_refused_recipient_among_others_is_delivered_and_named():
    # Sending again would mail the accepted recipients twice.
    to = channel(to=["zs@example.com", "nobody@example.com"])
    with MailServer(reject={"nobody@example.com": "550 no such user"}) as mx:
        outcome = await EmailNotifier(to, smtp(mx.port)).send(message())
        (mail,) = mx.wait_for(1)
    assert outcome.verdict is Verdict.delivered
    assert mail.rcpt_tos == ["zs@example.com"]
    assert "2 位收件人中的 1 位" in outcome.reason
    assert "nobody@example.com (550 no such user)" in outcome.reason


async def test_a_server_that_is_down_is_retried():
    with refused_port() as port:
        outcome = await EmailNotifier(channel(), smtp(port)).send(message())
    assert outcome.verdict is Verdict.retry
    assert f"127.0.0.1:{port}" in outcome.reason


async def test_a_server_that_never_answers_is_retried_within_the_timeout():
    with silent_port() as port:
        started = time.monotonic()
        outcome = await EmailNotifier(channel(), smtp(port, timeout=0.5)).send(message())
    assert time.monotonic() - started < 2.5  # 5× the timeout: generous, not a measurement
    assert outcome.verdict is Verdict.retry
    assert "在 0.5 秒内没有应答" in outcome.reason


@pytest.mark.parametrize("security", ["starttls", "none"])
async def test_a_wrong_password_fails_without_showing_it(ca: TestCA, security):
    with MailServer(security=security, ca=ca, users={"rw": "right"}) as mx:
        settings = smtp(mx.port, security=security, username="rw", password=PASSWORD)
        outcome = await EmailNotifier(channel(), settings, tls_context=ca.client_context()).send(
            message()
        )
    assert outcome.verdict is Verdict.failed
    assert "拒绝登录" in outcome.reason and outcome.reply is not None
    assert outcome.reply.startswith("535")
    assert PASSWORD not in outcome.reason + outcome.reply
    assert mx.mails == []


def test_smtp_settings_is_still_importable_from_alerts_config():
    from alerts.config import SmtpSettings as FromConfig

    assert FromConfig is SmtpSettings
