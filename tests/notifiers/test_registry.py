"""Tests for notifiers/__init__.py: the registry of kinds and ``build_notifier``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import pytest
from mailserver import TestCA
from receiver import WHSEC

import notifiers
from notifiers import CHANNEL_MODELS, CHANNELS, EmailChannel, WebhookChannel, build_notifier
from notifiers.base import Message
from notifiers.email import EmailNotifier, SmtpSettings
from notifiers.webhook import WebhookNotifier, new_secret

pytestmark = pytest.mark.anyio

HOOK = WebhookChannel.model_validate({"name": "hook", "kind": "webhook", "url": "http://h/x"})
MAIL = EmailChannel.model_validate({"name": "mail", "kind": "email", "to": ["a@example.com"]})
SMTP = SmtpSettings.model_validate({"host": "127.0.0.1", "from": "rw@example.com"})


def test_the_public_surface_is_pinned():
    assert sorted(notifiers.__all__) == [
        "CHANNELS",
        "CHANNEL_MODELS",
        "ChannelConfig",
        "ChannelKind",
        "DingTalkChannel",
        "EmailChannel",
        "FeishuChannel",
        "SlackChannel",
        "SmtpSettings",
        "WeComChannel",
        "WebhookChannel",
        "build_notifier",
        "channel_union",
    ]


def test_each_kind_is_named_as_its_model_says():
    assert CHANNEL_MODELS.keys() == CHANNELS.keys()
    for kind, entry in CHANNELS.items():
        # One model may serve two names of one vendor (feishu, lark).
        assert kind in get_args(entry.model.model_fields["kind"].annotation)


async def test_build_notifier_makes_each_kind(http, ca: TestCA):
    hook = build_notifier(HOOK, http=http, smtp=None)
    mail = build_notifier(MAIL, http=http, smtp=SMTP, tls_context=ca.client_context())
    assert isinstance(hook, WebhookNotifier) and hook.config is HOOK
    assert isinstance(mail, EmailNotifier) and mail.smtp is SMTP


async def test_an_email_channel_without_smtp_settings_is_refused(http):
    with pytest.raises(ValueError, match=r"email channel 'mail' needs the \[smtp\] section"):
        build_notifier(MAIL, http=http, smtp=None)


async def test_an_unknown_kind_is_refused(http):
    class Pager:
        name, kind = "p", "pager"

    with pytest.raises(ValueError, match=r"kind 'pager'.*known kinds: webhook, email"):
        build_notifier(Pager(), http=http, smtp=None)


def test_notifiers_import_neither_alerts_nor_store():
    # The package boundary in ARCHITECTURE terms: notifiers get everything injected.
    code = (
        "import sys, notifiers, notifiers.webhook, notifiers.email, notifiers.dingtalk\n"
        "import notifiers.wecom, notifiers.feishu, notifiers.slack, notifiers.chat\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('alerts', 'store'))\n"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


DOCS = Path(__file__).resolve().parents[2] / "docs" / "channels.md"


def test_every_kind_has_a_section_in_docs_channels_md():
    text = DOCS.read_text(encoding="utf-8")
    missing = [kind for kind in CHANNELS if f'## kind = "{kind}"' not in text]
    assert not missing, f"docs/channels.md has no section for {missing}"


async def test_the_by_hand_verification_in_the_docs_accepts_a_real_request(receiver, http):
    text = DOCS.read_text(encoding="utf-8")
    block = re.search(r"<!-- verify-by-hand.*?-->\n```python\n(.*?)```", text, re.S)
    assert block, "the verify-by-hand block is missing from docs/channels.md"
    namespace: dict[str, Any] = {}
    exec(block[1], namespace)
    verify = namespace["verify"]

    channel = WebhookChannel.model_validate(
        {"name": "hook", "kind": "webhook", "url": receiver.url, "secret": WHSEC}
    )
    await build_notifier(channel, http=http, smtp=None).send(
        Message(id="rmd_doc", subject="s", text="t", html="h", payload={"规则": "1688"})
    )
    (got,) = receiver.wait_for(1)
    assert verify(WHSEC, got.headers, got.body)
    assert not verify(new_secret(), got.headers, got.body)
    assert not verify(WHSEC, got.headers, got.body + b" ")
