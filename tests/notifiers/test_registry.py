"""Tests for notifiers/__init__.py: the registry of kinds and ``build_notifier``."""

from __future__ import annotations

import subprocess
import sys
from typing import get_args

import pytest
from mailserver import TestCA

import notifiers
from notifiers import CHANNEL_MODELS, CHANNELS, EmailChannel, WebhookChannel, build_notifier
from notifiers.email import EmailNotifier, SmtpSettings
from notifiers.webhook import WebhookNotifier

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
        "EmailChannel",
        "SmtpSettings",
        "WebhookChannel",
        "build_notifier",
        "channel_union",
    ]


def test_each_kind_is_named_as_its_model_says():
    assert CHANNEL_MODELS.keys() == CHANNELS.keys()
    for kind, entry in CHANNELS.items():
        assert get_args(entry.model.model_fields["kind"].annotation) == (kind,)


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
        "import sys, notifiers, notifiers.webhook, notifiers.email\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('alerts', 'store'))\n"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
