"""The reminder engine's clockwork: one tick plans the outbox and sends what is due.

``serve`` runs the tick from an APScheduler AsyncIOScheduler. Its only job lives in the
scheduler's memory: the reminders themselves are rows in our outbox, so there is nothing for
a persistent job store to keep (and APScheduler's job stores cannot be shared between
processes anyway). `rulewatch run-due` calls the same tick once, for cron.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from ssl import SSLContext
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from alerts import clock
from alerts.config import Settings
from alerts.reminders.dispatcher import DEFAULT_CONCURRENCY, Dispatcher, DispatchReport, RetryPolicy
from alerts.reminders.plan import PlanReport, plan_reminders, workdays_of
from alerts.reminders.unhandled import unhandled_soon
from alerts.watches import current_watches
from notifiers import build_notifier
from notifiers.base import Notifier
from notifiers.pacing import Pacing
from store.db import PLANNING_LOCK, session_scope, try_lock

if TYPE_CHECKING:
    import httpx
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

TICK_EVERY = timedelta(seconds=15)
DISPATCH_JOB = "dispatch"


@dataclass(frozen=True)
class TickReport:
    plan: PlanReport
    dispatch: DispatchReport

    def summary(self) -> str:
        """One line for a person: what was planned and what became of what was due."""
        d = self.dispatch
        return (
            f"planned {self.plan.created}, cancelled {self.plan.cancelled}; sent {d.sent}, "
            f"retrying {d.retrying}, dead {d.dead}, coalesced {d.coalesced}, missed {d.missed}"
            + (f"; stopped early, {d.released} handed back to the outbox" if d.released else "")
        )


def notifiers_for(
    settings: Settings, *, http: httpx.AsyncClient, tls_context: SSLContext | None = None
) -> dict[str, Notifier]:
    """One ready notifier per configured channel, by name."""
    return {
        channel.name: build_notifier(
            channel, http=http, smtp=settings.smtp, tls_context=tls_context, now=clock.now
        )
        for channel in settings.channels
    }


class ReminderEngine:
    """Planning and dispatch for one process, sharing one HTTP client between channels."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        http: httpx.AsyncClient,
        tls_context: SSLContext | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.dispatcher = Dispatcher(
            engine,
            notifiers_for(settings, http=http, tls_context=tls_context),
            tz=settings.service.tz,
            base_url=settings.service.base_url,
            policy=RetryPolicy(max_attempts=settings.reminders.max_attempts),
            worker=f"{socket.gethostname()}:{os.getpid()}",
            concurrency=concurrency,
            lease=timedelta(seconds=settings.reminders.lease_seconds),
            grace=timedelta(seconds=settings.reminders.stop_grace_seconds),
            paces={c.name: c for c in settings.channels if isinstance(c, Pacing)},
            is_workday=workdays_of(settings).is_workday,
            opens_at=settings.reminders.at,
            unhandled=lambda session, channel, today: unhandled_soon(
                session,
                current_watches(session, settings),
                channel=channel,
                today=today,
                base_url=settings.service.base_url,
            ),
        )
        # Set to stop: no tick starts after it, and the running one drains (see Dispatcher).
        self.stopping = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def plan(self, now: datetime) -> PlanReport:
        with session_scope(self.engine) as session:
            # Once per tick across instances: the others skip while one plans (what it adds
            # they would only find there already).
            if not try_lock(session, PLANNING_LOCK):
                return PlanReport(created=0, cancelled=0)
            return plan_reminders(session, self.settings, now=now)

    async def tick(self, now: datetime | None = None) -> TickReport:
        """Plan, then send everything due at ``now`` (default: the clock's now)."""
        now = now or clock.now()
        if self.stopping.is_set():
            return TickReport(plan=PlanReport(created=0, cancelled=0), dispatch=DispatchReport())
        self._idle.clear()
        try:
            planned = await asyncio.to_thread(self.plan, now)
            dispatched = await self.dispatcher.run_once(now=now, stop=self.stopping)
            report = TickReport(plan=planned, dispatch=dispatched)
            busy = any(
                (
                    planned.created,
                    planned.cancelled,
                    dispatched.messages,
                    dispatched.coalesced,
                    dispatched.missed,
                )
            )
            # An idle tick, every 15 s for ever, is not worth a line.
            log.log(logging.INFO if busy else logging.DEBUG, "tick: %s", report.summary())
            return report
        finally:
            self._idle.set()

    async def stop(self) -> None:
        """Stop ticking and wait for the running tick to drain (bounded by the grace and
        the channels' timeouts)."""
        self.stopping.set()
        await self._idle.wait()


def start_scheduler(engine: ReminderEngine, *, every: timedelta = TICK_EVERY) -> AsyncIOScheduler:
    """Run ``engine.tick`` every ``every`` on the running event loop; returns the scheduler."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    scheduler = AsyncIOScheduler(timezone=engine.settings.service.tz)
    scheduler.add_job(
        engine.tick,
        "interval",
        seconds=every.total_seconds(),
        id=DISPATCH_JOB,
        next_run_time=clock.now(),
        # After a pause (suspend, a long tick) run once, late, rather than dropping the run
        # (the default grace of 1 s would) or running every missed one.
        coalesce=True,
        misfire_grace_time=None,
        max_instances=1,
    )
    scheduler.start()
    return scheduler
