"""What every HTTP route may ask for: a session, the settings, and write permission.

Routers (alerts/web/api.py, alerts/web/feed.py, alerts/web/pages.py) depend on these instead
of on each other, so each face stays a small module.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from store.db import session_scope

if TYPE_CHECKING:
    from alerts.config import Settings


def _session(request: Request) -> Iterator[Session]:
    # Nothing commits here: FastAPI runs this exit after the answer is sent, and an answer
    # must never say stored what a failed commit lost. Writes commit in the route
    # (store.db.committed); anything left uncommitted is rolled back.
    with session_scope(request.app.state.engine, commit_at_end=False) as session:
        yield session


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(_session)]
SettingsDep = Annotated["Settings", Depends(_settings)]

_bearer = HTTPBearer(auto_error=False, description="The `[api] token` of config.toml.")


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let a write through only with ``Authorization: Bearer <[api] token>``.

    Without a configured token the API takes no writes at all (403); a missing or wrong
    token is 401. The comparison takes the same time whatever the token given.
    """
    settings = _settings(request)
    token = settings.api.token
    if token is None:
        raise HTTPException(403, "writes are disabled: set [api] token in config.toml")
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise HTTPException(
            401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )


WriteAccess = Depends(require_token)
