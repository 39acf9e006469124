"""Planning into the outbox: read the store, ask the planner, write what it decided.

Run on every dispatch tick and after imports; it is idempotent, so running it often costs
queries, never duplicate reminders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from alerts.config import Settings
from alerts.reminders.planner import ChannelState, KnownReminder, PlannedChange, Timing, plan
from alerts.reminders.workdays import Workdays
from alerts.timeline.handled import mark_of
from alerts.watches import current_watches, facts_of
from store import handled, outbox


@dataclass(frozen=True)
class PlanReport:
    created: int
    cancelled: int


def timing(settings: Settings) -> Timing:
    """``[reminders]`` as the planner needs it."""
    return Timing(
        tz=settings.service.tz,
        at=settings.reminders.at,
        default_lead_days=settings.reminders.lead_days,
        shift=workdays_of(settings).previous_workday
        if settings.reminders.shift == "previous_workday"
        else None,
    )


def workdays_of(settings: Settings) -> Workdays:
    """China's working days with ``[workdays]`` of config.toml on top."""
    return Workdays(
        days_off=frozenset(settings.workdays.days_off),
        workdays=frozenset(settings.workdays.workdays),
    )


def sync_channels(session: Session, settings: Settings, *, now: datetime) -> list[ChannelState]:
    """Record the configured channels in the store (a new one gets no backlog)."""
    rows = outbox.sync_channels(
        session, [(channel.name, channel.kind) for channel in settings.channels], now=now
    )
    return [ChannelState(name=r.name, active=r.active, created_at=r.created_at) for r in rows]


def plan_reminders(session: Session, settings: Settings, *, now: datetime) -> PlanReport:
    """Bring the outbox in line with the watched changes, channels and lead times."""
    channels = sync_channels(session, settings, now=now)
    # A day of slack: "today" in the service zone may still be yesterday in UTC.
    rows = outbox.planning_rows(session, effective_from=now - timedelta(days=1))
    marks = handled.marks_of_changes(session, change_ids=[c.id for c, _ in rows if c.id])
    changes = [
        PlannedChange(
            id=change.id or 0,
            uid=change.uid,
            facts=facts_of(change, rule),
            status=change.status,
            revision=change.revision,
            postponed_from=change.postponed_from,
            created_at=change.created_at,
            updated_at=change.updated_at,
            handled=tuple(mark_of(row) for row in marks.get(change.id or 0, [])),
        )
        for change, rule in rows
    ]
    known = [
        KnownReminder(
            id=r.id or 0,
            dedupe_key=r.dedupe_key,
            change_id=r.change_id,
            channel=r.channel,
            kind=r.kind,
            revision=r.revision,
            status=r.status,
            lead_days=r.lead_days,
            due_at=r.due_at,
            reason=r.reason,
        )
        for r in outbox.reminders_of_changes(session, change_ids=[c.id for c in changes])
    ]
    decided = plan(
        changes,
        watches=current_watches(session, settings),
        channels=channels,
        known=known,
        timing=timing(settings),
        now=now,
    )
    created = outbox.add_reminders(session, decided.create, now=now)
    cancelled = outbox.cancel_reminders(session, decided.cancel, now=now)
    outbox.revive_reminders(session, decided.revive, now=now)
    return PlanReport(created=created, cancelled=cancelled)
