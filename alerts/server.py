"""`rulewatch serve`: upgrade the store, then run the HTTP app under uvicorn."""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import os
import re
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine

from alerts.errors import RulewatchError
from alerts.reminders.engine import ReminderEngine, start_scheduler
from alerts.sources.service import Poller, admin_notifier, manners, start_polling
from alerts.sources.web import HttpWeb
from alerts.web.app import Lifespan
from store.db import connect, database_url_shown, session_scope, upgrade
from store.queries import count_changes

if TYPE_CHECKING:
    from alerts.config import Settings

log = logging.getLogger("rulewatch")


def serve(settings: Settings) -> None:
    """Run the service until interrupted. Raises StoreError if the database is unreachable."""
    import uvicorn

    from alerts.web.app import create_app

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs every request's URL at INFO, and a webhook URL may carry its token in the
    # path, the query or the user info: what a send did is logged by the dispatcher instead.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").addFilter(_redact_request_line)
    # Two lines every 15 s for ever ("Running job", "executed successfully") say nothing:
    # a tick that did something says so itself (alerts.reminders.engine), errors still show.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    engine = connect(settings.service.database)
    upgrade(engine)
    log.info("store %s is up to date", database_url_shown(settings.service.database))
    with session_scope(engine) as session:
        if count_changes(session) == 0:
            log.info(
                "the store is empty: `rulewatch import --sample` loads a sample timeline of 1688 "
                "rules, `rulewatch import FILE` your own notices"
            )
    host, port = settings.service.listen_host, settings.service.listen_port
    listening = _listen(host, port)
    log.info("serving on http://%s:%d (event loop %s, HTTP parser %s)", host, port, *_runs_on())
    app = create_app(settings, engine, lifespan=_reminders(settings, engine))
    stopped_by: list[int] = []
    # uvicorn stops gracefully on these, then raises the signal again for the handler it
    # found: this one, so that a stop asked for is a clean exit (status 0), not a kill.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, _frame: stopped_by.append(number))
    with listening:
        uvicorn.run(app, fd=listening.fileno(), log_level="info", loop="auto", http="auto")
    if stopped_by:
        log.info("stopped on %s", signal.Signals(stopped_by[0]).name)


def _runs_on() -> tuple[str, str]:
    """The event loop and HTTP parser uvicorn's "auto" takes, found as it finds them: uvloop
    and httptools where they import (``uvicorn[standard]``), else asyncio's own and h11."""
    return _importable("uvloop", "asyncio"), _importable("httptools", "h11")


def _importable(fast: str, fallback: str) -> str:
    try:
        importlib.import_module(fast)
    except ImportError:
        return fallback
    return fast


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket for ``[service] listen``, bound here so that an address in use
    is one line naming it (uvicorn would log three tracebacks and exit 3)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise RulewatchError(
            f"cannot listen on {host}:{port} ([service] listen): {reason.lower()}"
        ) from exc


def _reminders(settings: Settings, engine: Engine) -> Lifespan:
    """Run the reminder scheduler for as long as the app runs."""

    from notifiers.http import sending_client

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The sources keep httpx's own client: HttpWeb checks the address it connected to
        # (httpcore's network_stream), which the senders' client does not tell.
        async with sending_client() as http, httpx.AsyncClient() as fetching:
            reminders = ReminderEngine(settings, engine, http=http)
            scheduler = start_scheduler(reminders)
            app.state.scheduler = scheduler
            log.info("reminder scheduler started (%d channel(s))", len(settings.channels))
            poller = Poller(
                settings,
                engine,
                web=HttpWeb(fetching, manners(settings)),
                admin=admin_notifier(settings, http),
            )
            start_polling(poller, scheduler)
            settle_heap()
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
                # The feeds built, for the next start to serve before building any.
                try:
                    kept = await asyncio.to_thread(app.state.feeds.keep)
                except Exception:  # the next start builds them: never worth a failed stop
                    log.exception("could not keep the calendar feeds")
                else:
                    log.info("kept %d calendar feed(s) for the next start", kept)

    return lifespan


# The feed's secret address and a token given in a query: what the access log must not keep.
_FEED_TOKEN = re.compile(r"(/calendar/)[^/?#]+(\.ics)")
_QUERY_TOKEN = re.compile(r"([?&]token=)[^&#]*")


def settle_heap() -> None:
    """Take what is alive once the service has started (modules, models, the app: some
    125,000 objects) out of the garbage collector's full passes, which walk everything
    tracked every few tens of thousands of allocations: 30-40 µs a reminder of a dispatch
    run. Nearly all of it lives as long as the service; what of it later becomes a cycle of
    garbage (a pooled connection dropped, say) is never collected, a small bounded cost.
    Called once, by `serve` only: it changes the whole process."""
    gc.collect()  # what start-up left over goes first: a frozen cycle is never collected
    gc.freeze()


def redacted_path(path: str) -> str:
    """A request path as the access log may show it: tokens replaced by ``***``."""
    return _QUERY_TOKEN.sub(r"\1***", _FEED_TOKEN.sub(r"\1***\2", path))


def _redact_request_line(record: logging.LogRecord) -> bool:
    # uvicorn's access record: (client, method, path with query, HTTP version, status).
    if isinstance(record.args, tuple) and len(record.args) >= 3:
        args = list(record.args)
        args[2] = redacted_path(str(args[2]))
        record.args = tuple(args)
    return True
