"""Claim due reminders, render them, send them through their channel, record every attempt.

A claimed reminder carries a lease: if the process dies mid-send, the lease runs out and the
reminder is claimed again and sent with the same event id (receivers drop the repeat). A
failed attempt is retried with capped exponential backoff and jitter (a Retry-After from
the receiver is honoured) until ``max_attempts``, then the reminder is dead; other channels
go on regardless.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session

from alerts import clock
from alerts.messages import ReminderFacts, Source, render
from notifiers.base import Message, Notifier, Outcome, Verdict
from store import outbox, queries
from store.db import session_scope
from store.models import Notice, Reminder, Rule, RuleChange

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to try: attempt n waits about base·2ⁿ⁻¹, at most ``cap``."""

    max_attempts: int = 8
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=6)

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> timedelta:
        if retry_after is not None:
            return min(timedelta(seconds=max(retry_after, 0)), self.cap)
        ceiling = min(self.base * (1 << max(attempt - 1, 0)), self.cap)
        # "Equal jitter": at least half the step, so retries spread out but never bunch at 0.
        return ceiling * (0.5 + rng.random() / 2)


@dataclass
class DispatchReport:
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    coalesced: int = 0
    missed: int = 0
    messages: list[tuple[str, Message, Outcome]] = field(default_factory=list)


@dataclass(frozen=True)
class _Due:
    id: int
    change_id: int
    channel: str
    kind: str
    due_at: datetime
    effective_on: date | None


def triage(
    due: Iterable[_Due], *, today: date
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """Which due reminders are not to be sent: (coalesced, missed), each with its reason.

    A reminder whose change has already taken effect is missed. Of several lead reminders of
    one change that are due at once for one channel (after downtime), only the latest goes
    out; an ``announced`` or ``changed`` reminder is never coalesced away.
    """
    coalesced: list[tuple[int, str]] = []
    missed: list[tuple[int, str]] = []
    latest: dict[tuple[int, str], _Due] = {}
    for row in due:
        if row.effective_on is not None and row.effective_on < today:
            missed.append(
                (row.id, f"the change took effect on {row.effective_on} before it was sent")
            )
            continue
        if row.kind != "lead":
            continue
        key = (row.change_id, row.channel)
        kept = latest.get(key)
        if kept is None:
            latest[key] = row
            continue
        older, newer = (kept, row) if kept.due_at <= row.due_at else (row, kept)
        latest[key] = newer
        coalesced.append(
            (older.id, f"superseded by the later reminder due {newer.due_at.isoformat()}")
        )
    return coalesced, missed


def triage_rows(
    rows: Iterable[tuple[Reminder, RuleChange, Rule]], *, today: date
) -> list[tuple[int, str]]:
    """The due reminders :func:`triage` would not send, with the reason, for a dry run."""
    coalesced, missed = triage(_due(rows), today=today)
    return coalesced + missed


def _due(rows: Iterable[tuple[Reminder, RuleChange, Rule]]) -> list[_Due]:
    return [
        _Due(r.id or 0, r.change_id, r.channel, r.kind, r.due_at, c.effective_on)
        for r, c, _ in rows
        if r.status == outbox.PENDING
    ]


class Dispatcher:
    """Sends what the outbox holds, for one process; several may share a PostgreSQL outbox."""

    def __init__(
        self,
        engine: Engine,
        notifiers: Mapping[str, Notifier],
        *,
        tz: ZoneInfo,
        base_url: str,
        policy: RetryPolicy,
        worker: str,
        concurrency: int = 8,
        batch: int = 200,
        lease: timedelta = timedelta(minutes=5),
        rng: random.Random | None = None,
    ) -> None:
        self._engine = engine
        self._notifiers = notifiers
        self._tz = tz
        self._base_url = base_url
        self._policy = policy
        self._worker = worker
        self._concurrency = concurrency
        self._batch = batch
        self._lease = lease
        self._rng = rng or random.Random()

    async def run_once(self, *, now: datetime) -> DispatchReport:
        """Send everything due at ``now``, batch by batch, and return what happened."""
        report = DispatchReport()
        coalesced, missed = await asyncio.to_thread(self._triage, now)
        report.coalesced, report.missed = coalesced, missed
        limit = asyncio.Semaphore(self._concurrency)
        while True:
            claimed = await asyncio.to_thread(self._claim, now)
            if not claimed:
                return report
            results = await asyncio.gather(*(self._send(r, m, limit) for r, m in claimed))
            await asyncio.to_thread(self._record, results, now, report)

    def _triage(self, now: datetime) -> tuple[int, int]:
        with session_scope(self._engine) as session:
            rows = outbox.due_reminders(session, now=now, limit=None)
            coalesced, missed = triage(_due(rows), today=now.astimezone(self._tz).date())
            return (
                outbox.mark(session, coalesced, status=outbox.COALESCED, now=now),
                outbox.mark(session, missed, status=outbox.MISSED, now=now),
            )

    def _claim(self, now: datetime) -> list[tuple[Reminder, Message]]:
        with session_scope(self._engine) as session:
            rows = outbox.due_reminders(session, now=now, limit=self._batch)
            for reminder, _, _ in rows:
                outbox.claim(session, reminder, worker=self._worker, now=now, lease=self._lease)
            return [(reminder, message) for reminder, message in self._render(session, rows, now)]

    def _render(
        self, session: Session, rows: Sequence[tuple[Reminder, RuleChange, Rule]], now: datetime
    ) -> Iterable[tuple[Reminder, Message]]:
        sources = queries.notices_of_changes(
            session, change_ids=sorted({change.id or 0 for _, change, _ in rows})
        )
        today = now.astimezone(self._tz).date()
        for reminder, change, rule in rows:
            facts = reminder_facts(
                reminder, change, rule, sources.get(change.id or 0, []), self._base_url, self._tz
            )
            yield reminder, render(facts, today=today)

    async def _send(
        self, reminder: Reminder, message: Message, limit: asyncio.Semaphore
    ) -> tuple[Reminder, Message, Outcome, float, datetime]:
        notifier = self._notifiers.get(reminder.channel)
        started = clock.now()
        if notifier is None:
            outcome = Outcome(Verdict.failed, f"channel {reminder.channel} is not configured")
            return reminder, message, outcome, 0.0, started
        async with limit:
            began = time.perf_counter()
            try:
                outcome = await notifier.send(message)
            except Exception as exc:  # a notifier bug must not stop the other channels
                log.exception("notifier for channel %s raised", reminder.channel)
                outcome = Outcome(Verdict.retry, f"unexpected {type(exc).__name__} in the notifier")
            return reminder, message, outcome, time.perf_counter() - began, started

    def _record(
        self,
        results: Sequence[tuple[Reminder, Message, Outcome, float, datetime]],
        now: datetime,
        report: DispatchReport,
    ) -> None:
        with session_scope(self._engine) as session:
            for reminder, message, outcome, seconds, started in results:
                outbox.add_delivery(
                    session,
                    reminder_id=reminder.id or 0,
                    attempt=reminder.attempts,
                    started_at=started,
                    duration_ms=round(seconds * 1000),
                    outcome=outcome.verdict.value,
                    status_code=outcome.status_code,
                    reply=outcome.reply,
                    error=None if outcome.verdict is Verdict.delivered else outcome.reason,
                )
                self._settle(session, reminder, outcome, now, report)
                report.messages.append((reminder.channel, message, outcome))

    def _settle(
        self,
        session: Session,
        reminder: Reminder,
        outcome: Outcome,
        now: datetime,
        report: DispatchReport,
    ) -> None:
        where = f"channel {reminder.channel}, attempt {reminder.attempts}"
        if outcome.verdict is Verdict.delivered:
            outbox.settle(session, reminder, status=outbox.SENT, reason=None, now=now)
            report.sent += 1
        elif outcome.verdict is Verdict.retry and reminder.attempts < self._policy.max_attempts:
            wait = self._policy.delay(reminder.attempts, outcome.retry_after, self._rng)
            outbox.settle(
                session,
                reminder,
                status=outbox.PENDING,
                reason=f"{outcome.reason} ({where}; next try in {wait.total_seconds():.0f}s)",
                now=now,
                next_attempt_at=now + wait,
            )
            report.retrying += 1
        else:
            why = "gave up" if outcome.verdict is Verdict.retry else "permanent failure"
            outbox.settle(
                session,
                reminder,
                status=outbox.DEAD,
                reason=f"{why}: {outcome.reason} ({where})",
                now=now,
            )
            report.dead += 1
            log.warning("reminder %s is dead: %s (%s)", reminder.uid, outcome.reason, where)


def reminder_facts(
    reminder: Reminder,
    change: RuleChange,
    rule: Rule,
    notices: Sequence[Notice],
    base_url: str,
    tz: ZoneInfo,
) -> ReminderFacts:
    """What the message about ``reminder`` says, from its stored rows."""
    return ReminderFacts(
        reminder_uid=reminder.uid,
        kind=reminder.kind,
        lead_days=reminder.lead_days,
        context=json.loads(reminder.context or "{}"),
        due_at=reminder.due_at.astimezone(tz),
        change_uid=change.uid,
        rule_name=rule.name,
        rule_key=rule.key,
        platform=rule.platform,
        change_kind=change.kind,
        title=change.title,
        summary=change.summary,
        announced_on=change.announced_on,
        effective_on=change.effective_on,
        effective_at=change.effective_at,
        tentative=change.tentative,
        status=change.status,
        revision=change.revision,
        postponed_from=change.postponed_from,
        sources=tuple(
            Source(n.title, n.url, n.published_at.astimezone(tz) if n.published_at else None)
            for n in notices
        ),
        link=f"{base_url}/changes/{change.uid}",
    )
