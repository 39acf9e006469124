"""Channels that deliver reminders, one module per kind, and the registry of kinds.

``CHANNELS`` maps each ``kind`` written in ``[[channels]]`` to its pydantic config model and
its notifier factory. The config loader builds its discriminated union from the models
(``CHANNEL_MODELS``), the engine builds notifiers with ``build_notifier``; adding a channel
kind is one new module plus one line in ``CHANNELS``.

This package never imports the store or ``alerts``: the engine injects the HTTP client, the
SMTP settings, the TLS context and the clock.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple, Protocol, Union

from pydantic import BaseModel, Field

from notifiers.base import Deps, Notifier, utc_now
from notifiers.dingtalk import DingTalkChannel, DingTalkNotifier
from notifiers.email import EmailChannel, EmailNotifier, SmtpSettings
from notifiers.feishu import FeishuChannel, FeishuNotifier
from notifiers.slack import SlackChannel, SlackNotifier
from notifiers.webhook import WebhookChannel, WebhookNotifier
from notifiers.wecom import WeComChannel, WeComNotifier

if TYPE_CHECKING:
    import httpx

__all__ = [
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


class ChannelKind(NamedTuple):
    """One registered kind: how its config is validated and how its notifier is built."""

    model: type[BaseModel]
    # Takes the validated config (an instance of ``model``) and the injected dependencies.
    factory: Callable[[Any, Deps], Notifier]


CHANNELS: dict[str, ChannelKind] = {
    "webhook": ChannelKind(WebhookChannel, WebhookNotifier.build),
    "email": ChannelKind(EmailChannel, EmailNotifier.build),
    "dingtalk": ChannelKind(DingTalkChannel, DingTalkNotifier.build),
    "wecom": ChannelKind(WeComChannel, WeComNotifier.build),
    "feishu": ChannelKind(FeishuChannel, FeishuNotifier.build),
    "lark": ChannelKind(FeishuChannel, FeishuNotifier.build),  # Feishu's bot on larksuite.com
    "slack": ChannelKind(SlackChannel, SlackNotifier.build),
}

CHANNEL_MODELS: dict[str, type[BaseModel]] = {kind: k.model for kind, k in CHANNELS.items()}


class ChannelConfig(Protocol):
    """What every channel config model has; narrow with ``isinstance`` for the rest."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...


def channel_union() -> Any:
    """The pydantic annotation validating one ``[[channels]]`` entry, chosen by ``kind``."""
    # A Union built at run time is invisible to mypy; callers type the result as ChannelConfig.
    models = tuple(dict.fromkeys(CHANNEL_MODELS.values()))  # one model may serve two kinds
    return Annotated[Union[models], Field(discriminator="kind")]  # noqa: UP007


def build_notifier(
    config: ChannelConfig,
    *,
    http: httpx.AsyncClient,
    smtp: SmtpSettings | None,
    tls_context: ssl.SSLContext | None = None,
    now: Callable[[], datetime] = utc_now,
) -> Notifier:
    """A ready notifier for the channel ``config``.

    ``http`` is shared by every HTTP kind and stays owned by the caller, who closes it;
    ``tls_context`` replaces the system's trusted CAs for SMTP; ``now`` is the clock of the
    timestamps put into messages.

    Raises ValueError when the kind is not registered, when ``config`` is not that kind's
    model, or when an email channel is given no ``smtp`` settings.
    """
    kind = CHANNELS.get(config.kind)
    if kind is None:
        raise ValueError(
            f"channel {config.name!r} has kind {config.kind!r}, which rulewatch does not know; "
            f"known kinds: {', '.join(CHANNELS)}"
        )
    if not isinstance(config, kind.model):
        raise ValueError(
            f"channel {config.name!r}: expected a {kind.model.__name__}, "
            f"got a {type(config).__name__}"
        )
    deps = Deps(http=http, smtp=smtp, tls_context=tls_context, now=now)
    return kind.factory(config, deps)
