"""The HTTP face: a FastAPI app over the store, and the JSON API under /api.

Built by :func:`create_app` from settings and an engine, never at import time, so tests and
the server each make their own. The calendar feed (alerts/web/feed.py) and the timeline page
(alerts/page.py) are routers of the same app. Domain errors become HTTP statuses here and
nowhere else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route
from swagger_ui_bundle import swagger_ui_path

from alerts import change_page, clock, page, schemas
from alerts.deps import SessionDep, SettingsDep, WriteAccess
from alerts.errors import RulewatchError, StoreError
from alerts.extract.model import Notice
from alerts.metrics import CONTENT_TYPE, Metrics
from alerts.reminders.plan import current_watches, workdays_of
from alerts.reminders.workdays import coverage_warnings
from alerts.timeline import ingest
from alerts.timeline.ingest import IngestReport, add_change, ingest_notice
from alerts.timeline.views import (
    ChangeView,
    ReminderView,
    change_views,
    count_selected,
    reminder_views,
)
from alerts.web import feed
from store import outbox, queries
from store import watches as stored_watches
from store.db import committed

if TYPE_CHECKING:
    from alerts.config import Settings

DISPATCH_JOB = "dispatch"  # alerts.reminders.engine's job id; not imported, to keep the app light
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]


def create_app(settings: Settings, engine: Engine, *, lifespan: Lifespan | None = None) -> FastAPI:
    """The rulewatch HTTP app on ``engine``; the schema must already be upgraded.

    ``lifespan`` runs around the app's life (``serve`` starts the reminder scheduler in it).
    """
    app = FastAPI(
        title="rulewatch",
        summary="Platform rule changes: 公示 and 生效 dates, reminders and a calendar feed.",
        description=(
            "Reads are open. Writes need `Authorization: Bearer <token>` with the `[api] token` "
            "of config.toml; without a configured token the API takes no writes."
        ),
        version="0.1.0",
        lifespan=lifespan,
        # FastAPI's own pages load Swagger UI from a CDN: blank on an intranet. /docs is
        # served below from the swagger-ui-bundle package instead.
        docs_url=None,
        redoc_url=None,
    )
    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")
    app.get("/docs", include_in_schema=False)(_docs)
    app.state.scheduler = None
    app.state.settings = settings
    app.state.engine = engine
    app.state.metrics = Metrics(engine)

    @app.exception_handler(StoreError)
    async def _store_error(_request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(RulewatchError)
    async def _domain_error(_request: Request, exc: RulewatchError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI's own words ("There was an error parsing the body") do not say what.
            bad = exc.__cause__
            detail = (
                f"the request body is not UTF-8 (byte 0x{bad.object[bad.start]:02x} at "
                f"{bad.start}); JSON must be sent in UTF-8 (RFC 8259)"
            )
            return JSONResponse({"detail": detail}, status_code=400)
        if exc.status_code != 405:
            return await http_exception_handler(request, exc)
        # Starlette names the methods of the first route of the path only; a path has a
        # route per method here (GET and POST /api/watches), and Allow lists them all.
        path = request.url.path
        routes = [*app.router.routes, *(r for router in routers for r in router.routes)]
        methods: set[str] = set()
        for route in routes:
            if isinstance(route, APIRoute | Route) and route.path_regex.fullmatch(path):
                methods |= route.methods or set()
        allow = ", ".join(sorted(methods | ({"HEAD"} if "GET" in methods else set())))
        return JSONResponse({"detail": exc.detail}, status_code=405, headers={"Allow": allow})

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": [_shown(error) for error in exc.errors()]}, status_code=422)

    app.get("/healthz", summary="Is the service up, its store reachable, its scheduler running?")(
        _healthz
    )
    app.get("/metrics", summary="Prometheus metrics.", response_class=PlainTextResponse)(_metrics)
    routers = (api, feed.router, page.router, change_page.router)
    for router in routers:
        app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(NoNulInUrl)
    return app


class NoNulInUrl:
    """Drop NUL characters from the URL: no route means one, and PostgreSQL cannot compare
    text holding it (a uid with NUL is then simply not found)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"")
        ):
            scope = dict(scope)
            scope["path"] = scope["path"].replace("\x00", "")
            scope["raw_path"] = bytes(scope.get("raw_path") or b"").replace(b"%00", b"")
            scope["query_string"] = scope.get("query_string", b"").replace(b"%00", b"")
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, whether or not they say their size."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen = 0
        refused = False

        async def counted() -> Any:
            nonlocal seen, refused
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes and not refused:
                # The app may be mid-parse and would turn an exception into a 400: answer
                # 413 here, then tell it the client left, and drop whatever it sends after.
                refused = True
                await self._refuse(scope, receive, send)
                return {"type": "http.disconnect"}
            return message

        async def guarded(message: Any) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not refused:
                raise

    async def _refuse(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        detail = f"request body larger than {self.max_bytes} bytes ([api] max_body_bytes)"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)


def _docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="rulewatch API",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon-32x32.png",
    )


def _shown(error: Any) -> dict[str, Any]:
    """A validation error as the answer shows it: what was wrong and where, with at most the
    start of the input (a body that is not UTF-8, or is 200,000 characters, is not echoed)."""
    shown = {key: value for key, value in dict(error).items() if key not in ("input", "url")}
    given = error.get("input")
    if isinstance(given, str):
        shown["input"] = given if len(given) <= 80 else f"{given[:80]}…"
    elif isinstance(given, int | float | bool) or given is None:
        shown["input"] = given
    if "ctx" in shown:
        shown["ctx"] = {key: str(value) for key, value in shown["ctx"].items()}
    return shown


def _metrics(request: Request) -> PlainTextResponse:
    metrics: Metrics = request.app.state.metrics
    return PlainTextResponse(metrics.render(), media_type=CONTENT_TYPE)


def _healthz(request: Request, response: Response) -> schemas.Health:
    scheduler = request.app.state.scheduler
    job = scheduler.get_job(DISPATCH_JOB) if scheduler is not None else None
    running = "running" if scheduler is not None and scheduler.running else "stopped"
    engine: Engine = request.app.state.engine
    try:
        # A table read, not SELECT 1: a file that is no database answers SELECT 1 fine.
        with engine.connect() as connection:
            connection.execute(text("SELECT 1 FROM rule LIMIT 1"))
    except SQLAlchemyError as exc:
        response.status_code = 503
        problem = getattr(exc, "orig", None) or exc
        return schemas.Health(
            status="failing",
            store=f"cannot read the store: {problem}",
            scheduler=running,
            next_dispatch=job.next_run_time if job else None,
        )
    settings: Settings = request.app.state.settings
    warnings = coverage_warnings(
        workdays_of(settings),
        shifting=settings.reminders.shift == "previous_workday",
        today=clock.today(settings.service.tz),
    )
    return schemas.Health(
        status="ok",
        store="ok",
        scheduler=running,
        next_dispatch=job.next_run_time if job else None,
        warnings=warnings,
    )


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "The body is not UTF-8 (so not JSON), or it asks what cannot be done.",
        401: "No valid bearer token.",
        403: "Writes are disabled: no [api] token is configured.",
        404: "No such item.",
        409: "It exists already, or belongs to config.toml.",
        413: "The request body is larger than [api] max_body_bytes.",
    }
    return {code: {"model": schemas.Problem, "description": text[code]} for code in codes}


_WRITE = (401, 403, 413)
_BODY = (*_WRITE, 400)  # a write with a JSON body
api = APIRouter(prefix="/api", tags=["api"], responses=_errors(413))


@api.get(
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
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[schemas.Change]:
    """Changes ordered by 生效 (undated last); page with ``limit`` and ``offset``.

    The ``X-Total-Count`` header gives the number of changes the filters select.
    """
    tz = settings.service.tz
    filters: dict[str, Any] = {"upcoming": upcoming, "rule": rule, "platform": platform}
    today = clock.today(tz)
    views = change_views(session, today=today, tz=tz, limit=limit, offset=offset, **filters)
    response.headers["X-Total-Count"] = str(
        count_selected(
            session, effective_from=today if upcoming else None, rule=rule, platform=platform
        )
    )
    return [_change(view) for view in views]


@api.get(
    "/changes/{uid}",
    summary="One change with its notices, reminders and deliveries.",
    responses=_errors(404),
)
def get_change(uid: str, session: SessionDep, settings: SettingsDep) -> schemas.ChangeDetail:
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
    )


@api.post(
    "/changes",
    status_code=201,
    dependencies=[WriteAccess],
    responses=_errors(*_BODY),
    summary="Enter a change by hand (entering the same change twice changes nothing).",
)
def post_change(
    body: schemas.ChangeIn, session: SessionDep, settings: SettingsDep
) -> schemas.IngestResult:
    now = clock.now()
    report = committed(
        session,
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


@api.post(
    "/changes/{uid}/withdraw",
    dependencies=[WriteAccess],
    responses=_errors(*_WRITE, 404),
    summary="Mark a change withdrawn: it leaves the feed, channels are told once.",
)
def withdraw(uid: str, session: SessionDep, settings: SettingsDep) -> schemas.Change:
    now = clock.now()
    if committed(session, lambda: ingest.withdraw(session, uid=uid, now=now)) is None:
        raise HTTPException(404, f"no change has uid {uid!r}")
    tz = settings.service.tz
    return _change(change_views(session, today=clock.today(tz), tz=tz, uid=uid)[0])


@api.post(
    "/notices",
    status_code=201,
    dependencies=[WriteAccess],
    responses=_errors(*_BODY),
    summary="Submit an announcement text: its changes are read and stored.",
)
def post_notice(
    body: schemas.NoticeIn, session: SessionDep, settings: SettingsDep
) -> schemas.IngestResult:
    notice = Notice(title=body.title, text=body.text, published_at=body.published_at, url=body.url)
    tz = settings.service.tz
    report = committed(session, lambda: ingest_notice(session, notice, origin="api", tz=tz))
    return _ingested(report)


@api.get("/watches", summary="The watches: config.toml's and those added here.")
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


@api.post(
    "/watches",
    status_code=201,
    dependencies=[WriteAccess],
    responses=_errors(*_BODY, 409),
    summary="Add a watch; it persists in the store and is used with config.toml's.",
)
def post_watch(body: schemas.WatchIn, session: SessionDep, settings: SettingsDep) -> schemas.Watch:
    from alerts.config import Watch

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
    taken = {watch.name for watch in current_watches(session, settings)}
    now = clock.now()
    if body.name in taken or not committed(
        session,
        lambda: stored_watches.add_watch(session, name=body.name, definition=definition, now=now),
    ):
        raise HTTPException(409, f"a watch named {body.name!r} exists already")
    return schemas.Watch(**body.model_dump(), source="api")


@api.delete(
    "/watches/{name}",
    status_code=204,
    dependencies=[WriteAccess],
    responses=_errors(*_WRITE, 404, 409),
    summary="Remove a watch added through the API.",
)
def delete_watch(name: str, session: SessionDep, settings: SettingsDep) -> None:
    if any(watch.name == name for watch in settings.watches):
        raise HTTPException(409, f"watch {name!r} is defined in config.toml; remove it there")
    if not committed(session, lambda: stored_watches.remove_watch(session, name=name)):
        raise HTTPException(404, f"no watch named {name!r}")


@api.get("/reminders", summary="The reminder outbox, by due time.")
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


@api.get("/deliveries/failed", summary="Reminders that failed for good, with every attempt.")
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
