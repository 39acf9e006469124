"""Reads and writes of the reminder outbox: channels, reminders, deliveries.

Claiming uses row locks with SKIP LOCKED on PostgreSQL, so several service instances can
share one outbox; SQLite serializes writers, which gives the same guarantee there.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any, NamedTuple, Protocol, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    and_,
    bindparam,
    func,
    insert,
    or_,
    update,
)
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from store.db import dialect_insert
from store.models import (
    Channel,
    Delivery,
    Reminder,
    ReminderStatus,
    Rule,
    RuleChange,
)

PENDING, SENDING, SENT, DEAD = (
    ReminderStatus.PENDING,
    ReminderStatus.SENDING,
    ReminderStatus.SENT,
    ReminderStatus.DEAD,
)
CANCELLED, COALESCED, MISSED = (
    ReminderStatus.CANCELLED,
    ReminderStatus.COALESCED,
    ReminderStatus.MISSED,
)
STATUSES = tuple(ReminderStatus)


class NewReminder(Protocol):
    """What the outbox needs of a reminder to insert; the planner's drafts are such."""

    @property
    def uid(self) -> str: ...
    @property
    def dedupe_key(self) -> str: ...
    @property
    def change_id(self) -> int: ...
    @property
    def channel(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def due_at(self) -> datetime: ...
    @property
    def revision(self) -> int: ...
    @property
    def lead_days(self) -> int | None: ...
    @property
    def context(self) -> dict[str, object]: ...


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
    """Changes that may still need reminders: those taking effect on or after the date, and
    those with reminders pending (a date cleared by a correction leaves leads to cancel)."""
    pending = select(Reminder.change_id).where(Reminder.status == PENDING)
    statement = (
        select(RuleChange, Rule)
        .join(Rule, col(Rule.id) == col(RuleChange.rule_id))
        .where(
            or_(
                col(RuleChange.effective_on) >= effective_from.date(),
                col(RuleChange.id).in_(pending),
            )
        )
        .order_by(col(RuleChange.id))
    )
    return [(change, rule) for change, rule in session.exec(statement).all()]


def reminders_of_changes(session: Session, *, change_ids: Sequence[int]) -> list[Reminder]:
    if not change_ids:
        return []
    statement = select(Reminder).where(col(Reminder.change_id).in_(change_ids))
    return list(session.exec(statement).all())


def add_reminders(session: Session, drafts: Iterable[NewReminder], *, now: datetime) -> int:
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
    statement = (
        dialect_insert(session, Reminder)
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


def revive_reminders(session: Session, reminder_ids: Sequence[int], *, now: datetime) -> int:
    """Make cancelled reminders pending again, due when they were due (a lead cancelled
    because its change was handled, after the mark was undone)."""
    if not reminder_ids:
        return 0
    statement = (
        update(Reminder)
        .where(col(Reminder.id).in_(reminder_ids), col(Reminder.status) == CANCELLED)
        .values(
            status=PENDING,
            attempts=0,
            next_attempt_at=Reminder.due_at,
            reason=None,
            updated_at=now,
        )
    )
    return cast(CursorResult[Any], session.execute(statement)).rowcount


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


class DueRow(NamedTuple):
    """What triage needs to know of a due reminder."""

    id: int
    change_id: int
    channel: str
    kind: str
    status: str
    due_at: datetime
    effective_on: date | None


def due_for_triage(session: Session, *, now: datetime) -> list[DueRow]:
    """Every claimable reminder, as plain values (no ORM objects: there may be thousands),
    locked like :func:`due_reminders` locks them."""
    statement = (
        core_select(
            col(Reminder.id),
            col(Reminder.change_id),
            col(Reminder.channel),
            col(Reminder.kind),
            col(Reminder.status),
            col(Reminder.due_at),
            col(RuleChange.effective_on),
        )
        .join(RuleChange, col(RuleChange.id) == col(Reminder.change_id))
        .where(_claimable(now))
        .order_by(col(Reminder.next_attempt_at), col(Reminder.id))
        .with_for_update(skip_locked=True, of=Reminder)
    )
    return [DueRow(*cast(tuple[Any, ...], row)) for row in session.connection().execute(statement)]


class Outgoing(NamedTuple):
    """A claimed reminder with everything its message says: the reminder's own fields, its
    change's and its rule's. ``attempts`` already counts the attempt being made."""

    id: int
    uid: str
    channel: str
    kind: str
    lead_days: int | None
    context: str
    due_at: datetime
    attempts: int
    change_id: int
    change_uid: str
    change_kind: str
    title: str
    summary: str
    announced_on: date | None
    effective_on: date | None
    effective_at: time | None
    tentative: bool
    change_status: str
    revision: int
    postponed_from: date | None
    rule_name: str
    rule_key: str
    platform: str | None

    @classmethod
    def of(cls, reminder: Reminder, change: RuleChange, rule: Rule) -> Outgoing:
        """The same values from ORM rows (a dry run reads those)."""
        return cls(
            reminder.id or 0,
            reminder.uid,
            reminder.channel,
            reminder.kind,
            reminder.lead_days,
            reminder.context,
            reminder.due_at,
            reminder.attempts,
            change.id or 0,
            change.uid,
            change.kind,
            change.title,
            change.summary,
            change.announced_on,
            change.effective_on,
            change.effective_at,
            change.tentative,
            change.status,
            change.revision,
            change.postponed_from,
            rule.name,
            rule.key,
            rule.platform,
        )


# In the order of Outgoing's fields.
_OUTGOING_COLUMNS = (
    col(Reminder.id),
    col(Reminder.uid),
    col(Reminder.channel),
    col(Reminder.kind),
    col(Reminder.lead_days),
    col(Reminder.context),
    col(Reminder.due_at),
    col(Reminder.attempts),
    col(RuleChange.id),
    col(RuleChange.uid),
    col(RuleChange.kind),
    col(RuleChange.title),
    col(RuleChange.summary),
    col(RuleChange.announced_on),
    col(RuleChange.effective_on),
    col(RuleChange.effective_at),
    col(RuleChange.tentative),
    col(RuleChange.status),
    col(RuleChange.revision),
    col(RuleChange.postponed_from),
    col(Rule.name),
    col(Rule.key),
    col(Rule.platform),
)


def claim_due(
    session: Session,
    *,
    now: datetime,
    limit: int,
    worker: str,
    lease: timedelta,
    until: Mapping[str, datetime | None] | None = None,
    room: Mapping[str, int] | None = None,
    digests: Collection[str] = (),
    digest_limit: int = 500,
) -> list[Outgoing]:
    """Take up to ``limit`` claimable reminders for sending until the lease runs out, and
    return them with what their messages need: first those whose lease ran out (a sender
    died), then pending ones in the order they fell due.

    A channel's pace narrows what it may take: ``until[channel]`` is the latest ``due_at``
    it may send now (None: nothing, it is quiet), ``room[channel]`` how many messages its
    rate limit lets out: as many reminders, or for a channel in ``digests`` (whose claim
    goes out as one message) everything when there is room for one, up to
    ``digest_limit`` whatever ``limit`` is, so that one window is one message.

    Each kind is picked by walking ``ix_reminder_claim`` in order (with SKIP LOCKED on
    PostgreSQL, so another instance takes other rows), so no claim sorts the whole backlog,
    then claimed by one UPDATE that rechecks it is still claimable, so no reminder is
    claimed twice. The attempt is counted now, so a crash mid-send still counts against the
    retry limit.
    """
    room = room or {}
    held = {c for c, n in room.items() if n <= 0}
    counted = {c: n for c, n in room.items() if n > 0 and c not in digests}
    paced = _paced(until or {})
    gathering = sorted(set(digests) - held)
    gathered = []
    if gathering:
        where = [*paced, col(Reminder.channel).in_(gathering)]
        gathered = _claim_where(session, now, digest_limit, worker, lease, where)
    elsewhere = held | set(counted) | set(digests)
    ids = _claim_where(
        session,
        now,
        limit,
        worker,
        lease,
        [*paced, col(Reminder.channel).not_in(sorted(elsewhere))] if elsewhere else paced,
    )
    for channel, most in sorted(counted.items()):
        if len(ids) >= limit:
            break
        ids += _claim_where(
            session,
            now,
            min(most, limit - len(ids)),
            worker,
            lease,
            [*paced, col(Reminder.channel) == channel],
        )
    ids += gathered
    if not ids:
        return []
    statement = (
        core_select(*_OUTGOING_COLUMNS)
        .join(RuleChange, col(RuleChange.id) == col(Reminder.change_id))
        .join(Rule, col(Rule.id) == col(RuleChange.rule_id))
        .where(col(Reminder.id).in_(bindparam("ids", expanding=True)))
        .order_by(col(Reminder.next_attempt_at), col(Reminder.id))
    )
    rows = session.connection().execute(statement, {"ids": ids})
    return [Outgoing(*cast(tuple[Any, ...], row)) for row in rows]


def _paced(until: Mapping[str, datetime | None]) -> list[ColumnElement[bool]]:
    """What a channel's pace holds back: all of a quiet one, and a digest's reminders
    falling due after the start of its window."""
    closed = sorted(c for c, at in until.items() if at is None)
    held = [col(Reminder.channel).not_in(closed)] if closed else []
    return held + [
        or_(col(Reminder.channel) != channel, col(Reminder.due_at) <= at)
        for channel, at in sorted(until.items())
        if at is not None
    ]


def _claim_where(
    session: Session,
    now: datetime,
    limit: int,
    worker: str,
    lease: timedelta,
    where: Sequence[ColumnElement[bool]],
) -> list[int]:
    """Claim up to ``limit`` claimable reminders that also meet ``where``; their ids."""
    connection = session.connection()
    values = {
        "status": SENDING,
        "leased_by": worker,
        "lease_until": now + lease,
        "attempts": col(Reminder.attempts) + 1,
        "updated_at": now,
    }
    ids: list[int] = []
    for kind in (
        and_(col(Reminder.status) == SENDING, col(Reminder.lease_until) <= now),
        and_(col(Reminder.status) == PENDING, col(Reminder.next_attempt_at) <= now),
    ):
        if len(ids) >= limit:
            break
        claimable = and_(kind, *where)
        pick = (
            select(col(Reminder.id))
            .where(claimable)
            .order_by(col(Reminder.status), col(Reminder.next_attempt_at), col(Reminder.id))
            .limit(limit - len(ids))
            .with_for_update(skip_locked=True)
        )
        chosen = [i for i in connection.execute(pick).scalars() if i is not None]
        if not chosen:
            continue
        # By primary key (PostgreSQL would hash-join an IN (subquery) over the whole
        # table), and only while still claimable: on SQLite the SELECT locks nothing, so a
        # row another process claimed in between is left alone.
        claim = (
            update(Reminder)
            .where(col(Reminder.id).in_(bindparam("chosen", expanding=True)), claimable)
            .values(**values)
            .returning(col(Reminder.id))
        )
        claimed = connection.execute(claim, {"chosen": chosen}).scalars()
        ids.extend(i for i in claimed if i is not None)
    return ids


def sent_within(
    session: Session,
    windows: Mapping[str, Collection[float]],
    *,
    now: datetime,
    digests: Collection[str] = (),
) -> dict[str, dict[float, int]]:
    """For each channel and each window of ``windows[channel]`` (seconds), the messages
    sent to it in the last that many seconds, counting those being sent now.

    Sent: its requests, from the delivery rows (the reminders of one digest attempt share
    its message id and start).
    Being sent: reminders claimed under a live lease, by any instance: each one a message,
    or for a channel in ``digests`` one message per instance sending.
    """
    connection = session.connection()
    counts: dict[str, dict[float, int]] = {}
    for channel, seconds in sorted(windows.items()):
        in_flight_of = (
            func.count(func.distinct(col(Reminder.leased_by)))
            if channel in digests
            else func.count(col(Reminder.id))
        )
        in_flight = connection.execute(
            core_select(in_flight_of).where(
                col(Reminder.channel) == channel,
                col(Reminder.status) == SENDING,
                col(Reminder.lease_until) > now,
            )
        ).scalar_one()
        counts[channel] = {}
        for window in sorted(set(seconds)):
            # One request is one message at one start: a digest's rows share both, while
            # each retry of a message is a request the vendor counts again.
            requests = (
                core_select(col(Delivery.message_id), col(Delivery.started_at))
                .where(
                    col(Delivery.channel) == channel,
                    col(Delivery.started_at) > now - timedelta(seconds=window),
                )
                .distinct()
                .subquery()
            )
            sent = connection.execute(core_select(func.count()).select_from(requests)).scalar_one()
            counts[channel][window] = int(sent) + int(in_flight)
    return counts


class Attempt(NamedTuple):
    """One delivery attempt of a claimed reminder, and where that leaves the reminder."""

    reminder_id: int
    channel: str
    message_id: str  # the id sent: the reminder's uid, or that of the digest carrying it
    attempt: int
    started_at: datetime
    duration_ms: int
    outcome: str  # delivered | retry | failed
    status_code: int | None
    reply: str | None
    error: str | None
    status: str  # the reminder's new status: sent, dead, or pending to be tried again
    reason: str | None
    next_attempt_at: datetime | None = None  # when pending: the next try


def record_attempts(
    connection: Connection, attempts: Sequence[Attempt], *, now: datetime, worker: str
) -> None:
    """Write a delivery row for each attempt and settle its reminder (lease released),
    in two statements whatever the number of attempts.

    A reminder is settled only while ``worker`` still holds its lease: one whose lease ran
    out and that another sender claimed meanwhile is that sender's to settle, though the
    attempt made here is recorded all the same.
    """
    if not attempts:
        return
    insert_delivery, settle = _recording()
    connection.execute(
        insert_delivery,
        [
            {
                "reminder_id": a.reminder_id,
                "channel": a.channel,
                "message_id": a.message_id,
                "attempt": a.attempt,
                "started_at": a.started_at,
                "duration_ms": a.duration_ms,
                "outcome": a.outcome,
                "status_code": a.status_code,
                "reply": a.reply[:500] if a.reply else None,
                "error": a.error,
            }
            for a in attempts
        ],
    )
    connection.execute(
        settle,
        [
            {
                "b_id": a.reminder_id,
                "b_worker": worker,
                "b_status": a.status,
                "b_reason": None if a.status == SENT else a.reason,
                "b_sent_at": now if a.status == SENT else None,
                "b_next": a.next_attempt_at if a.status != SENT else None,
                "b_now": now,
            }
            for a in attempts
        ],
    )


@cache
def _recording() -> tuple[Any, Any]:
    """The two statements of :func:`record_attempts`, built once: building and keying a
    statement costs more than executing it for a few rows."""
    table = Reminder.__table__.c  # type: ignore[attr-defined]
    settle = (
        update(Reminder)
        .where(
            table.id == bindparam("b_id"),
            table.status == SENDING,
            table.leased_by == bindparam("b_worker"),
        )
        .values(
            status=bindparam("b_status"),
            reason=bindparam("b_reason"),
            # Only a sent reminder gets its sent_at, only one to retry a next attempt.
            sent_at=func.coalesce(bindparam("b_sent_at", type_=table.sent_at.type), table.sent_at),
            next_attempt_at=func.coalesce(
                bindparam("b_next", type_=table.next_attempt_at.type), table.next_attempt_at
            ),
            lease_until=None,
            leased_by=None,
            updated_at=bindparam("b_now", type_=table.updated_at.type),
        )
    )
    return insert(Delivery), settle


def renew_leases(
    session: Session, reminder_ids: Sequence[int], *, worker: str, until: datetime
) -> int:
    """Extend to ``until`` the leases ``worker`` still holds among ``reminder_ids`` (a
    heartbeat while they are being sent); returns how many it still holds."""
    return _update_held(session, reminder_ids, worker, lease_until=until)


def release(session: Session, reminder_ids: Sequence[int], *, worker: str, now: datetime) -> int:
    """Hand claimed reminders that were never tried back to the outbox, as they were
    before the claim (the attempt the claim counted is taken back); returns how many."""
    return _update_held(
        session,
        reminder_ids,
        worker,
        status=PENDING,
        lease_until=None,
        leased_by=None,
        attempts=col(Reminder.attempts) - 1,
        updated_at=now,
    )


def _held_by(worker: str) -> ColumnElement[bool]:
    """Claimed by ``worker``, and not taken over since (its lease ran out and another
    sender claimed it)."""
    return and_(col(Reminder.status) == SENDING, col(Reminder.leased_by) == worker)


def _update_held(session: Session, reminder_ids: Sequence[int], worker: str, **values: Any) -> int:
    if not reminder_ids:
        return 0
    statement = (
        update(Reminder)
        .where(col(Reminder.id).in_(bindparam("ids", expanding=True)), _held_by(worker))
        .values(**values)
    )
    result = session.connection().execute(statement, {"ids": list(reminder_ids)})
    return cast(CursorResult[Any], result).rowcount


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


def retry_dead(
    session: Session, *, uid: str | None = None, channel: str | None = None, now: datetime
) -> list[str]:
    """Put the dead reminder ``uid`` (or every dead one of ``channel``) back in the outbox,
    due now with its attempts counted afresh; returns the uids put back. Its deliveries so
    far stay on record."""
    query = select(Reminder.id, Reminder.uid).where(col(Reminder.status) == DEAD)
    if uid is not None:
        query = query.where(Reminder.uid == uid)
    if channel is not None:
        query = query.where(Reminder.channel == channel)
    rows = session.exec(query).all()
    if rows:
        session.execute(
            update(Reminder)
            .where(col(Reminder.id).in_([rid for rid, _ in rows]), col(Reminder.status) == DEAD)
            .values(
                status=PENDING,
                attempts=0,
                next_attempt_at=now,
                lease_until=None,
                leased_by=None,
                reason=None,
                updated_at=now,
            )
        )
    return [ruid for _, ruid in rows]
