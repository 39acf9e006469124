"""The reminder engine end to end: store → planner → dispatcher → a real receiver on loopback.

The clock is moved with time-machine; nothing here sleeps to wait for time to pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from receiver import Receiver, Reply, refused_url
from sqlalchemy import Engine
from sqlmodel import Session, select

from alerts.config import Settings, parse_settings
from alerts.extract.model import Notice
from alerts.reminders.engine import ReminderEngine
from alerts.timeline.ingest import add_change, ingest
from store.db import session_scope
from store.models import Delivery, Reminder

TZ = ZoneInfo("Asia/Shanghai")
WHSEC = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD1BFz5LQY/7k="
RULE = "1688商家发货行为管理规范"

pytestmark = pytest.mark.anyio


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def config_text(*hooks: tuple[str, str], max_attempts: int = 8) -> str:
    channels = "".join(
        f'[[channels]]\nname = "{name}"\nkind = "webhook"\nurl = "{url}"\n'
        f'secret = "{WHSEC}"\ntimeout = 2\n\n'
        for name, url in hooks
    )
    names = json.dumps([name for name, _ in hooks])
    return (
        f'[service]\nbase_url = "https://rw.example.com"\n\n'
        f"[reminders]\nmax_attempts = {max_attempts}\n\n"
        f'[[watch]]\nname = "shipping"\nrules = ["{RULE}"]\nchannels = {names}\n\n{channels}'
    )


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(local("2026-11-27 10:00"), tick=False) as traveller:
        yield traveller


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(secret=WHSEC) as rx:
        yield rx


def settings_for(tmp_path: Path, text: str) -> Settings:
    return parse_settings(text, path=tmp_path / "config.toml", environ={})


def add(engine: Engine, effective: str = "2026-12-15") -> None:
    with session_scope(engine) as session:
        add_change(
            session,
            rule=RULE,
            platform="1688",
            announced_on=date(2026, 11, 27),
            effective_on=date.fromisoformat(effective),
            title="《1688商家发货行为管理规范》变更",
            now=datetime.now(TZ),
            tz=TZ,
        )


def reminders(engine: Engine) -> list[Reminder]:
    with Session(engine) as session:
        return list(session.exec(select(Reminder).order_by(Reminder.due_at)).all())


def deliveries(engine: Engine) -> list[Delivery]:
    with Session(engine) as session:
        return list(session.exec(select(Delivery).order_by(Delivery.id)).all())


async def test_each_reminder_kind_is_delivered_once_at_its_instant(
    tmp_path, engine, clock, receiver, http
):
    settings = settings_for(tmp_path, config_text(("hook", receiver.url)))
    service = ReminderEngine(settings, engine, http=http)
    await service.tick()  # the channel exists before the change is stored
    add(engine)
    await service.tick()
    (announced,) = receiver.wait_for(1)
    assert announced.verified, announced.verify_error
    body = announced.json()
    assert (body["kind"], body["days_left"], body["rule"]["key"]) == ("announced", 18, RULE)
    assert body["change"]["effective_on"] == "2026-12-15"
    assert body["link"].startswith("https://rw.example.com/changes/")
    assert announced.headers["webhook-id"] == body["id"]

    expected = [("2026-12-08 09:00", 7), ("2026-12-14 09:00", 1), ("2026-12-15 09:00", 0)]
    for instant, days in expected:
        clock.move_to(local(instant) - timedelta(minutes=1))
        await service.tick()
        assert len(receiver.requests) == 1 + expected.index((instant, days))
        clock.move_to(local(instant))
        await service.tick()
        await service.tick()  # a second tick at the same instant sends nothing more
        latest = receiver.requests[-1].json()
        assert (latest["kind"], latest["lead_days"], latest["days_left"]) == ("lead", days, days)
    assert len(receiver.requests) == 4
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 4
    assert all(r.verified for r in receiver.requests)
    assert {r.status for r in reminders(engine)} == {"sent"}


async def test_retries_after_errors_keep_the_same_webhook_id(
    tmp_path, engine, clock, receiver, http
):
    settings = settings_for(tmp_path, config_text(("hook", receiver.url)))
    service = ReminderEngine(settings, engine, http=http)
    await service.tick()
    receiver.script(500, 500, 500)
    add(engine)
    for _ in range(4):
        await service.tick()
        clock.shift(timedelta(hours=1))  # past any backoff of the first attempts
    got = receiver.wait_for(4)
    assert [r.status for r in got] == [500, 500, 500, 200]
    assert len({r.headers["webhook-id"] for r in got}) == 1
    assert [d.outcome for d in deliveries(engine)] == ["retry", "retry", "retry", "delivered"]
    assert [d.status_code for d in deliveries(engine)] == [500, 500, 500, 200]
    announced = next(r for r in reminders(engine) if r.kind == "announced")
    assert (announced.status, announced.attempts) == ("sent", 4)


async def test_retry_waits_for_backoff_and_honours_retry_after(tmp_path, engine, clock, http):
    with Receiver(secret=WHSEC) as receiver:
        receiver.script(Reply(429, {"Retry-After": "600"}))
        settings = settings_for(tmp_path, config_text(("hook", receiver.url)))
        service = ReminderEngine(settings, engine, http=http)
        await service.tick()
        add(engine)
        await service.tick()
        clock.shift(timedelta(seconds=599))
        await service.tick()
        assert len(receiver.requests) == 1  # asked to wait ten minutes: not yet
        clock.shift(timedelta(seconds=1))
        await service.tick()
        assert [r.status for r in receiver.wait_for(2)] == [429, 200]


async def test_a_dead_channel_does_not_stop_the_others(tmp_path, engine, clock, receiver, http):
    with refused_url() as down:
        settings = settings_for(
            tmp_path, config_text(("down", down), ("hook", receiver.url), max_attempts=3)
        )
        service = ReminderEngine(settings, engine, http=http)
        await service.tick()
        add(engine)
        for _ in range(5):
            await service.tick()
            clock.shift(timedelta(hours=7))  # past the longest backoff
    assert [r.json()["kind"] for r in receiver.requests] == ["announced"]
    dead = next(r for r in reminders(engine) if r.channel == "down" and r.kind == "announced")
    assert (dead.status, dead.attempts) == ("dead", 3)
    assert "已达最多尝试次数" in (dead.reason or "")
    assert "渠道 down，第 3 次尝试" in (dead.reason or "")
    assert down not in (dead.reason or "")  # no full URL in what is shown


async def test_postponing_replans_and_sends_changed(tmp_path, engine, clock, receiver, http):
    settings = settings_for(tmp_path, config_text(("hook", receiver.url)))
    service = ReminderEngine(settings, engine, http=http)
    await service.tick()
    with session_scope(engine) as session:
        ingest(
            session,
            [
                Notice(
                    title=f"《{RULE}》变更",
                    text="本次变更于2026年11月27日公示，2026年12月15日生效。",
                    published_at=local("2026-11-27 10:00"),
                )
            ],
            origin="test",
            tz=TZ,
        )
    await service.tick()
    clock.move_to(local("2026-12-01 10:00"))
    with session_scope(engine) as session:
        ingest(
            session,
            [
                Notice(
                    title=f"《{RULE}》生效时间调整",
                    text=f"《{RULE}》原定于2026年12月15日生效，现延期至2026年12月31日生效。",
                    published_at=local("2026-12-01 10:00"),
                )
            ],
            origin="test",
            tz=TZ,
        )
    await service.tick()
    kinds = [r.json()["kind"] for r in receiver.requests]
    assert kinds == ["announced", "changed"]
    changed = receiver.requests[-1].json()
    assert changed["changed"] == {"from": "2026-12-15", "to": "2026-12-31"}
    assert changed["change"]["revision"] == 1
    clock.move_to(local("2026-12-08 09:00"))  # the old 7-day reminder: cancelled
    await service.tick()
    assert len(receiver.requests) == 2
    clock.move_to(local("2026-12-24 09:00"))
    await service.tick()
    assert receiver.requests[-1].json()["days_left"] == 7
    cancelled = [r for r in reminders(engine) if r.status == "cancelled"]
    assert len(cancelled) == 3 and all("2026-12-31" in (r.reason or "") for r in cancelled)


async def test_planning_twice_creates_nothing_new(tmp_path, engine, clock, http):
    settings = settings_for(tmp_path, config_text(("hook", "http://127.0.0.1:9/hook")))
    service = ReminderEngine(settings, engine, http=http)
    service.plan(datetime.now(TZ))
    add(engine)
    first = service.plan(datetime.now(TZ))
    again = service.plan(datetime.now(TZ))
    assert (first.created, again.created, again.cancelled) == (4, 0, 0)
    assert len(reminders(engine)) == 4


async def test_after_downtime_only_the_latest_lead_goes_out(
    tmp_path, engine, clock, receiver, http
):
    settings = settings_for(tmp_path, config_text(("hook", receiver.url)))
    service = ReminderEngine(settings, engine, http=http)
    await service.tick()
    add(engine)
    await service.tick()  # announced
    clock.move_to(local("2026-12-14 10:00"))  # down from 11-27 until after the 1-day reminder
    await service.tick()
    bodies = [r.json() for r in receiver.requests]
    assert [(b["kind"], b["lead_days"]) for b in bodies] == [("announced", None), ("lead", 1)]
    by_days = {r.lead_days: r for r in reminders(engine) if r.kind == "lead"}
    assert by_days[7].status == "coalesced" and "后一条提醒代替" in (by_days[7].reason or "")
    assert (by_days[1].status, by_days[0].status) == ("sent", "pending")


async def test_reminders_for_a_change_already_in_effect_are_missed(
    tmp_path, engine, clock, receiver, http
):
    settings = settings_for(tmp_path, config_text(("hook", receiver.url)))
    service = ReminderEngine(settings, engine, http=http)
    service.plan(datetime.now(TZ))
    add(engine)
    service.plan(datetime.now(TZ))  # planned, then the service was down past 生效
    clock.move_to(local("2026-12-16 09:00"))
    await service.tick()
    assert receiver.requests == []
    statuses = {r.status for r in reminders(engine)}
    assert statuses == {"missed"}
    assert all("已于 2026-12-15 生效" in (r.reason or "") for r in reminders(engine))
