"""The JSON API under /api: changes, notices, watches, reminders and deliveries."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Body, HTTPException, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from alerts import clock
from alerts.extract.model import Notice
from alerts.reminders.ops import retry_reminders
from alerts.sources.base import where
from alerts.sources.catalog import configured, parse_source, source_views
from alerts.sources.web import private_address
from alerts.timeline import corrections, ingest
from alerts.timeline.handled import ScopeKind, set_handled
from alerts.timeline.ingest import IngestReport, add_change, ingest_notice
from alerts.timeline.search import MAX_QUERY, SEARCH
from alerts.timeline.views import (
    ChangeView,
    ReminderView,
    change_views,
    count_selected,
    reminder_views,
    revision_views,
)
from alerts.users import Caller
from alerts.watches import current_watches
from alerts.web import schemas
from alerts.web.deps import Admin, Editor, SessionDep, SettingsDep, logged
from store import audit, outbox, queries
from store import sources as stored_sources
from store import watches as stored_watches


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "The body is not UTF-8 (so not JSON), or it asks what cannot be done.",
        401: "No valid bearer token.",
        403: "Writes are disabled (no token configured), or the caller's role is too low.",
        404: "No such item.",
        409: "It exists already, or belongs to config.toml.",
        413: "The request body is larger than [api] max_body_bytes.",
    }
    return {code: {"model": schemas.Problem, "description": text[code]} for code in codes}


_SOURCE_EXAMPLE = {
    "name": "douyin-rules",
    "kind": "json_list",
    "url": "https://example.com/rules/list",
    "every": "2h",
    "platform": "抖店",
}
_WRITE = (401, 403, 413)
_BODY = (*_WRITE, 400)  # a write with a JSON body
router = APIRouter(prefix="/api", tags=["api"], responses=_errors(413))


@router.get(
    "/changes",
    summary="The timeline of rule changes, by effective date.",
    responses={
        200: {
            "headers": {
                "X-Total-Count": {
                    "description": "How many changes the filters select, over all pages.",
                    "schema": {"type": "integer", "minimum": 0},
                }
            }
        }
    },
)
def list_changes(
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    upcoming: Annotated[bool, Query(description="Only changes effective today or later.")] = False,
    rule: Annotated[str | None, Query(description="Part of the rule's name or key.")] = None,
    platform: Annotated[str | None, Query(description="Platform, e.g. 1688.")] = None,
    q: Annotated[str | None, Query(max_length=MAX_QUERY, description=SEARCH)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[schemas.Change]:
    """Changes ordered by 生效 (undated last); page with ``limit`` and ``offset``.

    The ``X-Total-Count`` header gives the number of changes the filters select.
    """
    tz = settings.service.tz
    filters: dict[str, Any] = {"rule": rule, "platform": platform, "search": q}
    today = clock.today(tz)
    views = change_views(
        session, today=today, tz=tz, upcoming=upcoming, limit=limit, offset=offset, **filters
    )
    response.headers["X-Total-Count"] = str(
        count_selected(session, effective_from=today if upcoming else None, **filters)
    )
    return [_change(view) for view in views]


@router.get(
    "/changes/{uid}",
    summary="One change with its notices, reminders and deliveries.",
    responses=_errors(404),
)
def get_change(uid: str, session: SessionDep, settings: SettingsDep) -> schemas.ChangeDetail:
    return _detail(session, settings, uid)


def _detail(session: Any, settings: Any, uid: str) -> schemas.ChangeDetail:
    found = queries.get_change(session, uid=uid)
    if found is None:
        raise HTTPException(404, f"no change has uid {uid!r}")
    change, _ = found
    tz = settings.service.tz
    notices = queries.notices_of_change(session, change_id=change.id or 0)
    view = change_views(session, today=clock.today(tz), tz=tz, uid=uid)[0]
    reminders = reminder_views(session, tz=tz, change_id=change.id)
    return schemas.ChangeDetail(
        **_change(view).model_dump(),
        summary=change.summary,
        notices=[
            schemas.Notice(
                id=n.id or 0,
                title=n.title,
                url=n.url,
                published_at=n.published_at.astimezone(tz) if n.published_at else None,
                text=n.text,
                origin=n.origin,
                problem=n.problem,
            )
            for n in notices
        ],
        reminders=_with_deliveries(session, reminders),
        history=[
            schemas.Revision.model_validate(r.as_json())
            for r in revision_views(session, change_id=change.id or 0, tz=tz)
        ],
    )


@router.post(
    "/changes",
    status_code=201,
    responses=_errors(*_BODY),
    summary="Enter a change by hand (entering the same change twice changes nothing).",
)
def post_change(
    body: schemas.ChangeIn, session: SessionDep, settings: SettingsDep, caller: Editor
) -> schemas.IngestResult:
    now = clock.now()
    report = logged(
        session,
        caller,
        "change.add",
        body.rule,
        body.model_dump(mode="json"),
        lambda: add_change(
            session,
            rule=body.rule,
            platform=body.platform,
            announced_on=body.announced_on,
            effective_on=body.effective_on,
            effective_at=body.effective_at,
            title=body.title,
            url=body.url,
            tentative=body.tentative,
            note=body.note,
            now=now,
            tz=settings.service.tz,
        ),
    )
    return _ingested(report)


@router.post(
    "/changes/{uid}/withdraw",
    responses=_errors(*_WRITE, 404, 409),
    summary="Mark a change withdrawn: it leaves the feed, channels are told once.",
)
def withdraw(
    uid: str, session: SessionDep, settings: SettingsDep, caller: Editor
) -> schemas.Change:
    now = clock.now()
    write = lambda: ingest.withdraw(session, uid=uid, now=now)  # noqa: E731
    if logged(session, caller, "change.withdraw", uid, {}, write) is None:
        raise HTTPException(404, f"no change has uid {uid!r}")
    return _one_change(session, settings, uid)


@router.put(
    "/changes/{uid}/handled",
    responses=_errors(*_BODY, 404),
    summary="Mark a change handled (已处理) for a watch or a tag, with a note.",
)
def put_handled(
    uid: str,
    body: schemas.HandledIn,
    session: SessionDep,
    settings: SettingsDep,
    caller: Editor,
) -> schemas.Change:
    """The watch or tag must cover the change (else 422). Marking again replaces the note;
    with ``stop_when_handled`` (the default) the watch's lead reminders about it stop."""
    kind, scope = (ScopeKind.watch, body.watch) if body.watch else (ScopeKind.tag, body.tag)
    handled_logged(session, settings, caller, uid=uid, kind=kind, scope=scope or "", note=body.note)
    return _one_change(session, settings, uid)


@router.delete(
    "/changes/{uid}/handled",
    responses=_errors(*_WRITE, 400, 404),
    summary="Undo a change's mark for a watch or a tag: its lead reminders are planned again.",
)
def delete_handled(
    uid: str,
    session: SessionDep,
    settings: SettingsDep,
    caller: Editor,
    watch: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> schemas.Change:
    if (watch is None) == (tag is None):
        raise HTTPException(400, "give either ?watch= or ?tag=, not both")
    kind, scope = (ScopeKind.watch, watch) if watch else (ScopeKind.tag, tag)
    handled_logged(session, settings, caller, uid=uid, kind=kind, scope=scope or "", undo=True)
    return _one_change(session, settings, uid)


def handled_logged(
    session: Any,
    settings: Any,
    caller: Caller,
    *,
    uid: str,
    kind: ScopeKind,
    scope: str,
    note: str = "",
    undo: bool = False,
    detail: dict[str, Any] | None = None,
) -> None:
    """Mark change ``uid`` handled for ``scope`` (or undo the mark), logged as ``caller``'s;
    what cannot be done is the HTTP error it says. The API's and the page's."""
    shown = {kind.value: scope, **({} if undo else {"note": note}), **(detail or {})}

    def write() -> bool:
        watches = current_watches(session, settings)
        set_handled(
            session,
            watches,
            uid=uid,
            kind=kind,
            scope=scope,
            by=caller.name,
            note=note,
            undo=undo,
            now=clock.now(),
        )
        return True

    action = "change.unhandled" if undo else "change.handled"
    logged(session, caller, action, uid, shown, write)


def _one_change(session: Any, settings: Any, uid: str) -> schemas.Change:
    tz = settings.service.tz
    return _change(change_views(session, today=clock.today(tz), tz=tz, uid=uid)[0])


@router.patch(
    "/changes/{uid}",
    responses=_errors(*_BODY, 404, 409),
    summary="Correct a change's dates, time, rule, platform or 预计 flag, saying why; a "
    "corrected effective date re-plans its reminders and tells channels once.",
)
def correct_change(
    uid: str,
    body: schemas.CorrectionIn,
    session: SessionDep,
    settings: SettingsDep,
    caller: Editor,
) -> schemas.ChangeDetail:
    values = body.model_dump(exclude_unset=True, exclude={"reason"})
    corrections.correct(session, caller.name, "edit", uid, body.reason, values=values)
    return _detail(session, settings, uid)


@router.post(
    "/changes/{uid}/merge",
    responses=_errors(*_BODY, 404, 409),
    summary="Merge another change that is the same change into this one (it leaves the "
    "timeline; its sources join this one).",
)
def merge_change(
    uid: str, body: schemas.MergeIn, session: SessionDep, settings: SettingsDep, caller: Editor
) -> schemas.ChangeDetail:
    corrections.correct(session, caller.name, "merge", uid, body.reason, other=body.other)
    return _detail(session, settings, uid)


@router.post(
    "/changes/{uid}/split",
    status_code=201,
    responses=_errors(*_BODY, 404, 409),
    summary="Split a wrongly joined source notice off into a change of its own.",
)
def split_change(
    uid: str, body: schemas.SplitIn, session: SessionDep, settings: SettingsDep, caller: Editor
) -> schemas.SplitResult:
    split = corrections.correct(
        session, caller.name, "split", uid, body.reason, notice=body.notice, tz=settings.service.tz
    )
    return schemas.SplitResult(uid=split.uid, check=split.check)


@router.delete(
    "/changes/{uid}",
    responses=_errors(*_WRITE, 404, 409),
    summary="Delete a change that was never one (a misreading), saying why: it leaves the "
    "timeline and the feed quietly and keeps its page and history.",
)
def delete_change(
    uid: str,
    session: SessionDep,
    settings: SettingsDep,
    caller: Editor,
    reason: Annotated[str, Query(min_length=1, max_length=500, pattern=r"\S")],
) -> schemas.ChangeDetail:
    corrections.correct(session, caller.name, "delete", uid, reason)
    return _detail(session, settings, uid)


@router.post(
    "/notices",
    status_code=201,
    responses=_errors(*_BODY),
    summary="Submit an announcement text: its changes are read and stored.",
)
def post_notice(
    body: schemas.NoticeIn, session: SessionDep, settings: SettingsDep, caller: Editor
) -> schemas.IngestResult:
    notice = Notice(title=body.title, text=body.text, published_at=body.published_at, url=body.url)
    tz = settings.service.tz
    shown = {"title": body.title, "url": body.url, "published_at": body.published_at}
    report = logged(
        session,
        caller,
        "notice.add",
        body.title or body.text[:60],
        shown,
        lambda: ingest_notice(session, notice, origin="api", tz=tz),
    )
    return _ingested(report)


@router.get("/watches", summary="The watches: config.toml's and those added here.")
def list_watches(session: SessionDep, settings: SettingsDep) -> list[schemas.Watch]:
    from_config = {watch.name for watch in settings.watches}
    return [
        schemas.Watch(
            **watch.model_dump(exclude={"regex"}),
            regex=list(watch.regex),
            source="config" if watch.name in from_config else "api",
        )
        for watch in current_watches(session, settings)
    ]


@router.post(
    "/watches",
    status_code=201,
    responses=_errors(*_BODY, 409),
    summary="Add a watch; it persists in the store and is used with config.toml's.",
)
def post_watch(
    body: schemas.WatchIn, session: SessionDep, settings: SettingsDep, caller: Admin
) -> schemas.Watch:
    from alerts.config import Watch
    from alerts.config.problems import mention_problems

    definition = body.model_dump(exclude_none=True)
    try:
        Watch.model_validate(definition)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None
    channels = {channel.name for channel in settings.channels}
    for index, name in enumerate(body.channels):
        if name not in channels:
            raise RequestValidationError(
                [
                    {
                        "type": "value_error",
                        "loc": ("body", "channels", index),
                        "msg": f"no channel named {name!r} in config.toml",
                        "input": name,
                    }
                ]
            )
    raw = {
        "watch": [definition],
        "channels": [{"name": c.name, "kind": c.kind} for c in settings.channels],
    }
    for parts, message in mention_problems(raw):
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", *parts[2:]), "msg": message, "input": None}]
        )
    taken = {watch.name for watch in current_watches(session, settings)}
    now = clock.now()
    if body.name in taken or not logged(
        session,
        caller,
        "watch.add",
        body.name,
        definition,
        lambda: stored_watches.add_watch(session, name=body.name, definition=definition, now=now),
    ):
        raise HTTPException(409, f"a watch named {body.name!r} exists already")
    return schemas.Watch(**body.model_dump(), source="api")


@router.delete(
    "/watches/{name}",
    status_code=204,
    responses=_errors(*_WRITE, 404, 409),
    summary="Remove a watch added through the API.",
)
def delete_watch(name: str, session: SessionDep, settings: SettingsDep, caller: Admin) -> None:
    if any(watch.name == name for watch in settings.watches):
        raise HTTPException(409, f"watch {name!r} is defined in config.toml; remove it there")
    remove = lambda: stored_watches.remove_watch(session, name=name)  # noqa: E731
    if not logged(session, caller, "watch.remove", name, {}, remove):
        raise HTTPException(404, f"no watch named {name!r}")


@router.get("/sources", summary="The sources rulewatch polls: config.toml's and those added here.")
def list_sources(session: SessionDep, settings: SettingsDep) -> list[schemas.SourceStatus]:
    return [schemas.SourceStatus(**view.as_json()) for view in source_views(settings, session)]


# Kinds that read this machine's files: only whoever edits config.toml may point them.
_LOCAL_KINDS = frozenset({"folder"})


@router.post(
    "/sources",
    status_code=201,
    responses=_errors(*_BODY, 409),
    summary="Add a source, as a [[sources]] table in JSON; polled with config.toml's.",
)
def post_source(
    body: Annotated[dict[str, Any], Body(examples=[_SOURCE_EXAMPLE])],
    session: SessionDep,
    settings: SettingsDep,
    caller: Admin,
) -> schemas.SourceStatus:
    kind = body.get("kind")
    if isinstance(kind, str) and kind in _LOCAL_KINDS:
        raise HTTPException(
            400,
            f"{kind} 数据源读取本机文件，请在 config.toml 中添加（a {kind} source reads this "
            "machine's files: add it in config.toml）",
        )
    try:
        config = parse_source({key: schemas.without_nul(value) for key, value in body.items()})
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"][1:])} for error in exc.errors()]
        ) from None
    url = getattr(config, "url", None)
    why = private_address(urlsplit(url).hostname or "") if isinstance(url, str) else None
    if why is not None and not settings.polling.api_private_addresses:
        raise HTTPException(
            400,
            f"{why}：通过 API 添加的数据源不读取本机和内网地址；需要时在 config.toml 中"
            "设置 [polling] api_private_addresses = true（a source added through the API "
            "does not fetch this machine's or private addresses）",
        )
    definition = json.dumps(config.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)
    taken = {source.name for source in configured(settings, session)}
    now = clock.now()
    # Logged without the URL's userinfo and query, which may hold the site's key.
    shown = {"kind": config.kind, "url": where(url) if isinstance(url, str) else None}
    if config.name in taken or not logged(
        session,
        caller,
        "source.add",
        config.name,
        shown,
        lambda: stored_sources.add_stored_source(
            session, name=config.name, definition=definition, now=now
        ),
    ):
        raise HTTPException(409, f"a source named {config.name!r} exists already")
    (view,) = [v for v in source_views(settings, session) if v.name == config.name]
    return schemas.SourceStatus(**view.as_json())


@router.delete(
    "/sources/{name}",
    status_code=204,
    responses=_errors(*_WRITE, 404, 409),
    summary="Remove a source added through the API, with what rulewatch kept of its polls.",
)
def delete_source(name: str, session: SessionDep, settings: SettingsDep, caller: Admin) -> None:
    if any(source.name == name for source in settings.sources):
        raise HTTPException(409, f"source {name!r} is defined in config.toml; remove it there")

    def remove() -> bool:
        if not stored_sources.delete_stored_source(session, name):
            return False
        stored_sources.forget(session, [name])
        return True

    if not logged(session, caller, "source.remove", name, {}, remove):
        raise HTTPException(404, f"no source named {name!r}")


@router.get("/reminders", summary="The reminder outbox, by due time.")
def list_reminders(
    session: SessionDep,
    settings: SettingsDep,
    status: Annotated[
        list[schemas.ReminderShow] | None,
        Query(description="pending, sent or failed; repeat for several. Default: all."),
    ] = None,
) -> list[schemas.Reminder]:
    views = reminder_views(session, tz=settings.service.tz, show=status or ())
    return [schemas.Reminder(**_reminder_fields(view)) for view in views]


@router.post(
    "/reminders/{uid}/retry",
    responses=_errors(*_WRITE, 404, 409),
    summary="Send a reminder that failed for good again, at the next tick.",
)
def retry_reminder(
    uid: str, session: SessionDep, settings: SettingsDep, caller: Editor
) -> schemas.Retried:
    return _retry(session, caller, uid=uid)


@router.post(
    "/channels/{name}/retry",
    responses=_errors(*_WRITE, 404),
    summary="Send every reminder of a channel that failed for good again, at the next tick.",
)
def retry_channel(
    name: str, session: SessionDep, settings: SettingsDep, caller: Editor
) -> schemas.Retried:
    if not any(channel.name == name for channel in settings.channels):
        raise HTTPException(404, f"no channel named {name!r} in config.toml")
    return _retry(session, caller, channel=name)


def _retry(
    session: Any, caller: Caller, *, uid: str | None = None, channel: str | None = None
) -> schemas.Retried:
    return schemas.Retried(retried=retry_logged(session, caller, uid=uid, channel=channel))


def retry_logged(
    session: Any,
    caller: Caller,
    *,
    uid: str | None = None,
    channel: str | None = None,
    detail: dict[str, Any] | None = None,
) -> list[str]:
    """Put dead reminders back (``reminders.ops.retry_reminders``), logged as ``caller``'s;
    what cannot be retried is refused with the HTTP status it says. The API's and the page's
    retry."""
    now = clock.now()
    retried = logged(
        session,
        caller,
        "reminder.retry",
        uid or f"channel {channel}",
        detail or {},
        lambda: retry_reminders(session, uid=uid, channel=channel, now=now) or None,
    )
    return retried or []


@router.get("/deliveries/failed", summary="Reminders that failed for good, with every attempt.")
def failed_deliveries(
    session: SessionDep, settings: SettingsDep
) -> list[schemas.ReminderWithDeliveries]:
    return _with_deliveries(
        session, reminder_views(session, tz=settings.service.tz, show=["failed"])
    )


def _change(view: ChangeView) -> schemas.Change:
    data = view.as_json()
    return schemas.Change.model_validate(data)


def _reminder_fields(view: ReminderView) -> dict[str, Any]:
    data = view.as_json()
    data.pop("last_delivery")
    return data


def _with_deliveries(
    session: Any, views: list[ReminderView]
) -> list[schemas.ReminderWithDeliveries]:
    found = outbox.deliveries_of(session, reminder_ids=[v.id for v in views])
    return [
        schemas.ReminderWithDeliveries(
            **_reminder_fields(view),
            deliveries=[
                schemas.Delivery.model_validate(d, from_attributes=True) for d in found[view.id]
            ],
        )
        for view in views
    ]


def _ingested(report: IngestReport) -> schemas.IngestResult:
    return schemas.IngestResult(
        stored=report.notices_added > 0,
        changes=[
            schemas.ChangeResult(
                action=c.action,
                uid=c.uid,
                rule_key=c.rule_key,
                announced_on=c.announced_on,
                effective_on=c.effective_on,
                postponed_from=c.postponed_from,
            )
            for c in report.changes
        ],
        problem=report.unreadable[0][1] if report.unreadable else None,
        without_year=[day for _, days in report.without_year for day in days],
    )


@router.get(
    "/audit",
    responses=_errors(401, 403),
    summary="The audit log, newest first: every write, who made it and when (admins only).",
)
def list_audit(
    session: SessionDep,
    caller: Admin,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    actor: Annotated[str | None, Query(max_length=64)] = None,
) -> list[schemas.AuditEntry]:
    return [
        schemas.AuditEntry(
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            detail=json.loads(entry.detail or "{}"),
        )
        for entry in audit.entries(session, limit=limit, actor=actor)
    ]
