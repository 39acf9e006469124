"""Watched changes × channels × lead times → reminder rows for the outbox.

Pure: the changes, channels and existing reminders come in as values, with ``now``; the
rows to create and the ones to cancel go out. Every row has a dedupe key, so planning the
same state twice creates nothing new.

Reminder kinds:

- ``announced`` — a watched change was first stored; sent at once, only while its
  effective date is ahead, and only to channels that existed when it was stored;
- ``lead`` — N days before 生效 at ``[reminders] at`` local time (moved to the previous
  working day with ``shift = "previous_workday"``); never for an instant before the change
  (or its current date) was known, nor before the channel existed;
- ``changed`` — the effective date moved (a notice or a person's correction said so), or the
  change was withdrawn: pending reminders for the old date are cancelled and one message
  says old → new. A change merged into another or deleted by a person gets no message: its
  pending reminders are cancelled.

A change marked handled (已处理) for a watch, or for a tag it carries, gets no lead
reminders from that watch when it has ``stop_when_handled``: its pending ones are cancelled
("已标记为已处理") unless another watch still wants that lead on that channel; ``announced``
and ``changed`` still go. When the mark is undone, the leads cancelled for it that are not
yet due are pending again (their dedupe keys are taken, so they are revived, not re-added).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from alerts.config import Watch
from alerts.timeline.handled import Mark, marked_for
from alerts.watches import ChangeFacts, Route, routes
from store.models import ChangeStatus, ReminderStatus

_UID_NAMESPACE = uuid.UUID("0b8f3b1e-52c4-4f0e-9d7c-6a1e2f3c4d5b")
# Changes that left the timeline quietly (a person corrected it), and why their pending
# reminders are cancelled: nothing is sent about them, not even that they went.
_GONE: dict[str, str] = {
    ChangeStatus.MERGED: "这项变更已合并到另一项变更",
    ChangeStatus.DELETED: "这项变更已删除（误读）",
}


@dataclass(frozen=True)
class PlannedChange:
    """What the planner needs to know of a stored change."""

    id: int
    uid: str
    facts: ChangeFacts
    status: str  # a ChangeStatus
    revision: int
    postponed_from: date | None
    created_at: datetime
    updated_at: datetime
    handled: tuple[Mark, ...] = ()

    @property
    def effective_on(self) -> date | None:
        return self.facts.effective_on


@dataclass(frozen=True)
class ChannelState:
    name: str
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class KnownReminder:
    id: int
    dedupe_key: str
    change_id: int
    channel: str
    kind: str
    revision: int
    status: str
    lead_days: int | None = None
    due_at: datetime | None = None
    reason: str | None = None


HANDLED = "已标记为已处理"


@dataclass(frozen=True)
class ReminderDraft:
    """A reminder row to insert."""

    uid: str
    dedupe_key: str
    change_id: int
    channel: str
    kind: str  # announced | lead | changed
    due_at: datetime
    revision: int
    lead_days: int | None = None
    context: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    create: list[ReminderDraft]
    cancel: list[tuple[int, str]]  # (reminder id, reason)
    revive: list[int] = field(default_factory=list)  # cancelled as handled, wanted again


@dataclass(frozen=True)
class Timing:
    """When lead reminders go out: ``[reminders]`` resolved for the planner."""

    tz: ZoneInfo
    at: time
    default_lead_days: Sequence[int]
    shift: Callable[[date], date] | None = None  # e.g. workdays.previous_workday


def plan(
    changes: Iterable[PlannedChange],
    *,
    watches: Sequence[Watch],
    channels: Sequence[ChannelState],
    known: Iterable[KnownReminder],
    timing: Timing,
    now: datetime,
) -> Plan:
    """The reminders to create and to cancel so the outbox matches the current state."""
    by_name = {channel.name: channel for channel in channels}
    known_by_change: dict[int, list[KnownReminder]] = {}
    for reminder in known:
        known_by_change.setdefault(reminder.change_id, []).append(reminder)
    today = now.astimezone(timing.tz).date()
    create: list[ReminderDraft] = []
    cancel: list[tuple[int, str]] = []
    revive: list[int] = []
    for change in changes:
        existing = known_by_change.get(change.id, [])
        keys = {reminder.dedupe_key for reminder in existing}
        wanted: list[ReminderDraft] = []
        routed: set[str] = set()
        routed_by = routes(watches, change.facts, default_lead_days=timing.default_lead_days)
        leads = (
            _unhandled_leads(watches, change, timing.default_lead_days)
            if change.handled  # most changes have no mark: no second pass over the watches
            else {route.channel: route for route in routed_by}
        )
        stopped: dict[str, frozenset[int]] = {}
        for route in routed_by:
            channel = by_name.get(route.channel)
            if channel is None or not channel.active:
                continue
            routed.add(channel.name)
            lead = leads.get(channel.name)
            days = lead.lead_days if lead is not None else frozenset()
            stopped[channel.name] = route.lead_days - days
            for draft in _drafts(change, channel, days, timing, today):
                # A lead mentions the people of the watches still wanting it, not of those
                # that marked the change handled.
                asking = lead if draft.kind == "lead" and lead is not None else route
                wanted.append(_mentioning(draft, asking.mention))
        create.extend(draft for draft in wanted if draft.dedupe_key not in keys)
        cancel.extend(_stale(change, existing, routed, by_name, stopped))
        revive.extend(_revived(existing, {draft.dedupe_key for draft in wanted}, now))
    return Plan(create=create, cancel=cancel, revive=revive)


def _unhandled_leads(
    watches: Sequence[Watch], change: PlannedChange, default_lead_days: Sequence[int]
) -> dict[str, Route]:
    """Each channel's route from the watches that still want leads about ``change`` (their
    lead days, their mentions): not those that stop when handled and have it marked."""
    wanting = [
        watch
        for watch in watches
        if not (watch.stop_when_handled and marked_for(watch, change.handled) is not None)
    ]
    found = routes(wanting, change.facts, default_lead_days=default_lead_days)
    return {route.channel: route for route in found}


def _revived(existing: Iterable[KnownReminder], wanted: set[str], now: datetime) -> list[int]:
    # A lead cancelled because the change was handled, wanted again (the mark was undone)
    # and not yet due: pending again under its own key.
    return [
        reminder.id
        for reminder in existing
        if reminder.kind == "lead"
        and reminder.status == ReminderStatus.CANCELLED
        and reminder.reason == HANDLED
        and reminder.dedupe_key in wanted
        and reminder.due_at is not None
        and reminder.due_at >= now
    ]


def _drafts(
    change: PlannedChange,
    channel: ChannelState,
    lead_days: Iterable[int],
    timing: Timing,
    today: date,
) -> Iterable[ReminderDraft]:
    effective_on = change.effective_on
    if effective_on is None or effective_on < today or change.status in _GONE:
        return
    prefix = f"{change.uid}:{channel.name}"
    if change.status == ChangeStatus.WITHDRAWN:
        if change.updated_at >= channel.created_at:
            yield _draft(
                change,
                channel,
                f"{prefix}:withdrawn",
                "changed",
                change.updated_at,
                context={"withdrawn": True, "effective_on": effective_on.isoformat()},
            )
        return
    if change.created_at >= channel.created_at:
        yield _draft(change, channel, f"{prefix}:announced", "announced", change.created_at)
    moved = change.revision > 0 and change.postponed_from is not None
    if moved and change.updated_at >= channel.created_at:
        old = change.postponed_from.isoformat() if change.postponed_from else None
        yield _draft(
            change,
            channel,
            f"{prefix}:changed:r{change.revision}",
            "changed",
            change.updated_at,
            context={"from": old, "to": effective_on.isoformat()},
        )
    # Leads for the current date are due only from when that date was known: a date that
    # moved, or that a person corrected (a new revision), from then on.
    dated = change.updated_at if change.revision > 0 else change.created_at
    known_since = max(dated, channel.created_at)
    for days in sorted(lead_days, reverse=True):
        due_on = effective_on - timedelta(days=days)
        if timing.shift is not None:
            due_on = timing.shift(due_on)
        due_at = datetime.combine(due_on, timing.at, tzinfo=timing.tz)
        if due_at < known_since:
            continue
        yield _draft(
            change,
            channel,
            f"{prefix}:lead:{days}:r{change.revision}",
            "lead",
            due_at,
            lead_days=days,
        )


def _mentioning(draft: ReminderDraft, mention: tuple[str, ...]) -> ReminderDraft:
    # Fixed when planned, as the rest of what the message will say.
    if not mention:
        return draft
    return dataclasses.replace(draft, context={**draft.context, "mention": list(mention)})


def _draft(
    change: PlannedChange,
    channel: ChannelState,
    key: str,
    kind: str,
    due_at: datetime,
    *,
    lead_days: int | None = None,
    context: dict[str, object] | None = None,
) -> ReminderDraft:
    return ReminderDraft(
        uid=uuid.uuid5(_UID_NAMESPACE, key).hex,
        dedupe_key=key,
        change_id=change.id,
        channel=channel.name,
        kind=kind,
        due_at=due_at,
        revision=change.revision,
        lead_days=lead_days,
        context=context or {},
    )


def _stale(
    change: PlannedChange,
    existing: Iterable[KnownReminder],
    routed: set[str],
    channels: dict[str, ChannelState],
    stopped: dict[str, frozenset[int]],  # each channel's lead days stopped by a mark
) -> Iterable[tuple[int, str]]:
    for reminder in existing:
        if reminder.status != ReminderStatus.PENDING:
            continue
        channel = channels.get(reminder.channel)
        if channel is None or not channel.active:
            yield reminder.id, f"渠道 {reminder.channel} 已从配置中移除"
        elif reminder.channel not in routed:
            yield reminder.id, "已没有关注项把这项变更发往这个渠道"
        elif change.status == ChangeStatus.WITHDRAWN and reminder.kind != "changed":
            yield reminder.id, "这项变更已撤回"
        elif change.status in _GONE:
            yield reminder.id, _GONE[change.status]
        elif reminder.kind == "lead" and reminder.revision < change.revision:
            moved_to = change.effective_on or "未定（日期已撤销）"
            yield reminder.id, f"生效日期已改为 {moved_to}"
        elif reminder.kind == "lead" and reminder.lead_days in stopped.get(reminder.channel, ()):
            yield reminder.id, HANDLED
