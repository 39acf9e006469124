"""The config checks the channel and source kinds share: an http(s) URL, and a problem
written in full for the config loader to show.

Kept apart from :mod:`notifiers.http` (which sends, and so imports httpx), so that loading
a config validates every kind without importing an HTTP client.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError


def config_problem(message: str) -> PydanticCustomError:
    # The message is already complete; the config loader shows it as written.
    return PydanticCustomError("rulewatch", message)


def check_http_url(value: str) -> str:
    """Accept an absolute http(s) URL with a host; raise a pydantic error otherwise.

    The URL itself is never put into the message: it may carry a token, and the loader
    shows the given value in redacted form next to the message.
    """
    if any(c.isspace() for c in value):
        raise config_problem("a URL cannot contain spaces or line breaks")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise config_problem("must be an http:// or https:// URL")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        raise config_problem("the port in the URL is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise config_problem("the URL has no host")
    return value


HttpUrlStr = Annotated[str, AfterValidator(check_http_url)]
