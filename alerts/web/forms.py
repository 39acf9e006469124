"""The page's write forms: each posts with the session's CSRF token, needs a signed-in user
of the role the write asks for, is logged like the API's writes, and goes back to the page.
Today: pasting a notice (read and shown first, stored on a second press), retrying a
reminder that failed for good, correcting a change on its page (edit, merge another into
it, split a source off, delete it) and marking it handled for a watch or tag (or undoing the
mark), each through the API's own write."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from alerts.errors import Refused
from alerts.extract.model import Notice
from alerts.timeline.corrections import correct
from alerts.timeline.handled import ScopeKind
from alerts.timeline.ingest import TEXT_CAP, changes_in, cleaned, ingest_notice
from alerts.users import Caller, Role
from alerts.web.api import handled_logged, retry_logged
from alerts.web.deps import SessionDep, SettingsDep, logged
from alerts.web.signin import check_csrf, csrf_token, signed_in
from store.queries import KEY_LENGTH, PLATFORM_LENGTH

router = APIRouter(tags=["page"])


def _editor(request: Request) -> Caller:
    who = signed_in(request)
    if who is None:
        raise HTTPException(401, "请先登录（sign in first: /signin）")
    if who.role < Role.editor:
        raise HTTPException(403, f"{who.name} 是只读用户，不能修改（this needs the editor role）")
    return who


def _posting_editor(request: Request, csrf: str) -> Caller:
    """The editor a form is posted by: its CSRF token checked first, then who signed in."""
    check_csrf(request, csrf)
    return _editor(request)


def _back_to(uid: str, part: str) -> RedirectResponse:
    """Back to a part of a change's page once its form is done."""
    return RedirectResponse(f"/changes/{quote(uid, safe='')}#{part}", status_code=303)


@router.post("/reminders/{uid}/retry", include_in_schema=False)
def retry_form(
    uid: str,
    request: Request,
    session: SessionDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    retry_logged(session, _posting_editor(request, csrf), uid=uid, detail={"from": "page"})
    return RedirectResponse("/#failed", status_code=303)


_Reason = Annotated[str, Form(max_length=500)]


@router.post("/changes/{uid}/edit", include_in_schema=False)
def edit_form(
    uid: str,
    request: Request,
    session: SessionDep,
    announced_on: Annotated[str, Form(max_length=20)] = "",
    effective_on: Annotated[str, Form(max_length=20)] = "",
    effective_at: Annotated[str, Form(max_length=10)] = "",
    tentative: Annotated[str, Form(max_length=10)] = "",
    rule: Annotated[str, Form(max_length=KEY_LENGTH - PLATFORM_LENGTH)] = "",
    platform: Annotated[str, Form(max_length=PLATFORM_LENGTH)] = "",
    seen: Annotated[str, Form(max_length=16)] = "",
    reason: _Reason = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    who = _posting_editor(request, csrf)
    values = {
        "announced_on": _day(announced_on, "公示日期"),
        "effective_on": _day(effective_on, "生效日期"),
        "effective_at": _clock_time(effective_at),
        "tentative": bool(tentative),
        "rule": rule.strip(),
        "platform": platform.strip() or None,
    }
    correct(session, who.name, "edit", uid, reason, values=values, seen=seen or None)
    return _back_to(uid, "history")


@router.post("/changes/{uid}/merge", include_in_schema=False)
def merge_form(
    uid: str,
    request: Request,
    session: SessionDep,
    other: Annotated[str, Form(max_length=64)] = "",
    reason: _Reason = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    correct(session, _posting_editor(request, csrf).name, "merge", uid, reason, other=other.strip())
    return _back_to(uid, "history")


@router.post("/changes/{uid}/split", include_in_schema=False)
def split_form(
    uid: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    notice: Annotated[int, Form(ge=1)],
    reason: _Reason = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    who = _posting_editor(request, csrf)
    split = correct(session, who.name, "split", uid, reason, notice=notice, tz=settings.service.tz)
    return _back_to(split.uid, "history")


@router.post("/changes/{uid}/delete", include_in_schema=False)
def delete_form(
    uid: str,
    request: Request,
    session: SessionDep,
    reason: _Reason = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    correct(session, _posting_editor(request, csrf).name, "delete", uid, reason)
    return _back_to(uid, "history")


def _day(value: str, label: str) -> date | None:
    try:
        return date.fromisoformat(value) if value.strip() else None
    except ValueError:
        raise Refused(f"{label} {value!r} 不是日期，例如 2026-12-15", status=422) from None


def _clock_time(value: str) -> time | None:
    try:
        return time.fromisoformat(value) if value.strip() else None
    except ValueError:
        raise Refused(f"生效时刻 {value!r} 不是时刻，例如 10:00", status=422) from None


@router.post("/changes/{uid}/handled", include_in_schema=False)
def handled_form(
    uid: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    scope: Annotated[str, Form(max_length=210)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    return _handled(request, session, settings, uid=uid, scope=scope, note=note, csrf=csrf)


@router.post("/changes/{uid}/handled/undo", include_in_schema=False)
def unhandled_form(
    uid: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    scope: Annotated[str, Form(max_length=210)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    return _handled(request, session, settings, uid=uid, scope=scope, csrf=csrf, undo=True)


def _handled(
    request: Request,
    session: Any,
    settings: Any,
    *,
    uid: str,
    scope: str,
    csrf: str,
    note: str = "",
    undo: bool = False,
) -> RedirectResponse:
    who = _posting_editor(request, csrf)
    kind, name = _scope(scope)
    detail = {"from": "page"}
    handled_logged(
        session, settings, who, uid=uid, kind=kind, scope=name, note=note, undo=undo, detail=detail
    )
    return _back_to(uid, "handled")


def _scope(value: str) -> tuple[ScopeKind, str]:
    # The page's forms post watch:NAME or tag:NAME.
    kind, _, name = value.partition(":")
    if kind not in ScopeKind.__members__ or not name:
        raise HTTPException(422, f"scope {value!r} 应为 watch:名称 或 tag:标签")
    return ScopeKind(kind), name


@router.get("/notices/new", response_class=HTMLResponse, include_in_schema=False)
def paste_form(request: Request, settings: SettingsDep) -> Response:
    if signed_in(request) is None:
        return RedirectResponse("/signin", status_code=303)
    return _paste_page(request, settings, _editor(request))


@router.post("/notices/new", include_in_schema=False)
def paste(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    title: Annotated[str, Form(max_length=500)] = "",
    text: Annotated[str, Form(max_length=TEXT_CAP)] = "",
    published: Annotated[str, Form(max_length=40)] = "",
    url: Annotated[str, Form(max_length=2000)] = "",
    action: Annotated[str, Form(max_length=10)] = "preview",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    who = _posting_editor(request, csrf)
    tz = settings.service.tz
    fields = {"title": title, "text": text, "published": published, "url": url}
    if not text.strip():
        return _paste_page(request, settings, who, fields=fields, problem="请粘贴公告正文。")
    try:
        published_at = datetime.fromisoformat(published) if published else None
    except ValueError:
        problem = f"发布时间 {published!r} 不是日期时间，例如 2026-12-01T10:00"
        return _paste_page(request, settings, who, fields=fields, problem=problem)
    if published_at is not None and published_at.tzinfo is None:
        published_at = published_at.replace(tzinfo=tz)  # as the service's zone reads it
    notice = cleaned(
        Notice(title=title.strip(), text=text, published_at=published_at, url=url.strip() or None)
    )
    if action != "store":
        read = changes_in(notice)
        return _paste_page(request, settings, who, fields=fields, read=read, previewed=True)
    report = logged(
        session,
        who,
        "notice.add",
        notice.title or notice.text[:60],
        {"from": "page", "url": notice.url},
        lambda: ingest_notice(session, notice, origin=f"page: {who.name}"[:200], tz=tz),
    )
    first = next((change.uid for change in report.changes), None)
    return RedirectResponse(f"/changes/{first}" if first else "/", status_code=303)


def _paste_page(
    request: Request,
    settings: Any,
    who: Caller,
    *,
    fields: dict[str, str] | None = None,
    read: list[Any] | None = None,
    previewed: bool = False,
    problem: str | None = None,
) -> HTMLResponse:
    from alerts.web.pages import render

    return render(
        "paste.html.j2",
        settings,
        status=422 if problem else 200,
        who=who,
        csrf=csrf_token(request),
        fields=fields or {"title": "", "text": "", "published": "", "url": ""},
        read=read or [],
        previewed=previewed,
        problem=problem,
    )
