"""The outbox on its own, on SQLite and PostgreSQL: two claimers never share a reminder, a
lease that runs out hands the reminder on, and only the holder of a lease settles it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from alerts.timeline.ingest import add_change
from store import outbox
from store.db import session_scope
from store.models import Delivery, Reminder, ReminderStatus, RuleChange

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class Draft:
    """A reminder to insert, shaped as ``outbox.NewReminder`` asks: no planner involved."""

    uid: str
    dedupe_key: str
    change_id: int
    channel: str
    due_at: datetime
    kind: str = "lead"
    revision: int = 0
    lead_days: int | None = 7
    context: dict[str, object] = field(default_factory=dict)


@pytest.fixture
def due(engine: Engine) -> list[int]:
    """Five reminders due at NOW on channel "hook", their ids in due order."""
    with session_scope(engine) as session:
        add_change(
            session,
            rule="1688商家发货行为管理规范",
            platform="1688",
            announced_on=date(2026, 12, 1),
            effective_on=date(2026, 12, 20),
            tz=ZoneInfo("Asia/Shanghai"),
            now=NOW,
        )
        outbox.sync_channels(session, [("hook", "webhook")], now=NOW)
        change_id = session.exec(select(RuleChange.id)).one() or 0
        drafts = [
            Draft(f"u{n}", f"k{n}", change_id, "hook", NOW - timedelta(minutes=5 - n))
            for n in range(5)
        ]
        assert outbox.add_reminders(session, drafts, now=NOW) == 5
        # The same drafts again (another planner raced this one) add nothing.
        assert outbox.add_reminders(session, drafts, now=NOW) == 0
    with session_scope(engine) as session:
        return [r.id or 0 for r in session.exec(select(Reminder).order_by(col(Reminder.due_at)))]


def claim(engine: Engine, worker: str, *, at: datetime = NOW, limit: int = 3) -> list[int]:
    with session_scope(engine) as session:
        return [
            row.id
            for row in outbox.claim_due(session, now=at, limit=limit, worker=worker, lease=LEASE)
        ]


def attempt(reminder_id: int, number: int, status: str) -> outbox.Attempt:
    return outbox.Attempt(
        reminder_id=reminder_id,
        channel="hook",
        message_id=f"uid-{reminder_id}",
        attempt=number,
        started_at=NOW,
        duration_ms=12,
        outcome="delivered" if status == ReminderStatus.SENT else "retry",
        status_code=200 if status == ReminderStatus.SENT else 503,
        reply=None,
        error=None,
        status=status,
        reason=None,
    )


def reminders(engine: Engine) -> dict[int, Reminder]:
    with session_scope(engine) as session:
        return {r.id or 0: r for r in session.exec(select(Reminder))}


def test_two_claimers_take_different_reminders_oldest_first(engine: Engine, due: list[int]):
    first, second = claim(engine, "a"), claim(engine, "b")
    assert first == due[:3] and second == due[3:]
    assert claim(engine, "c") == []
    held = reminders(engine)
    assert {held[i].leased_by for i in first} == {"a"}
    assert all(held[i].status == ReminderStatus.SENDING and held[i].attempts == 1 for i in due)


def test_a_lease_that_runs_out_hands_the_reminder_on(engine: Engine, due: list[int]):
    taken = claim(engine, "a", limit=5)
    assert claim(engine, "b", at=NOW + LEASE - timedelta(seconds=1), limit=5) == []
    # Sender a died: once its lease is over, b takes the same reminders, counting a 2nd try.
    assert claim(engine, "b", at=NOW + LEASE, limit=5) == taken
    assert {(r.leased_by, r.attempts) for r in reminders(engine).values()} == {("b", 2)}


def test_only_the_holder_of_the_lease_settles_but_every_attempt_is_kept(
    engine: Engine, due: list[int]
):
    (late,) = claim(engine, "a", limit=1)
    assert claim(engine, "b", at=NOW + LEASE, limit=1) == [late]
    with engine.begin() as connection:  # a's answer came after its lease: too late to settle
        outbox.record_attempts(
            connection, [attempt(late, 1, ReminderStatus.SENT)], now=NOW + LEASE, worker="a"
        )
    assert reminders(engine)[late].status == ReminderStatus.SENDING
    with engine.begin() as connection:
        outbox.record_attempts(
            connection, [attempt(late, 2, ReminderStatus.SENT)], now=NOW + LEASE, worker="b"
        )
    settled = reminders(engine)[late]
    assert (settled.status, settled.leased_by, settled.lease_until) == (
        ReminderStatus.SENT,
        None,
        None,
    )
    with session_scope(engine) as session:
        kept = [
            d.attempt for d in session.exec(select(Delivery).where(Delivery.reminder_id == late))
        ]
    assert sorted(kept) == [1, 2]


def test_a_stopped_sender_hands_back_what_it_did_not_try(engine: Engine, due: list[int]):
    taken = claim(engine, "a", limit=5)
    with session_scope(engine) as session:
        assert outbox.release(session, taken[2:], worker="b", now=NOW) == 0  # not b's
        assert outbox.release(session, taken[2:], worker="a", now=NOW) == 3
    assert claim(engine, "b", limit=5) == taken[2:]


def test_a_channels_sends_count_each_request_once(engine: Engine, due: list[int]):
    first, second, third = claim(engine, "a", limit=3)
    retried = attempt(first, 1, ReminderStatus.PENDING)
    attempts = [
        # One reminder tried twice: two requests the vendor counted.
        retried._replace(message_id="m1", started_at=NOW - timedelta(seconds=40)),
        retried._replace(message_id="m1", attempt=2, started_at=NOW - timedelta(seconds=10)),
        # A digest of two reminders: one request.
        attempt(second, 1, ReminderStatus.SENT)._replace(message_id="d1", started_at=NOW),
        attempt(third, 1, ReminderStatus.SENT)._replace(message_id="d1", started_at=NOW),
    ]
    with engine.begin() as connection:
        outbox.record_attempts(connection, attempts, now=NOW, worker="a")
    with session_scope(engine) as session:
        counted = outbox.sent_within(session, {"hook": [30, 60]}, now=NOW + timedelta(seconds=1))
    # The first reminder is pending again (not in flight); nothing else was claimed.
    assert counted == {"hook": {30: 2, 60: 3}}
