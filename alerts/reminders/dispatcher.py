"""Claim due reminders, render them, send them through their channel, record every attempt.

A claimed reminder carries a lease: if the process dies mid-send, the lease runs out and the
reminder is claimed again and sent with the same event id (receivers drop the repeat). A
failed attempt is retried with capped exponential backoff and jitter (a Retry-After from
the receiver is honoured) until ``max_attempts``, then the reminder is dead; other channels
go on regardless.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from typing import Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session

from alerts import clock
from alerts.reminders import pacing
from alerts.reminders.messages import ReminderFacts, Source, Unhandled, render, render_digest
from notifiers.base import Message, Notifier, Outcome, Verdict
from notifiers.pacing import Pacing
from store import outbox, queries
from store.db import PACING_LOCK, hold_lock, session_scope
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
    released: int = 0  # claimed, then handed back untried because the run was stopped
    # Each attempt: its channel, the message's subject, and the reminder's status and
    # reason after it (not the whole message: a run of thousands would hold every payload).
    messages: list[tuple[str, str, str, str | None]] = field(default_factory=list)


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
            missed.append((row.id, f"未及发送，变更已于 {row.effective_on} 生效"))
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
        coalesced.append((older.id, f"已由 {newer.due_at.isoformat()} 到期的后一条提醒代替"))
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


# Chosen with bench/dispatch.py (bench/README.md) on httpx's own pool, which slowed down past
# 8 in flight as it scanned its connections for every request. Over aiohttp's pool
# (notifiers.http.sending_client) 50 in flight go faster still, but each sender may cost a
# repeat after a crash (docs/reliability.md), so the default stays 8.
DEFAULT_CONCURRENCY = 8
# Reminders claimed per store step at most: 500 measured 3–5% faster than 200 (fewer
# statements per reminder, fewer batch tails) and no faster at 1,000.
DEFAULT_BATCH = 500
# The first claim of a run, per sender, before the receivers' pace is known: enough to keep
# the senders busy, few enough that a slow receiver cannot hold many past their lease.
_FIRST_CLAIM_PER_SENDER = 4


class _Job(NamedTuple):
    """One message to send, and the claimed reminders it carries (several for a digest)."""

    reminders: tuple[outbox.Outgoing, ...]
    message: Message

    @property
    def channel(self) -> str:
        return self.reminders[0].channel


class _Result(NamedTuple):
    job: _Job
    outcome: Outcome
    seconds: float
    started: datetime


class _Clock:
    """The instant of a run: the tick's ``now`` moved on by the real time since it began
    (a run may last minutes, and `run-due --now` acts at an instant of its own)."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._began = time.monotonic()

    def __call__(self) -> datetime:
        return self._now + timedelta(seconds=time.monotonic() - self._began)


# How long a finished attempt may wait for the attempts still in flight to join its write.
_GATHER = 0.01


class _Recorder:
    """Writes finished attempts to the store as they finish.

    A sender waits for its attempt to be recorded before it takes the next reminder, so at
    any moment at most one attempt per sender has gone out unrecorded: that is all a crash
    can cost. One write takes the attempts of every sender that is waiting: it starts when
    all the senders still at work wait, or ``_GATHER`` after the first began to, so a fast
    receiver's attempts go a claim's worth of senders at a time and a slow one holds
    nobody up for long.
    """

    def __init__(self, write: Callable[[list[outbox.Attempt]], None]) -> None:
        self._write = write
        self._waiting: list[tuple[list[outbox.Attempt], asyncio.Future[None]]] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.senders = 0  # at work now: the most that can be waiting

    async def record(self, attempts: list[outbox.Attempt]) -> None:
        """Write ``attempts`` (one message's: several for a digest) and return once they
        are in the store."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((attempts, future))
        self._arrived.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        await future

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._arrived.wait()
            deadline = loop.time() + _GATHER
            while len(self._waiting) < self.senders and loop.time() < deadline:
                self._arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), deadline - loop.time())
            self._arrived.clear()
            group, self._waiting = self._waiting, []
            if not group:
                continue
            try:
                await asyncio.to_thread(self._write, [a for attempts, _ in group for a in attempts])
            except Exception as exc:
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, future in group:
                    if not future.done():
                        future.set_result(None)


class Dispatcher:
    """Sends what the outbox holds, for one process; several may share a PostgreSQL outbox.

    Claim by claim: a store step (in a worker thread, so the event loop stays free for the
    HTTP API) claims what the senders can send well within the lease; ``concurrency``
    senders work through it, each taking the next reminder when free, and each attempt is
    recorded as it finishes. While a claim is being sent its lease is renewed (a heartbeat
    every third of the lease), so only a sender that died lets it run out; a sender that
    lost a lease all the same records its attempt but leaves the reminder to its new owner.
    On ``stop`` no more is claimed or started, attempts in flight get ``grace`` to finish,
    and what was claimed and not tried goes back to the outbox.
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
        grace: timedelta = timedelta(seconds=10),
        rng: random.Random | None = None,
        paces: Mapping[str, Pacing] | None = None,
        is_workday: Callable[[date], bool] = lambda day: day.weekday() < 5,
        opens_at: dt_time = dt_time(9),
        unhandled: Callable[[Session, str, date], Sequence[Unhandled]] | None = None,
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
        self._grace = grace
        self._rng = rng or random.Random()
        # Each channel's rate limit, digest and quiet hours (its config; notifiers/pacing.py).
        self._paces = dict(paces or {})
        self._is_workday = is_workday
        self._opens_at = opens_at
        # What a digest lists as not handled yet: (session, channel, today) → changes.
        self._unhandled = unhandled
        self._digests = {name for name, pace in self._paces.items() if pace.digest is not None}
        self._limits = {name: p.rate_limits() for name, p in self._paces.items() if p.rate_limits()}
        # A notifier that sends only the subject and payload says so with
        # ``uses_message_bodies = False``; its messages are rendered without text and HTML.
        self._bodies = {
            name: bool(getattr(notifier, "uses_message_bodies", True))
            for name, notifier in notifiers.items()
        }

    async def run_once(self, *, now: datetime, stop: asyncio.Event | None = None) -> DispatchReport:
        """Send everything due at ``now``, claim by claim, and return what happened.

        The run ends when a claim finds nothing (so a retry asked for with no wait is sent
        again in the same run) or when ``stop`` is set.
        """
        stop = stop or asyncio.Event()
        report = DispatchReport()
        report.coalesced, report.missed = await asyncio.to_thread(self._triage, now)
        run_clock = _Clock(now)
        recorder = _Recorder(lambda attempts: self._record(attempts, run_clock()))
        limit = min(self._batch, self._concurrency * _FIRST_CLAIM_PER_SENDER)
        try:
            while not stop.is_set():
                rows, sources, open_ = await asyncio.to_thread(self._claim, now, run_clock(), limit)
                if not rows:
                    break
                began = time.monotonic()
                await self._send_claim(
                    self._render(rows, sources, now, open_), now, run_clock, recorder, stop, report
                )
                limit = self._next_limit(len(rows), time.monotonic() - began)
        finally:
            await recorder.close()
        return report

    def _next_limit(self, sent: int, seconds: float) -> int:
        """How many to claim next: what the senders sent in a third of the lease at the
        pace of the last claim, within [concurrency, batch]."""
        per_second = sent / max(seconds, 1e-3)
        fits = int(per_second * self._lease.total_seconds() / 3)
        return max(self._concurrency, min(self._batch, fits))

    async def _send_claim(
        self,
        jobs: Sequence[_Job],
        now: datetime,
        run_clock: Callable[[], datetime],
        recorder: _Recorder,
        stop: asyncio.Event,
        report: DispatchReport,
    ) -> None:
        """Send one claim with ``concurrency`` senders, recording each attempt as it ends."""
        queue = iter(jobs)
        unsettled = {row.id for job in jobs for row in job.reminders}  # claimed, not recorded

        async def sender() -> None:
            recorder.senders += 1
            try:
                for job in queue:
                    if stop.is_set():
                        return
                    result = await self._send(job)
                    await recorder.record(self._settle_job(result, now, report))
                    unsettled.difference_update(row.id for row in job.reminders)
            finally:
                recorder.senders -= 1

        heartbeat = asyncio.create_task(self._heartbeat(unsettled, run_clock))
        senders = asyncio.gather(*(sender() for _ in range(min(self._concurrency, len(jobs)))))
        try:
            await _until_stopped(senders, stop, self._grace.total_seconds())
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            if unsettled:
                # Stopped: what was never tried (or cut short by the grace) goes back.
                report.released += await asyncio.to_thread(
                    self._release, sorted(unsettled), run_clock()
                )

    async def _heartbeat(self, unsettled: set[int], run_clock: Callable[[], datetime]) -> None:
        every = self._lease.total_seconds() / 3
        while True:
            await asyncio.sleep(every)
            if unsettled:
                await asyncio.to_thread(self._renew, sorted(unsettled), run_clock() + self._lease)

    def _triage(self, now: datetime) -> tuple[int, int]:
        with session_scope(self._engine) as session:
            rows = outbox.due_for_triage(session, now=now)
            coalesced, missed = triage(rows, today=now.astimezone(self._tz).date())
            return (
                outbox.mark(session, coalesced, status=outbox.COALESCED, now=now),
                outbox.mark(session, missed, status=outbox.MISSED, now=now),
            )

    def _claim(
        self, now: datetime, at: datetime, limit: int
    ) -> tuple[
        list[outbox.Outgoing], dict[int, list[queries.SourceRow]], dict[str, Sequence[Unhandled]]
    ]:
        """Claim up to ``limit`` of what is due at ``now``, leased from ``at``, as far as
        each channel's pace lets it go at ``at``; with the sources of the claimed changes
        and, for each digest channel claimed, what its digest lists as not handled yet."""
        until = pacing.gates(
            self._paces, at, tz=self._tz, is_workday=self._is_workday, opens_at=self._opens_at
        )
        limits = self._limits
        with session_scope(self._engine) as session:
            room: dict[str, int] = {}
            if limits:
                hold_lock(session, PACING_LOCK)
                windows = {name: [limit.seconds for limit in ls] for name, ls in limits.items()}
                # Deliveries are stamped with the clock's now, whatever instant a
                # `run-due --now` acts at.
                sent = outbox.sent_within(session, windows, now=clock.now(), digests=self._digests)
                room = {name: pacing.room(ls, sent[name]) or 0 for name, ls in limits.items()}
            rows = outbox.claim_due(
                session,
                now=now,
                limit=limit,
                worker=self._worker,
                lease=self._lease + (at - now),
                until=until,
                room=room,
                digests=self._digests,
                digest_limit=self._batch,
            )
            sources = queries.sources_of_changes(
                session, change_ids=sorted({row.change_id for row in rows})
            )
            today = now.astimezone(self._tz).date()
            unhandled = {
                channel: self._unhandled(session, channel, today)
                for channel in {row.channel for row in rows} & self._digests
                if self._unhandled is not None
            }
        return rows, sources, unhandled

    def _record(self, attempts: Sequence[outbox.Attempt], at: datetime) -> None:
        with session_scope(self._engine) as session:
            outbox.record_attempts(session.connection(), attempts, now=at, worker=self._worker)

    def _renew(self, reminder_ids: Sequence[int], until: datetime) -> None:
        with session_scope(self._engine) as session:
            outbox.renew_leases(session, reminder_ids, worker=self._worker, until=until)

    def _release(self, reminder_ids: Sequence[int], at: datetime) -> int:
        with session_scope(self._engine) as session:
            released = outbox.release(session, reminder_ids, worker=self._worker, now=at)
        log.info("stopping: %d claimed reminder(s) handed back to the outbox", released)
        return released

    def _render(
        self,
        rows: Sequence[outbox.Outgoing],
        sources: Mapping[int, Sequence[queries.SourceRow]],
        now: datetime,
        unhandled: Mapping[str, Sequence[Unhandled]],
    ) -> list[_Job]:
        """The messages of a claim: one per reminder, but one for all of a digest
        channel's reminders claimed together."""
        today = now.astimezone(self._tz).date()
        jobs: list[_Job] = []
        gathered: dict[str, list[outbox.Outgoing]] = {}
        for row in rows:
            if row.channel in self._digests:
                gathered.setdefault(row.channel, []).append(row)
            else:
                jobs.append(_Job((row,), self._message([row], sources, today)))
        for channel, together in gathered.items():
            message = self._message(together, sources, today, unhandled.get(channel, ()))
            jobs.append(_Job(tuple(together), message))
        return jobs

    def _message(
        self,
        rows: Sequence[outbox.Outgoing],
        sources: Mapping[int, Sequence[queries.SourceRow]],
        today: date,
        unhandled: Sequence[Unhandled] = (),
    ) -> Message:
        facts = [
            outgoing_facts(row, sources[row.change_id], self._base_url, self._tz) for row in rows
        ]
        bodies = self._bodies.get(rows[0].channel, True)
        if len(facts) == 1:
            return render(facts[0], today=today, bodies=bodies)
        return render_digest(
            facts, today=today, link=f"{self._base_url}/", bodies=bodies, unhandled=unhandled
        )

    async def _send(self, job: _Job) -> _Result:
        notifier = self._notifiers.get(job.channel)
        started = clock.now()
        if notifier is None:
            outcome = Outcome(Verdict.failed, f"配置中没有渠道 {job.channel}")
            return _Result(job, outcome, 0.0, started)
        began = time.perf_counter()
        try:
            outcome = await notifier.send(job.message)
        except Exception as exc:  # a notifier bug must not stop the other channels
            log.exception("notifier for channel %s raised", job.channel)
            outcome = Outcome(Verdict.retry, f"发送程序出现意外错误 {type(exc).__name__}")
        return _Result(job, outcome, time.perf_counter() - began, started)

    def _settle_job(
        self, result: _Result, now: datetime, report: DispatchReport
    ) -> list[outbox.Attempt]:
        """What to record of a finished attempt, one row per reminder it carried; counts
        them in ``report``. A digest's reminders are retried together, after one wait."""
        outcome, job = result.outcome, result.job
        first = job.reminders[0]
        wait = None
        if outcome.verdict is Verdict.retry:
            wait = self._policy.delay(first.attempts, outcome.retry_after, self._rng)
        attempts = []
        for reminder in job.reminders:
            status, reason, next_attempt_at = self._settle(reminder, outcome, wait, now, report)
            attempts.append(
                outbox.Attempt(
                    reminder_id=reminder.id,
                    channel=reminder.channel,
                    message_id=job.message.id,
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
        report.messages.append(
            (job.channel, job.message.subject, attempts[0].status, attempts[0].reason)
        )
        return attempts

    def _settle(
        self,
        reminder: outbox.Outgoing,
        outcome: Outcome,
        wait: timedelta | None,
        now: datetime,
        report: DispatchReport,
    ) -> tuple[str, str | None, datetime | None]:
        """The reminder's new status, the reason and, to try again (after ``wait``), when."""
        where = f"渠道 {reminder.channel}，第 {reminder.attempts} 次尝试"
        if outcome.verdict is Verdict.delivered:
            report.sent += 1
            return outbox.SENT, None, None
        if (
            outcome.verdict is Verdict.retry
            and wait is not None
            and reminder.attempts < self._policy.max_attempts
        ):
            report.retrying += 1
            reason = f"{outcome.reason}（{where}；{wait.total_seconds():.0f} 秒后重试）"
            return outbox.PENDING, reason, now + wait
        why = "已达最多尝试次数" if outcome.verdict is Verdict.retry else "无法送达"
        report.dead += 1
        log.warning("reminder %s is dead: %s (%s)", reminder.uid, outcome.reason, where)
        return outbox.DEAD, f"{why}，不再重试：{outcome.reason}（{where}）", None


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


async def _until_stopped(work: asyncio.Future[Any], stop: asyncio.Event, grace: float) -> None:
    """Wait for ``work``; once ``stop`` is set, for ``grace`` seconds more at most, then
    cancel it."""
    stopping: asyncio.Future[Any] = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            done, _ = await asyncio.wait({work}, timeout=grace)
            if not done:
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
                return
        work.result()
    finally:
        stopping.cancel()
