"""Reads and writes of the reminder outbox: channels, reminders, deliveries.

Claiming uses row locks with SKIP LOCKED on PostgreSQL, so several service instances can
share one outbox; SQLite serializes writers, which gives the same guarantee there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from alerts.planner import ReminderDraft
from store.models import Channel, Delivery, Reminder, Rule, RuleChange

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"
CANCELLED, COALESCED, MISSED = "cancelled", "coalesced", "missed"
STATUSES = (PENDING, SENDING, SENT, DEAD, CANCELLED, COALESCED, MISSED)


def sync_channels(
    session: Session, configured: Sequence[tuple[str, str]], *, now: datetime
) -> list[Channel]:
    """Record the configured channels (name, kind); mark the others inactive and cancel their
    pending reminders. Returns every channel row."""
    rows = {row.name: row for row in session.exec(select(Channel)).all()}
    names = {name for name, _ in configured}
    for name, kind in configured:
        row = rows.get(name)
        if row is None:
            row = Channel(name=name, kind=kind, active=True, created_at=now, updated_at=now)
            rows[name] = row
        elif row.active and row.kind == kind:
            continue
        else:
            # A channel that comes back (or changes kind) starts afresh: no backlog.
            row.active, row.kind, row.created_at, row.updated_at = True, kind, now, now
        session.add(row)
    for row in rows.values():
        if row.name not in names and row.active:
            row.active, row.updated_at = False, now
            session.add(row)
            cancel_pending(
                session,
                where_channel=row.name,
                reason=f"channel {row.name} was removed from the config",
                now=now,
            )
    session.flush()
    return list(rows.values())


def planning_rows(session: Session, *, effective_from: datetime) -> list[tuple[RuleChange, Rule]]:
    """Changes that may still need reminders: those taking effect on or after the date."""
    statement = (
        select(RuleChange, Rule)
        .join(Rule, col(Rule.id) == col(RuleChange.rule_id))
        .where(col(RuleChange.effective_on) >= effective_from.date())
        .order_by(col(RuleChange.id))
    )
    return [(change, rule) for change, rule in session.exec(statement).all()]


def reminders_of_changes(session: Session, *, change_ids: Sequence[int]) -> list[Reminder]:
    if not change_ids:
        return []
    statement = select(Reminder).where(col(Reminder.change_id).in_(change_ids))
    return list(session.exec(statement).all())


def add_reminders(session: Session, drafts: Iterable[ReminderDraft], *, now: datetime) -> int:
    """Insert reminders, skipping any whose dedupe key exists (another planner may have won)."""
    values = [
        {
            "uid": d.uid,
            "dedupe_key": d.dedupe_key,
            "change_id": d.change_id,
            "channel": d.channel,
            "kind": d.kind,
            "lead_days": d.lead_days,
            "revision": d.revision,
            "due_at": d.due_at,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": d.due_at,
            "context": json.dumps(d.context, ensure_ascii=False, sort_keys=True),
            "created_at": now,
            "updated_at": now,
        }
        for d in drafts
    ]
    if not values:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(Reminder)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(col(Reminder.id))
    )
    # Core execution: RETURNING counts only the rows this planner actually inserted.
    return len(session.connection().execute(statement, values).all())


def cancel_reminders(session: Session, cancels: Iterable[tuple[int, str]], *, now: datetime) -> int:
    count = 0
    for reminder_id, reason in cancels:
        count += _set_status(session, reminder_id, CANCELLED, reason, now, only_from=(PENDING,))
    return count


def cancel_pending(session: Session, *, where_channel: str, reason: str, now: datetime) -> int:
    statement = (
        update(Reminder)
        .where(col(Reminder.channel) == where_channel, col(Reminder.status) == PENDING)
        .values(status=CANCELLED, reason=reason, updated_at=now)
    )
    return cast(CursorResult[Any], session.execute(statement)).rowcount


def due_reminders(
    session: Session, *, now: datetime, limit: int | None
) -> list[tuple[Reminder, RuleChange, Rule]]:
    """Pending reminders whose time has come, and claimed ones whose lease ran out."""
    statement = (
        select(Reminder, RuleChange, Rule)
        .join(RuleChange, col(RuleChange.id) == col(Reminder.change_id))
        .join(Rule, col(Rule.id) == col(RuleChange.rule_id))
        .where(_claimable(now))
        .order_by(col(Reminder.next_attempt_at), col(Reminder.id))
        .limit(limit)
        .with_for_update(skip_locked=True, of=Reminder)
    )
    return [(r, c, rule) for r, c, rule in session.exec(statement).all()]


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(col(Reminder.status) == PENDING, col(Reminder.next_attempt_at) <= now),
        and_(col(Reminder.status) == SENDING, col(Reminder.lease_until) <= now),
    )


def claim(
    session: Session, reminder: Reminder, *, worker: str, now: datetime, lease: timedelta
) -> None:
    """Take ``reminder`` for sending until the lease runs out; the attempt is counted now, so
    a crash mid-send still counts against the retry limit."""
    reminder.status = SENDING
    reminder.leased_by = worker
    reminder.lease_until = now + lease
    reminder.attempts += 1
    reminder.updated_at = now
    session.add(reminder)


def settle(
    session: Session,
    reminder: Reminder,
    *,
    status: str,
    reason: str | None,
    now: datetime,
    next_attempt_at: datetime | None = None,
) -> None:
    """Record how a reminder ended (or when to try it again, with status pending)."""
    reminder.status = status
    reminder.reason = reason
    reminder.lease_until = None
    reminder.leased_by = None
    reminder.updated_at = now
    if next_attempt_at is not None:
        reminder.next_attempt_at = next_attempt_at
    if status == SENT:
        reminder.sent_at = now
    session.add(reminder)


def add_delivery(
    session: Session,
    *,
    reminder_id: int,
    attempt: int,
    started_at: datetime,
    duration_ms: int,
    outcome: str,
    status_code: int | None,
    reply: str | None,
    error: str | None,
) -> None:
    session.add(
        Delivery(
            reminder_id=reminder_id,
            attempt=attempt,
            started_at=started_at,
            duration_ms=duration_ms,
            outcome=outcome,
            status_code=status_code,
            reply=reply[:500] if reply else None,
            error=error,
        )
    )


def get_reminder(session: Session, reminder_id: int) -> Reminder | None:
    return session.get(Reminder, reminder_id)


def list_reminders(
    session: Session,
    *,
    statuses: Sequence[str] = (),
    change_id: int | None = None,
    limit: int | None = None,
) -> list[tuple[Reminder, RuleChange, Rule]]:
    statement = (
        select(Reminder, RuleChange, Rule)
        .join(RuleChange, col(RuleChange.id) == col(Reminder.change_id))
        .join(Rule, col(Rule.id) == col(RuleChange.rule_id))
        .order_by(col(Reminder.due_at), col(Reminder.id))
    )
    if statuses:
        statement = statement.where(col(Reminder.status).in_(statuses))
    if change_id is not None:
        statement = statement.where(col(Reminder.change_id) == change_id)
    if limit is not None:
        statement = statement.limit(limit)
    return [(r, c, rule) for r, c, rule in session.exec(statement).all()]


def deliveries_of(session: Session, *, reminder_ids: Sequence[int]) -> dict[int, list[Delivery]]:
    found: dict[int, list[Delivery]] = {i: [] for i in reminder_ids}
    if not reminder_ids:
        return found
    statement = (
        select(Delivery)
        .where(col(Delivery.reminder_id).in_(reminder_ids))
        .order_by(col(Delivery.reminder_id), col(Delivery.attempt), col(Delivery.id))
    )
    for delivery in session.exec(statement).all():
        found[delivery.reminder_id].append(delivery)
    return found


def count_by_status(session: Session) -> dict[str, int]:
    statement = select(Reminder.status, func.count(col(Reminder.id))).group_by(Reminder.status)
    return {status: int(n) for status, n in session.exec(statement).all()}


def count_deliveries_by_outcome(session: Session) -> dict[str, int]:
    statement = select(Delivery.outcome, func.count(col(Delivery.id))).group_by(Delivery.outcome)
    return {outcome: int(n) for outcome, n in session.exec(statement).all()}


def _set_status(
    session: Session,
    reminder_id: int,
    status: str,
    reason: str,
    now: datetime,
    *,
    only_from: Sequence[str],
) -> int:
    statement = (
        update(Reminder)
        .where(col(Reminder.id) == reminder_id, col(Reminder.status).in_(only_from))
        .values(status=status, reason=reason, updated_at=now)
    )
    return cast(CursorResult[Any], session.execute(statement)).rowcount


def mark(
    session: Session, reminder_ids: Iterable[tuple[int, str]], *, status: str, now: datetime
) -> int:
    """Settle pending reminders without sending them (coalesced, missed)."""
    return sum(
        _set_status(session, rid, status, reason, now, only_from=(PENDING, SENDING))
        for rid, reason in reminder_ids
    )
