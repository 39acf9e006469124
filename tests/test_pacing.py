"""A channel's pace, end to end: rate limits counted in the store (across instances),
quiet hours and working days, against loopback robots; and the pure rules behind them.

The clock is moved with time-machine; nothing here sleeps to wait for time to pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import Engine
from sqlmodel import Session, select
from vendors import DingTalkRobot, SlackHook
from watched import TZ, add_changes, local, settings_with

from alerts.config import Settings
from alerts.reminders.engine import ReminderEngine
from alerts.reminders.pacing import due_until, room
from alerts.reminders.plan import workdays_of
from notifiers.pacing import RateLimit
from store.db import connect, upgrade
from store.models import Reminder

DD_SECRET = "SEC3b1e9f0a8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f"

pytestmark = pytest.mark.anyio


@pytest.fixture
def robot() -> Iterator[DingTalkRobot]:
    with DingTalkRobot(secret=DD_SECRET) as bot:
        yield bot


def settings(tmp_path: Path, url: str, pace: str = "", kind: str = "dingtalk") -> Settings:
    secret = f'secret = "{DD_SECRET}"\n' if kind == "dingtalk" else ""
    return settings_with(tmp_path, f'kind = "{kind}"\nurl = "{url}"\n{secret}{pace}')


def statuses(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        found: dict[str, int] = {}
        for reminder in session.exec(select(Reminder).where(Reminder.kind == "announced")):
            found[reminder.status] = found.get(reminder.status, 0) + 1
        return found


def refused(bot: DingTalkRobot) -> list[object]:
    return [answer for _, answer in bot.answers if answer.get("errcode")]  # type: ignore[union-attr]


# --- rate limits ---------------------------------------------------------------------


async def test_a_robot_gets_no_more_than_its_limit_and_nothing_is_dropped(
    tmp_path, engine, robot, http
):
    with time_machine.travel(local("2026-11-27 10:00"), tick=False) as clock:
        service = ReminderEngine(settings(tmp_path, robot.url), engine, http=http)
        await service.tick()  # the channel exists before the changes are stored
        add_changes(engine, 45)

        await service.tick()
        assert len(robot.accepted) == 20  # DingTalk's 20 a minute, the default
        clock.shift(timedelta(seconds=15))
        await service.tick()
        assert len(robot.accepted) == 20  # the minute is not over
        clock.shift(timedelta(seconds=46))
        await service.tick()
        assert len(robot.accepted) == 40
        clock.shift(timedelta(seconds=61))
        await service.tick()

    assert len(robot.accepted) == 45 and not refused(robot)
    assert statuses(engine) == {"sent": 45}


@pytest.fixture
def shared_engine(postgres_database: str) -> Iterator[Engine]:
    engine = connect(postgres_database)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.mark.postgres
async def test_two_instances_share_one_limit(tmp_path, shared_engine, robot, http):
    # On PostgreSQL, where several instances may share a store (SQLite is served by one):
    # each claim counts what the others sent and have in flight, under a lock.
    engine = shared_engine
    config = settings(tmp_path, robot.url, 'rate = "10/min"\n')
    with time_machine.travel(local("2026-11-27 10:00"), tick=False) as clock:
        first = ReminderEngine(config, engine, http=http)
        second = ReminderEngine(config, engine, http=http)
        second.dispatcher._worker = "another-host:4242"  # what a second process would be
        await first.tick()
        add_changes(engine, 30)
        await asyncio.gather(first.tick(), second.tick())
        assert len(robot.accepted) == 10
        clock.shift(timedelta(seconds=61))
        await asyncio.gather(first.tick(), second.tick())
        assert len(robot.accepted) == 20
    assert not refused(robot)


async def test_a_written_rate_replaces_the_vendors(tmp_path, engine, http):
    with SlackHook(per_second=100) as hook, time_machine.travel(local("2026-11-27 10:00")):
        service = ReminderEngine(
            settings(tmp_path, hook.url, 'rate = "3/min"\n', kind="slack"), engine, http=http
        )
        await service.tick()
        add_changes(engine, 5)
        await service.tick()
        assert len(hook.accepted) == 3


# --- quiet hours and working days ------------------------------------------------------


async def test_what_falls_due_in_quiet_hours_goes_when_they_end(tmp_path, engine, robot, http):
    config = settings(tmp_path, robot.url, 'quiet = "22:00-08:00"\n')
    with time_machine.travel(local("2026-11-27 21:59"), tick=False) as clock:
        service = ReminderEngine(config, engine, http=http)
        await service.tick()
        clock.move_to(local("2026-11-27 23:10"))
        add_changes(engine, 2)
        await service.tick()
        clock.move_to(local("2026-11-28 07:59"))
        await service.tick()
        assert robot.accepted == []
        clock.move_to(local("2026-11-28 08:00"))
        await service.tick()
    assert len(robot.accepted) == 2


async def test_workdays_only_waits_over_the_weekend(tmp_path, engine, robot, http):
    config = settings(tmp_path, robot.url, "workdays_only = true\n")
    # 2026-11-28 is a Saturday.
    with time_machine.travel(local("2026-11-28 10:00"), tick=False) as clock:
        service = ReminderEngine(config, engine, http=http)
        await service.tick()
        add_changes(engine, 1)
        await service.tick()
        clock.move_to(local("2026-11-30 08:59"))  # Monday, before [reminders] at
        await service.tick()
        assert robot.accepted == []
        clock.move_to(local("2026-11-30 09:00"))
        await service.tick()
    assert len(robot.accepted) == 1


# --- the rules -------------------------------------------------------------------------------


def until(tmp_path: Path, written: str, at: str) -> datetime | None:
    config = settings(tmp_path, "https://oapi.dingtalk.com/robot/send?access_token=t", written)
    is_workday = workdays_of(config).is_workday
    return due_until(config.channels[0], local(at), tz=TZ, is_workday=is_workday)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("written", "at", "expected"),
    [
        ('quiet = "22:00-08:00"\n', "2026-11-27 21:59", "2026-11-27 21:59"),
        ('quiet = "22:00-08:00"\n', "2026-11-27 22:00", None),
        ('quiet = "22:00-08:00"\n', "2026-11-28 07:59", None),
        ('quiet = "12:00-13:30"\n', "2026-11-27 13:30", "2026-11-27 13:30"),
        ('digest = "15m"\n', "2026-11-27 09:14", "2026-11-27 09:00"),
        ('digest = "15m"\n', "2026-11-27 09:15", "2026-11-27 09:15"),
        ('digest = "daily 09:00"\n', "2026-11-27 08:59", "2026-11-26 09:00"),
        ('digest = "daily 09:00"\n', "2026-11-27 18:00", "2026-11-27 09:00"),
        # 2026-10-01 is National Day; 2026-10-10 (a Saturday) is a make-up working day.
        ("workdays_only = true\n", "2026-10-01 10:00", None),
        ("workdays_only = true\n", "2026-10-10 10:00", "2026-10-10 10:00"),
        # After a day off the channel opens at [reminders] at, not at midnight.
        ("workdays_only = true\n", "2026-11-30 00:00", None),
        ("workdays_only = true\n", "2026-12-01 00:00", "2026-12-01 00:00"),
        ('workdays_only = true\ndigest = "daily 09:00"\n', "2026-11-30 08:00", None),
        ('workdays_only = true\ndigest = "daily 09:00"\n', "2026-11-30 09:00", "2026-11-30 09:00"),
    ],
)
def test_when_a_channel_may_send(tmp_path, written, at, expected):
    assert until(tmp_path, written, at) == (local(expected) if expected else None)


def test_room_is_the_tightest_limit():
    limits = (RateLimit(5, 1), RateLimit(100, 60))
    assert room(limits, {1: 2, 60: 40}) == 3
    assert room(limits, {1: 0, 60: 99}) == 1
    assert room(limits, {1: 7, 60: 7}) == 0
    assert room((), {}) is None
