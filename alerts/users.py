"""Who may write: the ``[[users]]`` of config.toml, each with a role, and the callers the API
knows by their bearer token.

A role ranks the ones below it: a ``viewer`` reads, an ``editor`` also enters and corrects
notices and changes, an ``admin`` also manages watches and sources. The ``[api] token`` of
earlier versions keeps working as an admin's. Passwords are kept only as Argon2id hashes
(``rulewatch users hash`` makes one); a token is compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from enum import IntEnum
from functools import cache
from typing import TYPE_CHECKING, Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from alerts.config.values import Token

if TYPE_CHECKING:
    from alerts.config import Settings


class Role(IntEnum):
    """What a user may do; a higher role may do all a lower one may."""

    viewer = 1
    editor = 2
    admin = 3

    def __str__(self) -> str:
        return self.name


def _argon2_hash(value: SecretStr | None) -> SecretStr | None:
    if value is not None and not value.get_secret_value().startswith("$argon2id$"):
        raise PydanticCustomError(
            "rulewatch",
            "is not an Argon2id hash; make one with `rulewatch users hash` and paste it here "
            "(never the password itself)",
        )
    return value


PasswordHash = Annotated[SecretStr | None, AfterValidator(_argon2_hash)]


class UserConfig(BaseModel):
    """A ``[[users]]`` entry: a person (or a script) who may sign in or call the API."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=64)
    role: Role  # written "viewer", "editor" or "admin"
    password_hash: PasswordHash = None  # for the sign-in form
    token: Token = None  # for the API: Authorization: Bearer <token>

    @field_validator("role", mode="before")
    @classmethod
    def _role_by_name(cls, value: object) -> object:
        if isinstance(value, Role):
            return value
        if not isinstance(value, str) or value not in Role.__members__:
            raise PydanticCustomError("rulewatch", 'is "viewer", "editor" or "admin"')
        return Role[value]

    @model_validator(mode="after")
    def _can_sign_in(self) -> UserConfig:
        if self.password_hash is None and self.token is None:
            raise PydanticCustomError(
                "rulewatch", "needs a password_hash (to sign in) or a token (for the API)"
            )
        return self


@dataclass(frozen=True)
class Caller:
    """Who made a request: a user's name and role."""

    name: str
    role: Role


# The name the [api] token's caller goes by in answers and, later, in the audit log.
API_TOKEN_USER = "api"


def caller_of(settings: Settings, token: str) -> Caller | None:
    """The caller whose bearer token ``token`` is, None when it is nobody's. Every known
    token is compared, each in constant time, so the answer takes as long whoever asks."""
    found: Caller | None = None
    given = token.encode()
    known = [(API_TOKEN_USER, Role.admin, settings.api.token)] + [
        (user.name, user.role, user.token) for user in settings.users
    ]
    for name, role, secret in known:
        if secret is not None and hmac.compare_digest(given, secret.get_secret_value().encode()):
            found = found or Caller(name, role)
    return found


def takes_tokens(settings: Settings) -> bool:
    """Whether any caller may write through the API at all."""
    return settings.api.token is not None or any(u.token for u in settings.users)


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password``, with the library's current parameters."""
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def password_matches(user: UserConfig | None, password: str) -> bool:
    """Whether ``password`` is ``user``'s; False for no user or one without a password,
    after as long a check, so that the time of the answer says nothing of the name."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    hashed = user.password_hash.get_secret_value() if user and user.password_hash else None
    try:
        return PasswordHasher().verify(hashed or _stand_in(), password) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


@cache
def _stand_in() -> str:
    return hash_password(secrets.token_urlsafe(16))
