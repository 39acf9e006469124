"""Email channel: send each reminder to a list of addresses through the ``[smtp]`` server.

This module holds the channel's configuration model, ``EmailChannel``; the sender comes
with the reminder engine. The server itself is configured once, in ``[smtp]``
(``alerts.config.SmtpSettings``), because every email channel shares it.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

# Deliberately loose: the SMTP server is the judge of deliverability; this only catches
# values that cannot be an address at all (typos, a missing @, a name without address).
_ADDR = r"[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+"
_MAILBOX = re.compile(rf"(?:{_ADDR})|(?:[^<>@]*<{_ADDR}>)")


def check_address(value: str) -> str:
    """Accept ``user@host`` or ``Display Name <user@host>``; raise a pydantic error otherwise."""
    if "\r" in value or "\n" in value:
        # A line break here would let the value add headers to the message.
        raise PydanticCustomError("rulewatch", "an address cannot contain a line break")
    if not _MAILBOX.fullmatch(value.strip()):
        raise PydanticCustomError(
            "rulewatch",
            'is not an email address; write "user@example.com" or "Name <user@example.com>"',
        )
    return value.strip()


EmailAddress = Annotated[str, AfterValidator(check_address)]


class EmailChannel(BaseModel):
    """``kind = "email"``: mail each reminder to ``to`` (and ``cc``) via ``[smtp]``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=64)
    kind: Literal["email"]
    to: list[EmailAddress] = Field(min_length=1)
    cc: list[EmailAddress] = Field(default_factory=list)
