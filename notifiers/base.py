"""The one interface every channel kind implements, what it returns, and its shared helpers.

A notifier takes a rendered :class:`Message` and makes one attempt to deliver it. It never
retries, sleeps, deduplicates or touches the store: the dispatcher does all of that with the
:class:`Outcome` it gets back.

The helpers keep the rules that must be the same for every kind in one place:
:func:`classify_http` decides what an HTTP answer means, :func:`redact` and :func:`origin`
keep secrets and tokens out of the reasons that end up in the delivery log.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

    from notifiers.email import SmtpSettings

REDACTED = "***"


@dataclass(frozen=True)
class Message:
    """A reminder rendered for delivery; the same value is sent again on every retry."""

    id: str  # stable event id (the reminder's uid): receivers drop repeats by it
    subject: str  # one line, no line breaks
    text: str  # plain-text body
    html: str  # HTML body
    payload: Mapping[str, Any] = field(default_factory=dict)  # JSON body for machine receivers
    # Who the watches that sent it ask to be @-mentioned, besides the channel's own
    # ``mention`` (chat kinds only): "all", mobile numbers or user ids.
    mentions: tuple[str, ...] = ()


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


def utc_now() -> datetime:
    """The default clock of notifiers: the current instant in UTC.

    The dispatcher passes its own clock (``alerts.clock.now``) so that tests moving time
    move the ``webhook-timestamp`` and ``Date`` headers too; this package does not import
    ``alerts``.
    """
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deps:
    """What a notifier may need from outside, injected by whoever builds it.

    One value for every kind, so that the registry in ``notifiers/__init__.py`` calls each
    kind's factory the same way and the dispatcher never branches on ``kind``.
    """

    http: httpx.AsyncClient
    smtp: SmtpSettings | None = None
    tls_context: ssl.SSLContext | None = None  # None: the system's trusted CAs
    now: Callable[[], datetime] = utc_now


# --- HTTP answers ------------------------------------------------------------------------

# 408 and 429 say "not now" rather than "never"; every 5xx may be the receiver's passing
# trouble. Other 4xx mean the request itself is wrong and will be wrong again.
_RETRYABLE_4XX = frozenset({408, 429})
# Only these two carry a Retry-After that is about trying again (RFC 9110 §10.2.3);
# on a 3xx it means something else.
_RETRY_AFTER_STATUSES = frozenset({429, 503})


def classify_http(
    status_code: int, headers: Mapping[str, str], *, now: datetime | None = None
) -> Outcome:
    """What an HTTP answer means for delivery: 2xx delivered; 408, 429 and 5xx retry;
    anything else (other 4xx, an unfollowed 3xx, 1xx) failed.

    A 429 or 503 with ``Retry-After`` (delay-seconds or an HTTP date, read against ``now``,
    default the current time) sets ``retry_after`` in seconds, never negative. ``headers``
    is looked up case-insensitively. The reason names the status only: never the body,
    which the caller adds itself after redacting it.
    """
    label = _status_label(status_code)
    if 200 <= status_code < 300:
        return Outcome(Verdict.delivered, f"接收方返回 {label}", status_code=status_code)
    if status_code in _RETRYABLE_4XX or 500 <= status_code < 600:
        retry_after = None
        if status_code in _RETRY_AFTER_STATUSES:
            retry_after = parse_retry_after(headers, now or utc_now())
        wait = f"，要求等待 {retry_after:g} 秒" if retry_after is not None else ""
        return Outcome(
            Verdict.retry,
            f"接收方返回 {label}{wait}",
            status_code=status_code,
            retry_after=retry_after,
        )
    if 300 <= status_code < 400:
        # The Location may carry a token, so it is not shown; redirects are not followed
        # because a signed POST must go to the configured URL and nowhere else.
        return Outcome(
            Verdict.failed,
            f"接收方返回 {label}（重定向：请把渠道的 url 改为新地址）",
            status_code=status_code,
        )
    return Outcome(Verdict.failed, f"接收方返回 {label}", status_code=status_code)


def _status_label(status_code: int) -> str:
    try:
        return f"HTTP {status_code} {HTTPStatus(status_code).phrase}"
    except ValueError:
        return f"HTTP {status_code}"


def parse_retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delay seconds or an HTTP date); None when
    there is none or it cannot be read."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # unreadable: the dispatcher's own backoff applies
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # HTTP dates are GMT (RFC 9110 §5.6.7)
    return max(0.0, (when - now).total_seconds())


# --- keeping secrets out of reasons ------------------------------------------------------


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each non-empty secret replaced by ``***``.

    Every notifier passes its error text through this before it becomes a reason or a
    reply, with all it knows to be secret: tokens, signing secrets, passwords, header
    values, the URL's path and query. Longer secrets are replaced first so that one secret
    containing another is masked whole.
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: what a reason may say about where it sent.

    User info, path, query and fragment are dropped because any of them may hold a token.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return REDACTED
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def url_secrets(url: str) -> list[str]:
    """The parts of ``url`` that may carry credentials, for :func:`redact`.

    The whole URL, its user info, its path (when longer than "/"), its query and each
    query value, and its fragment.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found = [url, parts.query, parts.fragment]
    if "@" in parts.netloc:
        found.append(parts.netloc.rpartition("@")[0])
    if len(parts.path) > 1:
        found.append(parts.path)
    found += [pair.partition("=")[2] for pair in parts.query.split("&")]
    return [s for s in found if s]


def one_line(text: str, limit: int = 200) -> str:
    """``text`` with its whitespace runs (line breaks included) collapsed to one space,
    cut to ``limit`` characters: fit for a one-line reason."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
