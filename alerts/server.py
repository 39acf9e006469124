"""`rulewatch serve`: upgrade the store, then run the HTTP app under uvicorn."""

from __future__ import annotations

import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine

from alerts.api import Lifespan
from alerts.scheduler import ReminderEngine, start_scheduler
from store.db import connect, redact_url, session_scope, upgrade
from store.queries import count_changes

if TYPE_CHECKING:
    from alerts.config import Settings

log = logging.getLogger("rulewatch")


def serve(settings: Settings) -> None:
    """Run the service until interrupted. Raises StoreError if the database is unreachable."""
    import uvicorn

    from alerts.api import create_app

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    engine = connect(settings.service.database)
    upgrade(engine)
    log.info("store %s is up to date", redact_url(settings.service.database))
    with session_scope(engine) as session:
        if count_changes(session) == 0:
            log.info(
                "the store is empty: `rulewatch import --sample` loads a sample timeline of 1688 "
                "rules, `rulewatch import FILE` your own notices"
            )
    host, port = settings.service.listen_host, settings.service.listen_port
    log.info("serving on http://%s:%d", host, port)
    app = create_app(settings, engine, lifespan=_reminders(settings, engine))
    stopped_by: list[int] = []
    # uvicorn stops gracefully on these, then raises the signal again for the handler it
    # found: this one, so that a stop asked for is a clean exit (status 0), not a kill.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, _frame: stopped_by.append(number))
    uvicorn.run(app, host=host, port=port, log_level="info")
    if stopped_by:
        log.info("stopped on %s", signal.Signals(stopped_by[0]).name)


def _reminders(settings: Settings, engine: Engine) -> Lifespan:
    """Run the reminder scheduler for as long as the app runs."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient() as http:
            reminders = ReminderEngine(settings, engine, http=http)
            scheduler = start_scheduler(reminders)
            app.state.scheduler = scheduler
            log.info("reminder scheduler started (%d channel(s))", len(settings.channels))
            try:
                yield
            finally:
                # First the running tick drains: what is in flight finishes and is recorded,
                # what was claimed and not yet tried goes back to the outbox (within
                # [reminders] stop_grace_seconds). Only then the scheduler goes, as its
                # shutdown cancels the jobs it runs.
                await reminders.stop()
                scheduler.shutdown(wait=False)
                app.state.scheduler = None
                log.info("reminder scheduler stopped")

    return lifespan
