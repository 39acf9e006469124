"""Webhook channel: POST a signed JSON body to a URL (Standard Webhooks signatures).

``WebhookChannel`` is the channel's configuration, ``WebhookNotifier`` the sender. The secret
is written ``whsec_<base64>`` as the Standard Webhooks spec says, and its decoded bytes are
the HMAC key. Each request carries ``webhook-id`` (the message id, the same on every retry,
so receivers can drop repeats), ``webhook-timestamp`` (Unix seconds) and, with a secret,
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
)
from pydantic_core import PydanticCustomError

from notifiers.base import (
    Deps,
    Message,
    Outcome,
    Verdict,
    origin,
    url_secrets,
    utc_now,
)
from notifiers.checks import HttpUrlStr, config_problem
from notifiers.pacing import Pacing

if TYPE_CHECKING:
    import httpx

SECRET_PREFIX = "whsec_"
# The spec recommends 24 to 64 bytes; shorter keys are refused rather than silently weak.
MIN_SECRET_BYTES = 24

# The notifier sets these itself; a configured header must not be able to forge them.
_RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host"}
    | {"webhook-id", "webhook-timestamp", "webhook-signature"}
)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token


def _check_secret(value: SecretStr | None) -> SecretStr | None:
    if value is None:
        return None
    raw = value.get_secret_value()
    if not raw.startswith(SECRET_PREFIX):
        raise config_problem(
            f'must be written "{SECRET_PREFIX}<base64>" (Standard Webhooks); '
            "`rulewatch channels new-secret` prints a fresh one"
        )
    try:
        key = base64.b64decode(raw.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise config_problem(f'the part after "{SECRET_PREFIX}" is not valid base64') from None
    if len(key) < MIN_SECRET_BYTES:
        raise config_problem(
            f"the key decodes to {len(key)} bytes; use at least {MIN_SECRET_BYTES} "
            "(`rulewatch channels new-secret` prints a 32-byte one)"
        )
    return value


def _secrets(value: object) -> SecretStr | tuple[SecretStr, ...] | None:
    """``secret``: one ``whsec_`` string, or a non-empty list of them, each checked."""
    if value is None:
        return None
    if isinstance(value, str | SecretStr):
        return _check_secret(value if isinstance(value, SecretStr) else SecretStr(value))
    if isinstance(value, list | tuple) and value:
        checked: list[SecretStr] = []
        for position, item in enumerate(value, 1):
            if not isinstance(item, str | SecretStr):
                raise config_problem(f"secret {position} of the list is not a string")
            try:
                secret = _check_secret(item if isinstance(item, SecretStr) else SecretStr(item))
            except PydanticCustomError as exc:
                raise config_problem(f"secret {position} of the list: {exc.message()}") from None
            if secret is not None:
                checked.append(secret)
        return tuple(checked)
    raise config_problem('must be a "whsec_…" string, or a non-empty list of them (newest first)')


class WebhookChannel(Pacing):
    """``kind = "webhook"``: POST each reminder as JSON to ``url``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=64)
    kind: Literal["webhook"]
    url: HttpUrlStr
    # One secret, or several while receivers switch over to a new one (the newest first):
    # each request is signed with every one of them (Standard Webhooks allows a list).
    secret: Annotated[SecretStr | tuple[SecretStr, ...] | None, BeforeValidator(_secrets)] = None
    # Header values are secrets: they usually carry an Authorization token.
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    timeout: float = Field(default=10.0, gt=0, le=300)

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, header_value in value.items():
            if not _HEADER_NAME.fullmatch(name):
                raise config_problem(f"{name!r} is not a valid HTTP header name")
            if name.lower() in _RESERVED_HEADERS:
                raise config_problem(
                    f"{name!r} is set by rulewatch itself and cannot be configured"
                )
            if any(c in header_value.get_secret_value() for c in "\r\n"):
                raise config_problem(f"the value of header {name!r} contains a line break")
            if not header_value.get_secret_value().isascii():
                # HTTP/1.1 clients send header values as ASCII; httpx refuses anything else.
                raise config_problem(f"the value of header {name!r} must be ASCII text")
        return value

    def secrets(self) -> list[str]:
        """The secrets as written (``whsec_…``), newest first; none without a secret."""
        given = (
            ()
            if self.secret is None
            else (self.secret if isinstance(self.secret, tuple) else (self.secret,))
        )
        return [value.get_secret_value() for value in given]

    def signing_keys(self) -> list[bytes]:
        """The HMAC-SHA256 keys: the decoded bytes after ``whsec_`` of each secret."""
        return [base64.b64decode(raw.removeprefix(SECRET_PREFIX)) for raw in self.secrets()]


def new_secret() -> str:
    """A fresh signing secret, ``whsec_`` + base64 of 32 random bytes (what
    ``rulewatch channels new-secret`` prints)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one request: ``v1,<base64 HMAC-SHA256>``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


_USER_AGENT = "rulewatch-webhook"
# A header value must be visible ASCII; the id goes into one and into the signed content.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


def _json_default(value: object) -> object:
    # The payload is typed Mapping: a read-only view or a frozen mapping must serialize too.
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class WebhookNotifier:
    """Sends each message as one signed POST to the channel's URL.

    ``client`` is shared and owned by the caller (its connection pool is reused across
    channels); ``now`` is the clock read for ``webhook-timestamp``.
    """

    # Only ``message.id`` and ``message.payload`` are sent, so the dispatcher renders this
    # channel's messages without their text and HTML bodies (bench/dispatch.py: the two
    # templates were most of the cost of rendering a reminder).
    uses_message_bodies = False

    def __init__(
        self,
        config: WebhookChannel,
        client: httpx.AsyncClient,
        *,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        self._client = client
        self._now = now
        self._origin = origin(config.url)
        self._keys = config.signing_keys()
        self._headers = {name: value.get_secret_value() for name, value in config.headers.items()}
        if not any(name.lower() == "user-agent" for name in self._headers):
            self._headers["user-agent"] = _USER_AGENT
        self._secrets = self._collect_secrets()

    @classmethod
    def build(cls, config: WebhookChannel, deps: Deps) -> WebhookNotifier:
        """The registry's factory: a notifier on the shared HTTP client and clock."""
        return cls(config, deps.http, now=deps.now)

    def _collect_secrets(self) -> list[str]:
        found = url_secrets(self.config.url)
        for raw in self.config.secrets():
            found += [raw, raw.removeprefix(SECRET_PREFIX)]
        for value in self._headers.values():
            # "Bearer abc": the credential alone may be echoed back by a receiver too.
            found += [value, value.partition(" ")[2]]
        return found

    async def send(self, message: Message) -> Outcome:
        """POST ``message.payload`` once and say what came of it; never raises for a
        delivery failure (an unserializable payload or unusable id is a ``failed`` outcome)."""
        if not _HEADER_SAFE.fullmatch(message.id):
            return Outcome(Verdict.failed, "消息 id 为空或含可见 ASCII 以外的字符，无法发送")
        try:
            # Serialized once: the signature covers exactly these bytes.
            body = json.dumps(
                message.payload, ensure_ascii=False, separators=(",", ":"), default=_json_default
            ).encode("utf-8")
        except (TypeError, ValueError) as exc:
            return Outcome(Verdict.failed, f"消息内容无法写成 JSON：{exc}")
        now = self._now()
        timestamp = int(now.timestamp())
        headers = {
            **self._headers,
            "content-type": "application/json",
            "webhook-id": message.id,
            "webhook-timestamp": str(timestamp),
        }
        if self._keys:
            # Space-separated, as Standard Webhooks sends several: a receiver accepts the
            # request when any one of them verifies with the secret it holds.
            headers["webhook-signature"] = " ".join(
                sign(key, message.id, timestamp, body) for key in self._keys
            )
        from notifiers.http import post

        return await post(
            self._client,
            self.config.url,
            content=body,
            headers=headers,
            timeout=self.config.timeout,
            secrets=self._secrets,
            now=self._now,
        )
