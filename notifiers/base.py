"""The one interface every channel kind implements, and what it returns.

A notifier takes a rendered :class:`Message` and makes one attempt to deliver it. It never
retries, sleeps, deduplicates or touches the store: the dispatcher does all of that with the
:class:`Outcome` it gets back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


@dataclass(frozen=True)
class Message:
    """A reminder rendered for delivery; the same value is sent again on every retry."""

    id: str  # stable event id (the reminder's uid): receivers drop repeats by it
    subject: str  # one line, no line breaks
    text: str  # plain-text body
    html: str  # HTML body
    payload: Mapping[str, Any] = field(default_factory=dict)  # JSON body for machine receivers


class Verdict(StrEnum):
    delivered = "delivered"
    retry = "retry"  # a temporary failure: try again later
    failed = "failed"  # a permanent failure: trying again will not help


@dataclass(frozen=True)
class Outcome:
    """The result of one delivery attempt, with a reason a person can read (never a secret)."""

    verdict: Verdict
    reason: str
    status_code: int | None = None  # HTTP status, where there was one
    reply: str | None = None  # the server's reply line (SMTP), where there was one
    retry_after: float | None = None  # seconds the receiver asked us to wait (Retry-After)


class Notifier(Protocol):
    """One channel, ready to send."""

    async def send(self, message: Message) -> Outcome:
        """Make one attempt to deliver ``message``; never raises for a delivery failure."""
        ...
