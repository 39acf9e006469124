"""Reminder operations the faces share: list the outbox, run one tick, test a channel, retry
what failed for good."""

from __future__ import annotations

import asyncio
import signal
import uuid
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, select

from alerts.config import Settings
from alerts.errors import Refused, RulewatchError
from alerts.reminders import pacing
from alerts.reminders.dispatcher import reminder_facts, triage_rows
from alerts.reminders.engine import ReminderEngine, notifiers_for
from alerts.reminders.messages import ReminderFacts, render
from alerts.reminders.plan import plan_reminders, workdays_of
from notifiers.base import Message, Outcome
from notifiers.pacing import Pacing
from store import outbox, queries
from store.db import connect, ensure_schema
from store.models import ChangeStatus, Reminder, Rule, RuleChange


def run_due(settings: Settings, *, now: datetime, dry_run: bool = False) -> list[str]:
    """Plan and send what is due at ``now`` once; with ``dry_run``, only say what would go.

    Returns lines for a person to read.
    """
    engine = connect(settings.service.database)
    ensure_schema(engine)
    try:
        if dry_run:
            return _preview(settings, engine, now)
        return asyncio.run(_tick(settings, engine, now))
    finally:
        engine.dispose()


async def _tick(settings: Settings, engine: Engine, now: datetime) -> list[str]:
    from notifiers.http import sending_client  # not for every command: a dry run sends none

    async with sending_client() as http:
        reminder_engine = ReminderEngine(settings, engine, http=http)
        # SIGTERM or Ctrl-C: what is in flight finishes and is recorded, the rest of what
        # was claimed goes back to the outbox for the next run.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, reminder_engine.stopping.set)
        report = await reminder_engine.tick(now)
    lines = [
        f"{channel}: {status} — {subject}" + (f"（{reason}）" if reason else "")
        for channel, subject, status, reason in report.dispatch.messages
    ]
    lines.append(report.summary())
    return lines


def _preview(settings: Settings, engine: Engine, now: datetime) -> list[str]:
    tz = settings.service.tz
    with Session(engine) as session:
        planned = plan_reminders(session, settings, now=now)
        rows = outbox.due_reminders(session, now=now, limit=None)
        skip = {rid: why for rid, why in triage_rows(rows, today=now.astimezone(tz).date())}
        sources = queries.notices_of_changes(session, change_ids=[c.id or 0 for _, c, _ in rows])
        held = _held_back(settings, rows, now)
        going = sum(1 for reminder, _, _ in rows if reminder.id not in skip.keys() | held.keys())
        lines = []
        for reminder, change, rule in rows:
            if reminder.id in skip:
                lines.append(f"{reminder.channel}: would skip — {skip[reminder.id or 0]}")
                continue
            if reminder.id in held:
                lines.append(f"{reminder.channel}: would wait — {held[reminder.id or 0]}")
                continue
            facts = reminder_facts(
                reminder,
                change,
                rule,
                sources.get(change.id or 0, []),
                settings.service.base_url,
                tz,
            )
            message = render(facts, today=now.astimezone(tz).date())
            lines.append(f"{reminder.channel}: would send — {message.subject}")
        session.rollback()  # a dry run leaves the outbox as it was
    lines.append(f"dry run: {planned.created} would be planned, {going} would be sent")
    return lines


def _held_back(
    settings: Settings, rows: list[tuple[Reminder, RuleChange, Rule]], now: datetime
) -> dict[int, str]:
    """The due reminders a channel's quiet hours, working days or digest window hold back
    at ``now``, with why (its rate limit is left out: a dry run sends nothing to count)."""
    gates = pacing.gates(
        {c.name: c for c in settings.channels if isinstance(c, Pacing)},
        now,
        tz=settings.service.tz,
        is_workday=workdays_of(settings).is_workday,
        opens_at=settings.reminders.at,
    )
    held: dict[int, str] = {}
    for reminder, _, _ in rows:
        if reminder.channel not in gates:
            continue
        until = gates[reminder.channel]
        if until is None:
            held[reminder.id or 0] = "渠道处于免打扰时段或非工作日"
        elif reminder.due_at > until:
            held[reminder.id or 0] = "等本期汇总（digest）时段结束后一起发送"
    return held


def test_channel(settings: Settings, name: str) -> Outcome:
    """Send a test message to the channel called ``name`` and return the outcome.

    Raises RulewatchError when the config has no such channel.
    """

    try:
        settings.channel(name)
    except KeyError:
        names = ", ".join(c.name for c in settings.channels) or "none"
        raise RulewatchError(
            f"no channel named {name!r} in the config (channels: {names})"
        ) from None
    return asyncio.run(_send_test(settings, name))


async def _send_test(settings: Settings, name: str) -> Outcome:
    from alerts import clock
    from notifiers.http import sending_client

    now = clock.now().astimezone(settings.service.tz)
    facts = ReminderFacts(
        reminder_uid=f"test-{uuid.uuid4().hex}",
        kind="test",
        lead_days=None,
        context={},
        due_at=now,
        change_uid="test",
        rule_name="rulewatch 测试消息",
        rule_key="rulewatch 测试消息",
        platform=None,
        change_kind="test",
        title="这是一条测试消息",
        summary="收到这条消息，说明这个通知渠道已配置正确。",
        announced_on=now.date(),
        effective_on=now.date(),
        effective_at=None,
        tentative=False,
        status=ChangeStatus.ACTIVE,
        revision=0,
        postponed_from=None,
        sources=(),
        link=settings.service.base_url,
    )
    message: Message = render(facts, today=now.date())
    async with sending_client() as http:
        return await notifiers_for(settings, http=http)[name].send(message)


def retry_reminders(
    session: Session, *, uid: str | None = None, channel: str | None = None, now: datetime
) -> list[str]:
    """Put the dead reminder ``uid``, or every dead one of ``channel``, back in the outbox to
    be sent at the next tick; the uids put back. The caller commits. Raises Refused for
    a reminder that does not exist (404) or did not fail for good (409)."""
    if uid is not None:
        row = session.exec(select(Reminder).where(Reminder.uid == uid)).first()
        if row is None:
            raise Refused(f"没有这条提醒（no reminder {uid!r}）", status=404)
        if row.status != outbox.DEAD:
            raise Refused(
                f"这条提醒的状态是 {row.status}，只有发送失败（dead）的提醒可以重试"
                f"（reminder {uid!r} is {row.status}, not dead）",
                status=409,
            )
    return outbox.retry_dead(session, uid=uid, channel=channel, now=now)
