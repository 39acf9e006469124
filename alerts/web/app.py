"""The FastAPI app: :func:`create_app` puts the JSON API, the feed, the pages, /healthz,
/metrics and the API docs together over one engine and one set of settings.

Built from settings and an engine, never at import time, so tests and the server each make
their own. Domain errors become HTTP statuses here and nowhere else.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Route
from swagger_ui_bundle import swagger_ui_path

from alerts import clock
from alerts.calendar.feed import Feeds
from alerts.errors import Refused, RulewatchError
from alerts.reminders.plan import workdays_of
from alerts.reminders.workdays import coverage_warnings
from alerts.sources.catalog import source_views
from alerts.web import api, change_page, exports, feed, forms, pages, schemas, signin
from alerts.web.metrics import CONTENT_TYPE, Metrics
from alerts.web.middleware import BodyLimit, NoNulInUrl
from alerts.web.signin import COOKIE, SESSION_HOURS, Attempts
from store.db import session_scope
from store.errors import StoreError

if TYPE_CHECKING:
    from alerts.config import Settings

DISPATCH_JOB = "dispatch"  # alerts.reminders.engine's job id; not imported, to keep the app light
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(settings: Settings, engine: Engine, *, lifespan: Lifespan | None = None) -> FastAPI:
    """The rulewatch HTTP app on ``engine``; the schema must already be upgraded.

    ``lifespan`` runs around the app's life (``serve`` starts the reminder scheduler in it).
    """
    app = FastAPI(
        title="rulewatch",
        summary="Platform rule changes: 公示 and 生效 dates, reminders and a calendar feed.",
        description=(
            "Reads are open. Writes need `Authorization: Bearer <token>` with a token of "
            "config.toml: a `[[users]]` entry's (its role says what it may write) or the "
            "`[api] token`, an admin's; without a configured token the API takes no writes."
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
    app.state.feeds = Feeds(engine, settings)
    app.state.metrics = Metrics(engine)

    @app.exception_handler(StoreError)
    async def _store_error(_request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(RulewatchError)
    async def _domain_error(request: Request, exc: RulewatchError) -> Response:
        status = exc.status if isinstance(exc, Refused) else 400
        if _from_a_browser(request):
            return _error_page(settings, status, str(exc))
        if status == 422:
            # In the shape of every other 422: what was wrong, and where.
            where = ["body", exc.field] if isinstance(exc, Refused) and exc.field else ["body"]
            error = {"type": "value_error", "loc": where, "msg": str(exc)}
            return JSONResponse({"detail": [error]}, status_code=422)
        return JSONResponse({"detail": str(exc)}, status_code=status)

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
        if _from_a_browser(request) and exc.status_code != 405:
            return _error_page(settings, exc.status_code, str(exc.detail))
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
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if _from_a_browser(request):
            return _error_page(settings, 422, "；".join(map(_said, exc.errors())))
        return JSONResponse({"detail": [_shown(error) for error in exc.errors()]}, status_code=422)

    # The feed's routes first: they take nearly every request (calendar apps poll), and
    # each route before them is one more match tried.
    app.include_router(feed.router)
    app.get("/healthz", summary="Is the service up, its store reachable, its scheduler running?")(
        _healthz
    )
    app.get("/metrics", summary="Prometheus metrics.", response_class=PlainTextResponse)(_metrics)
    routers = (
        api.router,
        pages.router,
        change_page.router,
        signin.router,
        forms.router,
        exports.router,
    )
    for router in routers:
        app.include_router(router)
    app.state.signin_attempts = Attempts()
    secret = settings.service.session_secret
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret.get_secret_value() if secret else secrets.token_urlsafe(32),
        session_cookie=COOKIE,
        max_age=SESSION_HOURS * 3600,
        same_site="lax",
        https_only=settings.service.base_url.startswith("https://"),
    )
    app.add_middleware(BodyLimit, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(NoNulInUrl)
    # Outermost: a calendar app's poll of a cached feed is answered before all of the above.
    app.add_middleware(
        feed.CachedFeeds, feeds=app.state.feeds, settings=settings, metrics=app.state.metrics
    )
    return app


_HEADINGS = {
    401: "需要登录",
    403: "不能这样做",
    404: "找不到",
    409: "做不了",
    422: "请求有误",
    429: "请稍后再试",
}
_NAMES = {"q": "搜索", "platform": "平台", "rule": "规则", "tag": "标签"}


def _from_a_browser(request: Request) -> bool:
    """A page or a form's request from a browser (not the API, not a feed reader): it is
    answered with a page a person reads, not JSON."""
    path = request.url.path
    return not path.startswith(("/api/", "/calendar", "/export")) and "text/html" in (
        request.headers.get("accept", "")
    )


def _error_page(settings: Settings, status: int, detail: str) -> HTMLResponse:
    from alerts.web.pages import render

    heading = _HEADINGS.get(status, "出错了")
    return render("error.html.j2", settings, status=status, heading=heading, detail=detail)


def _docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="rulewatch API",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon-32x32.png",
    )


def _said(error: Any) -> str:
    """A validation error of a page's request in a person's words (too long a search)."""
    where = error.get("loc", ())
    name = str(where[-1]) if where else ""
    name = f"{_NAMES[name]}（{name}）" if name in _NAMES else name
    if error.get("type") == "string_too_long":
        given = error.get("input")
        length = f"，这次是 {len(given)} 个" if isinstance(given, str) else ""
        return f"{name}最多 {error['ctx']['max_length']} 个字符{length}"
    return f"{name}：{error.get('msg', '')}"


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
    with session_scope(engine) as session:
        sources = source_views(settings, session)
    # A failing source does not make the service unhealthy (it still reminds of what it
    # knows), but whoever watches /healthz should hear of it.
    warnings += [
        f"source {s.name} failed {s.failures} poll(s) in a row: {s.last_error}"
        for s in sources
        if s.state == "failing"
    ]
    return schemas.Health(
        status="ok",
        store="ok",
        scheduler=running,
        next_dispatch=job.next_run_time if job else None,
        warnings=warnings,
        sources={s.name: s.state for s in sources},
    )
