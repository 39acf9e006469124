"""Webhook channel: POST a signed JSON body to a URL (Standard Webhooks signatures).

This module holds the channel's configuration model, ``WebhookChannel``; the sender that
uses it comes with the reminder engine. The secret is written ``whsec_<base64>`` as the
Standard Webhooks spec says, and its decoded bytes are the HMAC key.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_core import PydanticCustomError

SECRET_PREFIX = "whsec_"
# The spec recommends 24 to 64 bytes; shorter keys are refused rather than silently weak.
MIN_SECRET_BYTES = 24

# The notifier sets these itself; a configured header must not be able to forge them.
_RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host"}
    | {"webhook-id", "webhook-timestamp", "webhook-signature"}
)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token


def _problem(message: str) -> PydanticCustomError:
    # The message is already complete; the config loader shows it as written.
    return PydanticCustomError("rulewatch", message)


def check_http_url(value: str) -> str:
    """Accept an absolute http(s) URL with a host; raise a pydantic error otherwise.

    The URL itself is never put into the message: it may carry a token, and the loader
    shows the given value in redacted form next to the message.
    """
    if any(c.isspace() for c in value):
        raise _problem("a URL cannot contain spaces or line breaks")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise _problem("must be an http:// or https:// URL")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        raise _problem("the port in the URL is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise _problem("the URL has no host")
    return value


HttpUrlStr = Annotated[str, AfterValidator(check_http_url)]


def _check_secret(value: SecretStr | None) -> SecretStr | None:
    if value is None:
        return None
    raw = value.get_secret_value()
    if not raw.startswith(SECRET_PREFIX):
        raise _problem(
            f'must be written "{SECRET_PREFIX}<base64>" (Standard Webhooks); '
            "`rulewatch channels new-secret` prints a fresh one"
        )
    try:
        key = base64.b64decode(raw.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise _problem(f'the part after "{SECRET_PREFIX}" is not valid base64') from None
    if len(key) < MIN_SECRET_BYTES:
        raise _problem(
            f"the key decodes to {len(key)} bytes; use at least {MIN_SECRET_BYTES} "
            "(`rulewatch channels new-secret` prints a 32-byte one)"
        )
    return value


class WebhookChannel(BaseModel):
    """``kind = "webhook"``: POST each reminder as JSON to ``url``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=64)
    kind: Literal["webhook"]
    url: HttpUrlStr
    secret: Annotated[SecretStr | None, AfterValidator(_check_secret)] = None
    # Header values are secrets: they usually carry an Authorization token.
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    timeout: float = Field(default=10.0, gt=0, le=300)

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, header_value in value.items():
            if not _HEADER_NAME.fullmatch(name):
                raise _problem(f"{name!r} is not a valid HTTP header name")
            if name.lower() in _RESERVED_HEADERS:
                raise _problem(f"{name!r} is set by rulewatch itself and cannot be configured")
            if any(c in header_value.get_secret_value() for c in "\r\n"):
                raise _problem(f"the value of header {name!r} contains a line break")
        return value

    def signing_key(self) -> bytes | None:
        """The HMAC-SHA256 key: the decoded bytes after ``whsec_``, or None without a secret."""
        if self.secret is None:
            return None
        return base64.b64decode(self.secret.get_secret_value().removeprefix(SECRET_PREFIX))
