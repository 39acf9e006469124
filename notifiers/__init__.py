"""Channels that deliver reminders, one module per kind, and the registry of kinds.

``CHANNEL_MODELS`` maps each ``kind`` written in ``[[channels]]`` to its pydantic config
model. The config loader builds its discriminated union from this mapping, so adding a
channel kind is one new module plus one line here (and, with the engine, its factory).
This package never imports the store.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol, Union

from pydantic import BaseModel, Field

from notifiers.email import EmailChannel
from notifiers.webhook import WebhookChannel

__all__ = ["CHANNEL_MODELS", "ChannelConfig", "EmailChannel", "WebhookChannel", "channel_union"]

CHANNEL_MODELS: dict[str, type[BaseModel]] = {
    "webhook": WebhookChannel,
    "email": EmailChannel,
}


class ChannelConfig(Protocol):
    """What every channel config model has; narrow with ``isinstance`` for the rest."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...


def channel_union() -> Any:
    """The pydantic annotation validating one ``[[channels]]`` entry, chosen by ``kind``."""
    # A Union built at run time is invisible to mypy; callers type the result as ChannelConfig.
    return Annotated[Union[tuple(CHANNEL_MODELS.values())], Field(discriminator="kind")]  # noqa: UP007
