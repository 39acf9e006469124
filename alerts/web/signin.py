"""Signing in on the page: a form, a session cookie, and the CSRF token every form carries.

The session is Starlette's signed cookie (HttpOnly, SameSite=Lax, Secure when
``[service] base_url`` is https) holding the user's name, a digest of their password hash
(so changing a password, or removing the user, ends their sessions) and the session's CSRF
token. Sign-in attempts are counted per user name from one client address, and per address:
after ``MAX_FAILURES`` failures within ``FAILURE_WINDOW`` either is refused until the window
passes, right password or not. An attempt is counted before its password is checked, so
guesses sent at once count alike; a stranger guessing one name from their own address locks
out only themselves. The counts live in the process: each instance counts its own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from alerts import clock
from alerts.users import Caller, UserConfig, password_matches
from alerts.web.deps import SettingsDep

if TYPE_CHECKING:
    from alerts.config import Settings

router = APIRouter(tags=["page"])

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
SESSION_HOURS = 12  # a working day: a session cookie outlives no shift
COOKIE = "rulewatch_session"


# The most keys counted at once: past it the oldest go, so that a flood of made-up names
# cannot grow the process without bound.
MAX_KEYS = 10_000


@dataclass
class Attempts:
    """Sign-in attempts by key (a name from an address, an address), oldest first."""

    failures: dict[str, deque[datetime]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, keys: list[str], now: datetime) -> timedelta | None:
        """Count an attempt under ``keys`` and let it through (None), or say how long until
        one is taken again. Counted before the password is checked: the check takes a fifth
        of a second, and guesses sent at once must not all slip in during it."""
        with self._lock:
            waits = []
            for key in keys:
                seen = self.failures.get(key)
                while seen and now - seen[0] >= FAILURE_WINDOW:
                    seen.popleft()
                if seen is not None and not seen:
                    del self.failures[key]
                elif seen and len(seen) >= MAX_FAILURES:
                    waits.append(seen[0] + FAILURE_WINDOW - now)
            if waits:
                return max(waits)
            for key in keys:
                self.failures.setdefault(key, deque()).append(now)
            while len(self.failures) > MAX_KEYS:
                del self.failures[next(iter(self.failures))]
            return None

    def succeeded(self, keys: list[str], now: datetime) -> None:
        """The attempt taken at ``now`` was right: the name's count from this address starts
        again, and the address's loses this one attempt (not the guesses made before it, so
        that signing in to one's own account clears no one else's)."""
        with self._lock:
            self.failures.pop(keys[0], None)
            for key in keys[1:]:
                seen = self.failures.get(key)
                if seen and now in seen:
                    seen.remove(now)


def signed_in(request: Request) -> Caller | None:
    """The user whose session the request carries, if it still holds: the user is still in
    config.toml with the password the session was opened with."""
    settings: Settings = request.app.state.settings
    name, seal = request.session.get("user"), request.session.get("seal")
    user = _user(settings, name) if isinstance(name, str) else None
    if user is None or not isinstance(seal, str) or not hmac.compare_digest(seal, _seal(user)):
        return None
    return Caller(user.name, user.role)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made when the session has none (a form shown to a visitor
    who has not signed in yet carries one too: the sign-in form itself)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, given: str) -> None:
    """403 unless ``given`` is the session's CSRF token: a form posted from another site,
    or with another session's token, is refused."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or not hmac.compare_digest(token.encode(), given.encode()):
        raise HTTPException(
            403, "表单已过期或不是从本站提交的，请刷新页面后重试（CSRF check failed）"
        )


@router.get("/signin", response_class=HTMLResponse, include_in_schema=False)
def signin_form(request: Request, settings: SettingsDep) -> HTMLResponse:
    return _form(request, settings)


@router.post("/signin", response_class=HTMLResponse, include_in_schema=False)
def signin(
    request: Request,
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    check_csrf(request, csrf)
    attempts: Attempts = request.app.state.signin_attempts
    address = request.client.host if request.client else "-"
    keys = [f"user:{name}@{address}", f"addr:{address}"]
    now = clock.now()
    wait = attempts.take(keys, now)
    if wait is not None:
        minutes = max(1, -(-int(wait.total_seconds()) // 60))
        said = f"登录失败次数过多，请 {minutes} 分钟后再试。"
        page = _form(request, settings, name=name, problem=said, status=429)
        page.headers["Retry-After"] = str(int(wait.total_seconds()) + 1)
        return page
    user = _user(settings, name)
    if not password_matches(user, password) or user is None:
        # One answer, in as long, whether the name or the password was wrong: names are
        # not probed (password_matches checks a stand-in hash for a name that has none).
        return _form(request, settings, name=name, problem="用户名或密码不对。", status=401)
    attempts.succeeded(keys, now)
    request.session.clear()  # a fresh session: no fixation of one made before sign-in
    request.session.update(user=user.name, seal=_seal(user), csrf=secrets.token_urlsafe(24))
    return RedirectResponse("/", status_code=303)


@router.post("/signout", include_in_schema=False)
def signout(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse("/", status_code=303)


def _form(
    request: Request,
    settings: Settings,
    *,
    name: str = "",
    problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    from alerts.web.pages import render

    return render(
        "signin.html.j2",
        settings,
        status=status,
        name=name,
        problem=problem,
        csrf=csrf_token(request),
        can_sign_in=any(user.password_hash for user in settings.users),
    )


def _user(settings: Settings, name: str) -> UserConfig | None:
    return next((user for user in settings.users if user.name == name), None)


def _seal(user: UserConfig) -> str:
    hashed = user.password_hash.get_secret_value() if user.password_hash else ""
    return hashlib.sha256(hashed.encode()).hexdigest()[:32]
