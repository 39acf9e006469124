"""The page's write forms: each posts with the session's CSRF token, needs a signed-in user
of the role the write asks for, is logged like the API's writes, and goes back to the page.
Today: retrying a reminder that failed for good."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from alerts import clock
from alerts.reminders.ops import RetryRefused, retry_reminders
from alerts.users import Caller, Role
from alerts.web.deps import SessionDep, logged
from alerts.web.signin import check_csrf, signed_in

router = APIRouter(tags=["page"])


def _editor(request: Request) -> Caller:
    who = signed_in(request)
    if who is None:
        raise HTTPException(401, "请先登录（sign in first: /signin）")
    if who.role < Role.editor:
        raise HTTPException(403, f"{who.name} 是只读用户，不能修改（this needs the editor role）")
    return who


@router.post("/reminders/{uid}/retry", include_in_schema=False)
def retry_form(
    uid: str,
    request: Request,
    session: SessionDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    check_csrf(request, csrf)
    who = _editor(request)
    now = clock.now()
    try:
        logged(
            session,
            who,
            "reminder.retry",
            uid,
            {"from": "page"},
            lambda: retry_reminders(session, uid=uid, now=now) or None,
        )
    except RetryRefused as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return RedirectResponse("/#failed", status_code=303)
