"""What every HTTP route may ask for: a session, the settings, and a caller of a role.

Routers (alerts/web/api.py, alerts/web/feed.py, alerts/web/pages.py) depend on these instead
of on each other, so each face stays a small module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from alerts import clock
from alerts.users import Caller, Role, caller_of, takes_tokens
from store import audit
from store.db import session_scope

if TYPE_CHECKING:
    from alerts.config import Settings


T = TypeVar("T")


def _session(request: Request) -> Iterator[Session]:
    # Nothing commits here: FastAPI runs this exit after the answer is sent, and an answer
    # must never say stored what a failed commit lost. Writes commit in the route
    # (store.db.committed); anything left uncommitted is rolled back.
    with session_scope(request.app.state.engine, commit_at_end=False) as session:
        yield session


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _settings_of(request: Request) -> Settings:
    # A coroutine, so that FastAPI does not send it to a thread of its own.
    return _settings(request)


SessionDep = Annotated[Session, Depends(_session)]
SettingsDep = Annotated["Settings", Depends(_settings_of)]

_bearer = HTTPBearer(
    auto_error=False,
    description="A `[[users]]` token of config.toml (or the `[api] token`, an admin's).",
)


def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller the bearer token names. Without any token configured the API takes no
    writes at all (403); a missing or unknown token is 401."""
    settings = _settings(request)
    if not takes_tokens(settings):
        raise HTTPException(
            403, "writes are disabled: give a [[users]] entry a token (or set [api] token)"
        )
    caller = caller_of(settings, credentials.credentials if credentials else "")
    if caller is None:
        raise HTTPException(
            401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    return caller


def _at_least(role: Role) -> Callable[[Caller], Caller]:
    def check(caller: Annotated[Caller, Depends(_caller)]) -> Caller:
        if caller.role < role:
            raise HTTPException(
                403, f"{caller.name} is a {caller.role}: this needs the {role} role or above"
            )
        return caller

    return check


# Who may enter and correct notices and changes; who may manage watches and sources.
Editor = Annotated[Caller, Depends(_at_least(Role.editor))]
Admin = Annotated[Caller, Depends(_at_least(Role.admin))]


def logged(
    session: Session,
    caller: Caller,
    action: str,
    target: str,
    detail: Mapping[str, Any],
    write: Callable[[], T],
) -> T:
    """``write`` committed with its audit entry as ``caller``'s (``store.audit.logged``)."""
    return audit.logged(
        session,
        actor=caller.name,
        action=action,
        target=target,
        detail=detail,
        write=write,
        now=clock.now(),
    )
