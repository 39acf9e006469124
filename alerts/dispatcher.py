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
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from alerts import clock
from alerts.messages import ReminderFacts, Source, render
from notifiers.base import Message, Notifier, Outcome, Verdict
from store import outbox
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


def triage(
    due: Iterable[outbox.DueRow], *, today: date
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """Which due reminders are not to be sent: (coalesced, missed), each with its reason.

    A reminder whose change has already taken effect is missed. Of several lead reminders of
    one change that are due at once for one channel (after downtime), only the latest goes
    out; an ``announced`` or ``changed`` reminder is never coalesced away. Only pending
    reminders are judged: one whose lease ran out was already judged when it was claimed.
    """
    coalesced: list[tuple[int, str]] = []
    missed: list[tuple[int, str]] = []
    latest: dict[tuple[int, str], outbox.DueRow] = {}
    for row in due:
        if row.status != outbox.PENDING:
            continue
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
    due = (
        outbox.DueRow(r.id or 0, r.change_id, r.channel, r.kind, r.status, r.due_at, c.effective_on)
        for r, c, _ in rows
    )
    coalesced, missed = triage(due, today=today)
    return coalesced + missed


# Chosen with bench/dispatch.py (bench/README.md): on loopback the service peaks at 4 to 8
# reminders in flight (about 1,350/s, as does the bare httpx loop), and falls by 40% at 16
# as httpx's pool scans its connections for every request. 8 rather than 4 because a real
# receiver's latency is hidden better with more in flight.
DEFAULT_CONCURRENCY = 8
# Reminders claimed per store step: 500 measured 3–5% faster than 200 (fewer statements
# and commits per reminder, fewer batch tails) and no faster at 1,000.
DEFAULT_BATCH = 500


class _Result(NamedTuple):
    reminder: outbox.Outgoing
    message: Message
    outcome: Outcome
    seconds: float
    started: datetime


class Dispatcher:
    """Sends what the outbox holds, for one process; several may share a PostgreSQL outbox.

    Batch by batch: one store step, in a worker thread so the event loop stays free for
    the HTTP API, records the attempts of the batch just sent and claims the next ``batch``
    reminders, in a few statements whatever the batch size; the batch is rendered, then
    ``concurrency`` senders work through it, each taking the next reminder when free.

    The store step deliberately does not overlap the sending. Measured with
    bench/dispatch.py, a store thread running while the senders run costs more in GIL
    hand-offs (sqlite3 and psycopg release the GIL around every call) than the overlap
    saves: 10–20% fewer reminders per second than taking turns.
    """

    def __init__(
        self,
        engine: Engine,
        notifiers: Mapping[str, Notifier],
        *,
        tz: ZoneInfo,
        base_url: str,
        policy: RetryPolicy,
        worker: str,
        concurrency: int = DEFAULT_CONCURRENCY,
        batch: int = DEFAULT_BATCH,
        lease: timedelta = timedelta(minutes=5),
        rng: random.Random | None = None,
    ) -> None:
        if concurrency < 1 or batch < 1:
            raise ValueError("concurrency and batch must be at least 1")
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
        # A notifier that sends only the subject and payload says so with
        # ``uses_message_bodies = False``; its messages are rendered without text and HTML.
        self._bodies = {
            name: bool(getattr(notifier, "uses_message_bodies", True))
            for name, notifier in notifiers.items()
        }

    async def run_once(self, *, now: datetime) -> DispatchReport:
        """Send everything due at ``now``, batch by batch, and return what happened.

        Each store step (in a worker thread) records the attempts of the batch just sent and
        claims the next one, so the store is asked twice per batch, not per reminder; the
        run ends when a step claims nothing (so a retry asked for with no wait is sent
        again in the same run, as before).
        """
        report = DispatchReport()
        report.coalesced, report.missed = await asyncio.to_thread(self._triage, now)
        attempts: list[outbox.Attempt] = []
        while True:
            rows, sources = await asyncio.to_thread(self._store_step, attempts, now)
            if not rows:
                return report
            results = await self._send_all(self._render(rows, sources, now))
            attempts = self._settle_all(results, now, report)

    async def _send_all(self, jobs: Sequence[tuple[outbox.Outgoing, Message]]) -> list[_Result]:
        """Send ``jobs`` with ``concurrency`` senders, each taking the next job when free."""
        results: list[_Result] = []
        queue = iter(jobs)

        async def sender() -> None:
            for reminder, message in queue:
                results.append(await self._send(reminder, message))

        await asyncio.gather(*(sender() for _ in range(min(self._concurrency, len(jobs)))))
        return results

    def _triage(self, now: datetime) -> tuple[int, int]:
        with session_scope(self._engine) as session:
            rows = outbox.due_for_triage(session, now=now)
            coalesced, missed = triage(rows, today=now.astimezone(self._tz).date())
            return (
                outbox.mark(session, coalesced, status=outbox.COALESCED, now=now),
                outbox.mark(session, missed, status=outbox.MISSED, now=now),
            )

    def _store_step(
        self, attempts: Sequence[outbox.Attempt], now: datetime
    ) -> tuple[list[outbox.Outgoing], dict[int, list[outbox.SourceRow]]]:
        """Record ``attempts``, then claim the next batch (in two transactions, so a failure
        to claim never loses what was recorded)."""
        with session_scope(self._engine) as session:
            if attempts:
                outbox.record_attempts(session, attempts, now=now)
                session.commit()
            rows = outbox.claim_due(
                session, now=now, limit=self._batch, worker=self._worker, lease=self._lease
            )
            sources = outbox.sources_of_changes(
                session, change_ids=sorted({row.change_id for row in rows})
            )
        return rows, sources

    def _render(
        self,
        rows: Sequence[outbox.Outgoing],
        sources: Mapping[int, Sequence[outbox.SourceRow]],
        now: datetime,
    ) -> list[tuple[outbox.Outgoing, Message]]:
        today = now.astimezone(self._tz).date()
        return [
            (
                row,
                render(
                    outgoing_facts(row, sources[row.change_id], self._base_url, self._tz),
                    today=today,
                    bodies=self._bodies.get(row.channel, True),
                ),
            )
            for row in rows
        ]

    async def _send(self, reminder: outbox.Outgoing, message: Message) -> _Result:
        notifier = self._notifiers.get(reminder.channel)
        started = clock.now()
        if notifier is None:
            outcome = Outcome(Verdict.failed, f"channel {reminder.channel} is not configured")
            return _Result(reminder, message, outcome, 0.0, started)
        began = time.perf_counter()
        try:
            outcome = await notifier.send(message)
        except Exception as exc:  # a notifier bug must not stop the other channels
            log.exception("notifier for channel %s raised", reminder.channel)
            outcome = Outcome(Verdict.retry, f"unexpected {type(exc).__name__} in the notifier")
        return _Result(reminder, message, outcome, time.perf_counter() - began, started)

    def _settle_all(
        self, results: Sequence[_Result], now: datetime, report: DispatchReport
    ) -> list[outbox.Attempt]:
        """What to record of each finished attempt; counts it in ``report``."""
        attempts = []
        for result in results:
            reminder, outcome = result.reminder, result.outcome
            status, reason, next_attempt_at = self._settle(reminder, outcome, now, report)
            attempts.append(
                outbox.Attempt(
                    reminder_id=reminder.id,
                    attempt=reminder.attempts,
                    started_at=result.started,
                    duration_ms=round(result.seconds * 1000),
                    outcome=outcome.verdict.value,
                    status_code=outcome.status_code,
                    reply=outcome.reply,
                    error=None if outcome.verdict is Verdict.delivered else outcome.reason,
                    status=status,
                    reason=reason,
                    next_attempt_at=next_attempt_at,
                )
            )
            report.messages.append((reminder.channel, result.message, outcome))
        return attempts

    def _settle(
        self, reminder: outbox.Outgoing, outcome: Outcome, now: datetime, report: DispatchReport
    ) -> tuple[str, str | None, datetime | None]:
        """The reminder's new status, the reason and, to try again, when."""
        where = f"channel {reminder.channel}, attempt {reminder.attempts}"
        if outcome.verdict is Verdict.delivered:
            report.sent += 1
            return outbox.SENT, None, None
        if outcome.verdict is Verdict.retry and reminder.attempts < self._policy.max_attempts:
            wait = self._policy.delay(reminder.attempts, outcome.retry_after, self._rng)
            report.retrying += 1
            reason = f"{outcome.reason} ({where}; next try in {wait.total_seconds():.0f}s)"
            return outbox.PENDING, reason, now + wait
        why = "gave up" if outcome.verdict is Verdict.retry else "permanent failure"
        report.dead += 1
        log.warning("reminder %s is dead: %s (%s)", reminder.uid, outcome.reason, where)
        return outbox.DEAD, f"{why}: {outcome.reason} ({where})", None


class _SourceFields(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def published_at(self) -> datetime | None: ...


def reminder_facts(
    reminder: Reminder,
    change: RuleChange,
    rule: Rule,
    notices: Sequence[Notice],
    base_url: str,
    tz: ZoneInfo,
) -> ReminderFacts:
    """What the message about ``reminder`` says, from its stored rows."""
    return outgoing_facts(outbox.Outgoing.of(reminder, change, rule), notices, base_url, tz)


def outgoing_facts(
    reminder: outbox.Outgoing, sources: Iterable[_SourceFields], base_url: str, tz: ZoneInfo
) -> ReminderFacts:
    """What the message about a claimed reminder says."""
    return ReminderFacts(
        reminder_uid=reminder.uid,
        kind=reminder.kind,
        lead_days=reminder.lead_days,
        context=json.loads(reminder.context or "{}"),
        due_at=reminder.due_at.astimezone(tz),
        change_uid=reminder.change_uid,
        rule_name=reminder.rule_name,
        rule_key=reminder.rule_key,
        platform=reminder.platform,
        change_kind=reminder.change_kind,
        title=reminder.title,
        summary=reminder.summary,
        announced_on=reminder.announced_on,
        effective_on=reminder.effective_on,
        effective_at=reminder.effective_at,
        tentative=reminder.tentative,
        status=reminder.change_status,
        revision=reminder.revision,
        postponed_from=reminder.postponed_from,
        sources=tuple(
            Source(s.title, s.url, s.published_at.astimezone(tz) if s.published_at else None)
            for s in sources
        ),
        link=f"{base_url}/changes/{reminder.change_uid}",
    )
