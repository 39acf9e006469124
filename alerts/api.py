"""The HTTP face: a FastAPI app over the store.

Built by :func:`create_app` from settings and an engine, never at import time, so tests and
the server each make their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import Engine, text
from sqlmodel import Session

from alerts import clock, feed, page
from alerts.errors import RulewatchError, StoreError
from alerts.metrics import CONTENT_TYPE, Metrics
from alerts.views import change_views
from store.db import session_scope

DISPATCH_JOB = "dispatch"  # alerts.scheduler's job id; not imported, to keep the app light
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

if TYPE_CHECKING:
    from alerts.config import Settings


def create_app(settings: Settings, engine: Engine, *, lifespan: Lifespan | None = None) -> FastAPI:
    """The rulewatch HTTP app on ``engine``; the schema must already be upgraded.

    ``lifespan`` runs around the app's life (``serve`` starts the reminder scheduler in it).
    """
    app = FastAPI(
        title="rulewatch",
        summary="Platform rule changes: 公示 and 生效 dates, reminders and a calendar feed.",
        version="0.1.0",
        lifespan=lifespan,
    )
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

    app.get("/healthz", summary="Is the service up and its store reachable?")(_healthz)
    app.get("/api/changes", summary="The timeline of rule changes, by effective date.")(
        _list_changes
    )
    app.get("/metrics", summary="Prometheus metrics.", response_class=PlainTextResponse)(_metrics)
    app.include_router(feed.router)
    app.include_router(page.router)
    return app


def _session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(_session)]


def _metrics(request: Request) -> PlainTextResponse:
    metrics: Metrics = request.app.state.metrics
    return PlainTextResponse(metrics.render(), media_type=CONTENT_TYPE)


def _healthz(request: Request, session: SessionDep) -> dict[str, Any]:
    session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    scheduler = request.app.state.scheduler
    job = scheduler.get_job(DISPATCH_JOB) if scheduler is not None else None
    return {
        "status": "ok",
        "store": "ok",
        "scheduler": "running" if scheduler is not None and scheduler.running else "stopped",
        "next_dispatch": job.next_run_time.isoformat() if job and job.next_run_time else None,
    }


def _list_changes(
    request: Request,
    session: SessionDep,
    upcoming: Annotated[bool, Query(description="Only changes effective today or later.")] = False,
    rule: Annotated[str | None, Query(description="Part of the rule's name or key.")] = None,
    platform: Annotated[str | None, Query(description="Platform, e.g. 1688.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, object]]:
    settings: Settings = request.app.state.settings
    views = change_views(
        session,
        today=clock.today(settings.service.tz),
        tz=settings.service.tz,
        upcoming=upcoming,
        rule=rule,
        platform=platform,
        limit=limit,
        offset=offset,
    )
    return [view.as_json() for view in views]
