"""The tables: rules, their changes, the notices each change was read from, and the links.

These are storage shapes only. Domain values live in alerts/ (ChangeCandidate, the timeline's
ChangeState) and API schemas in alerts/web/schemas.py, even where fields overlap.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel

from store.types import AwareDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


class ChangeStatus(StrEnum):
    """Whether a change stands. A withdrawn one (the platform took it back) leaves the feed,
    and channels are told; a merged one (into the change it duplicated) and a deleted one (it
    was never a change: a misreading) leave quietly. Each keeps its page and its history."""

    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    MERGED = "merged"
    DELETED = "deleted"


class ReminderStatus(StrEnum):
    """Where a reminder is in the outbox. ``SENDING`` is claimed under a lease; ``DEAD`` failed
    for good; ``COALESCED`` and ``MISSED`` were not sent after downtime, with the reason."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    CANCELLED = "cancelled"
    COALESCED = "coalesced"
    MISSED = "missed"


class Rule(SQLModel, table=True):
    """A platform rule (规则/规范) known by its canonical key, e.g. 1688商家发货行为管理规范."""

    __tablename__ = "rule"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True, unique=True, max_length=200)
    name: str = Field(max_length=200)  # as first written, without 《》
    platform: str | None = Field(default=None, max_length=40, index=True)
    created_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))


class RuleChange(SQLModel, table=True):
    """One change of a rule: announced (公示) on one date, effective (生效) on a later one.

    ``uid`` never changes once given; a moved effective date raises ``revision`` instead, so
    calendars and receivers see the same event move rather than a new one.
    """

    __tablename__ = "rule_change"

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(index=True, unique=True, max_length=64)
    rule_id: int = Field(foreign_key="rule.id", index=True)
    platform: str | None = Field(default=None, max_length=40)
    kind: str = Field(max_length=20)
    title: str = Field(default="", max_length=500)
    summary: str = Field(default="", sa_type=Text)
    announced_on: date | None = Field(default=None, index=True)
    effective_on: date | None = Field(default=None, index=True)
    effective_at: time | None = None
    tentative: bool = False
    status: str = Field(default=ChangeStatus.ACTIVE, max_length=20)
    revision: int = 0
    postponed_from: date | None = None
    # The publish time of the notice whose dates the change now carries: an older notice
    # imported later must not move the dates back.
    dated_by: datetime | None = Field(default=None, sa_column=Column(AwareDateTime()))
    # The change a merged one went into: a later notice about it becomes a source of that one.
    merged_into_id: int | None = None
    created_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))


class Notice(SQLModel, table=True):
    """The source text a change was read from, kept whole so it can be read again later.

    Never changed or deleted once stored (only its links to changes come and go): the
    feed's rebuild reuses the sources it read for a change while the same notices are
    linked to it (alerts/calendar/feed.py)."""

    __tablename__ = "notice"

    id: int | None = Field(default=None, primary_key=True)
    content_hash: str = Field(index=True, unique=True, max_length=64)
    title: str = Field(default="", max_length=500)
    url: str | None = Field(default=None, max_length=2000)
    published_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime()))
    text: str = Field(default="", sa_type=Text)
    origin: str = Field(default="", max_length=200)  # file name, "api", "manual", …
    problem: str | None = Field(
        default=None, sa_type=Text
    )  # why nothing could be read from it, when that is so
    created_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))


class ChangeNotice(SQLModel, table=True):
    """Which notices reported which change (a change may have several sources)."""

    __tablename__ = "change_notice"

    change_id: int = Field(foreign_key="rule_change.id", primary_key=True, ondelete="CASCADE")
    notice_id: int = Field(foreign_key="notice.id", primary_key=True, ondelete="CASCADE")


class Channel(SQLModel, table=True):
    """A channel as the store knows it: deliveries name it, and it remembers when it appeared.

    Config is the source of truth for a channel's settings; this row records that it exists,
    since when (a new channel gets no backlog) and whether it is still configured.
    """

    __tablename__ = "channel"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)
    kind: str = Field(max_length=20)
    active: bool = True
    created_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))


class Reminder(SQLModel, table=True):
    """The outbox: one message to send to one channel about one change, before it is sent.

    ``dedupe_key`` makes planning idempotent; ``uid`` is the event id receivers see, the same
    on every retry. A claimed row carries a lease: when it runs out (a crash mid-send), the
    row is claimed again.
    """

    __tablename__ = "reminder"
    # What the dispatcher claims by: pending reminders in the order they fall due.
    __table_args__ = (Index("ix_reminder_claim", "status", "next_attempt_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(index=True, unique=True, max_length=64)
    dedupe_key: str = Field(index=True, unique=True, max_length=300)
    change_id: int = Field(foreign_key="rule_change.id", index=True)
    channel: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=20)  # announced | lead | changed
    lead_days: int | None = None
    revision: int = 0  # the change's revision this reminder was planned for
    due_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False, index=True))
    status: str = Field(default=ReminderStatus.PENDING, max_length=20, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    lease_until: datetime | None = Field(default=None, sa_column=Column(AwareDateTime()))
    leased_by: str | None = Field(default=None, max_length=100)
    context: str = Field(default="{}", sa_type=Text)  # JSON: what the message must say
    reason: str | None = Field(default=None, sa_type=Text)  # why it ended as it did
    sent_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime()))
    created_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))


class Delivery(SQLModel, table=True):
    """One attempt to send a reminder, whatever came of it."""

    __tablename__ = "delivery"
    # What a channel's rate limit counts: its sends in the last window.
    __table_args__ = (Index("ix_delivery_channel_started", "channel", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    reminder_id: int = Field(foreign_key="reminder.id", index=True, ondelete="CASCADE")
    channel: str = Field(max_length=64)
    # The id the receiver saw: the reminder's uid, or the digest's that carried it.
    message_id: str = Field(max_length=64)
    attempt: int
    started_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    duration_ms: int
    outcome: str = Field(max_length=20)  # delivered | retry | failed
    status_code: int | None = None
    reply: str | None = Field(default=None, max_length=500)
    error: str | None = Field(default=None, sa_type=Text)


class StoredWatch(SQLModel, table=True):
    """A watch added through the API; used together with the ``[[watch]]`` entries of config.

    ``definition`` is the watch as JSON, in the same shape as a ``[[watch]]`` table.
    """

    __tablename__ = "watch"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)
    definition: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))


class SourceState(SQLModel, table=True):
    """What rulewatch remembers of one polled source (by its configured name): the validators
    for a conditional GET, how its last polls went, and when it may be polled again."""

    __tablename__ = "source_state"

    name: str = Field(primary_key=True, max_length=64)
    etag: str | None = Field(default=None, max_length=500)
    last_modified: str | None = Field(default=None, max_length=100)
    fingerprint: str | None = Field(default=None, max_length=64)  # a watched page's text
    last_polled_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime()))
    last_success_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime()))
    last_error_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime()))
    last_error: str | None = Field(default=None, sa_type=Text)
    failures: int = 0  # polls failed in a row
    not_before: datetime | None = Field(default=None, sa_column=Column(AwareDateTime()))
    items_seen: int = 0
    # Whether the admin channel was last told that the source fails (so it hears once).
    told_failing: bool = False


class SourceItem(SQLModel, table=True):
    """An item a source found (a feed entry, a list item, a file, a page's text), kept so
    that the next poll knows it; with the reason when it could not be read."""

    __tablename__ = "source_item"
    __table_args__ = (Index("ix_source_item_key", "source", "key_digest", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    key_digest: str = Field(max_length=64)  # sha256 of the key: links can be long
    key: str = Field(sa_type=Text)
    notice_id: int | None = Field(default=None, foreign_key="notice.id", ondelete="SET NULL")
    problem: str | None = Field(default=None, sa_type=Text)
    # Its problem may pass (its page answered 500): read again at the next polls, ``tries``
    # counting them, until it is read or given up (kept with its problem).
    pending: bool = False
    tries: int = 0
    seen_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))


class StoredSource(SQLModel, table=True):
    """A source added through the API, polled together with the ``[[sources]]`` of config.

    ``definition`` is the source as JSON, in the same shape as a ``[[sources]]`` table.
    """

    __tablename__ = "source"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)
    definition: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))


class AuditEntry(SQLModel, table=True):
    """One write someone made (through the API, the page or the CLI): who, what, when."""

    __tablename__ = "audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False, index=True))
    actor: str = Field(max_length=64)  # a [[users]] name; "api" for the [api] token
    action: str = Field(max_length=64)  # "notice.add", "watch.remove", …
    target: str = Field(default="", max_length=500)  # what it was done to, as shown
    detail: str = Field(default="", sa_type=Text)  # what was sent, secrets left out


class ChangeRevision(SQLModel, table=True):
    """One correction of a change by a person: who, when, why, and what it changed.

    ``detail`` is JSON: for an edit each field's value before and after, for a merge or a
    split the uid of the other change, for a delete nothing more than the reason.
    """

    __tablename__ = "change_revision"

    id: int | None = Field(default=None, primary_key=True)
    change_id: int = Field(foreign_key="rule_change.id", index=True, ondelete="CASCADE")
    at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    actor: str = Field(max_length=64)
    action: str = Field(max_length=20)  # edit | merge | merged | split | delete
    reason: str = Field(sa_type=Text)
    detail: str = Field(default="{}", sa_type=Text)


class HandledMark(SQLModel, table=True):
    """A change marked handled for one watch or one tag (``scope_kind``), by whom, when and
    with what note. One mark per (change, scope): marking again updates it, undo deletes it
    (the audit log keeps the history)."""

    __tablename__ = "handled"
    __table_args__ = (Index("ix_handled_scope", "change_id", "scope_kind", "scope", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    change_id: int = Field(foreign_key="rule_change.id", ondelete="CASCADE")
    scope_kind: str = Field(max_length=10)  # watch | tag
    scope: str = Field(max_length=200)  # the watch's name or the tag
    by: str = Field(max_length=64)  # a [[users]] name, "api" or "cli:<user>"
    at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    note: str = Field(default="", sa_type=Text)


class CalendarEvent(SQLModel, table=True):
    """One VEVENT of the calendar feed as serialized (without alarms), kept so that a restart
    does not serialize every event again. ``key`` digests everything the event shows
    (alerts/calendar/render.py's ``event_key``): a row is never stale, only unused; the
    newest few of each change are kept (store/events.py)."""

    __tablename__ = "calendar_event"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, index=True, unique=True)
    change_uid: str = Field(max_length=64, index=True)
    block: bytes = Field(sa_type=LargeBinary)


class CalendarFeed(SQLModel, table=True):
    """A whole feed as a service held it when it stopped, for the next start to serve
    without building it. ``key`` digests all it was built from (the code, the settings, the
    store's data version, the filters): a row is served only while all of them are the
    same. Each stop replaces every row (store/events.py)."""

    __tablename__ = "calendar_feed"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, index=True, unique=True)
    body: bytes = Field(sa_type=LargeBinary)
    last_modified: int = Field(sa_type=BigInteger)  # Unix seconds
