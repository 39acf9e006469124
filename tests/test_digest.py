"""Digests end to end: what falls due within a window goes to the channel as one message.

The flood a digest is for: 60 watched changes stored at once reach a DingTalk-like robot as
one message within its rate limit, and every reminder is recorded as sent once. The clock is
moved with time-machine.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine
from mailserver import MailServer
from receiver import WHSEC, Receiver, Reply
from reminder_facts import facts
from sqlalchemy import Engine
from sqlmodel import Session, select
from vendors import DingTalkRobot
from watched import add_changes, local, settings_with

from alerts.config import parse_settings
from alerts.reminders.engine import ReminderEngine
from alerts.reminders.messages import render_digest
from store.models import Delivery, Reminder

pytestmark = pytest.mark.anyio


def deliveries(engine: Engine) -> list[Delivery]:
    with Session(engine) as session:
        return list(session.exec(select(Delivery)))


def sent(engine: Engine) -> int:
    with Session(engine) as session:
        return len(list(session.exec(select(Reminder).where(Reminder.status == "sent"))))


async def test_a_flood_of_changes_reaches_a_robot_as_one_digest(tmp_path, engine, http):
    with DingTalkRobot(per_minute=20) as robot:
        config = settings_with(
            tmp_path, f'kind = "dingtalk"\nurl = "{robot.url}"\ndigest = "15m"\n'
        )
        with time_machine.travel(local("2026-11-27 10:02"), tick=False) as clock:
            service = ReminderEngine(config, engine, http=http)
            await service.tick()
            add_changes(engine, 60, spread_days=3)
            await service.tick()
            clock.move_to(local("2026-11-27 10:14:59"))
            await service.tick()
            assert robot.accepted == []  # the window is not over
            clock.move_to(local("2026-11-27 10:15"))
            await service.tick()
            await service.tick()

    assert len(robot.accepted) == 1
    [text] = robot.texts()
    assert "【规则提醒汇总】60 条提醒" in text and "1688第59号管理规范" in text
    assert "https://rw.example.com/" in text
    assert not [a for _, a in robot.answers if a["errcode"]]
    assert sent(engine) == 60
    rows = deliveries(engine)
    assert len(rows) == 60 and len({row.message_id for row in rows}) == 1


async def test_a_digest_sent_again_keeps_its_id(tmp_path, engine, http):
    with Receiver(secret=WHSEC) as rx:
        rx.script(Reply(503))
        config = settings_with(
            tmp_path,
            f'kind = "webhook"\nurl = "{rx.url}"\nsecret = "{WHSEC}"\ndigest = "daily 09:00"\n',
        )
        with time_machine.travel(local("2026-11-27 08:00"), tick=False) as clock:
            service = ReminderEngine(config, engine, http=http)
            await service.tick()
            add_changes(engine, 3)
            clock.move_to(local("2026-11-27 09:00"))
            await service.tick()
            clock.shift(timedelta(minutes=5))  # past the backoff
            await service.tick()
        first, second = rx.wait_for(2)

    assert (first.status, second.status) == (503, 200)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    body = second.json()
    assert (body["kind"], body["count"], body["id"]) == ("digest", 3, second.headers["webhook-id"])
    assert [item["kind"] for item in body["items"]] == ["announced"] * 3
    assert sent(engine) == 3


def test_a_digest_lists_each_reminder_in_its_text_and_html():
    items = [
        facts(reminder_uid="r1", rule_name="1688商家发货行为管理规范"),
        facts(reminder_uid="r2", rule_name="淘宝网商品发布规范", kind="announced"),
    ]
    message = render_digest(items, today=date(2026, 12, 8), link="https://rw.example.com/")
    again = render_digest(items[::-1], today=date(2026, 12, 8), link="https://rw.example.com/")
    assert message.id == again.id  # the same reminders make the same digest
    assert message.subject == "【规则提醒汇总】2 条提醒"
    for part in (message.text, message.html):
        assert "1688商家发货行为管理规范" in part and "淘宝网商品发布规范" in part
    assert "距生效 7 天" in message.text


async def test_an_email_channel_gets_one_mail_listing_the_window(tmp_path, engine, http):
    with MailServer() as mail:
        text = (
            '[service]\nbase_url = "https://rw.example.com"\n\n'
            f'[smtp]\nhost = "127.0.0.1"\nport = {mail.port}\nsecurity = "none"\n'
            'from = "rulewatch <rw@example.com>"\n\n'
            '[[watch]]\nname = "all-1688"\nkeywords = ["管理规范"]\nchannels = ["ops"]\n\n'
            '[[channels]]\nname = "ops"\nkind = "email"\nto = ["ops@example.com"]\n'
            'digest = "daily 09:00"\n'
        )
        config = parse_settings(text, path=tmp_path / "config.toml", environ={})
        with time_machine.travel(local("2026-11-27 08:00"), tick=False) as clock:
            service = ReminderEngine(config, engine, http=http)
            await service.tick()
            add_changes(engine, 4)
            await service.tick()
            clock.move_to(local("2026-11-27 09:00"))
            await service.tick()
        [received] = mail.wait_for(1)
    message = received.message
    assert message["Subject"] == "【规则提醒汇总】4 条提醒"
    body = message.get_body(("plain",)).get_content()
    assert all(f"1688第{n}号管理规范" in body for n in range(4))
    assert sent(engine) == 4


async def test_a_digest_names_the_changes_taking_effect_within_a_week_not_handled_yet(
    tmp_path, engine, http
):
    from alerts.timeline.handled import ScopeKind, set_handled
    from store.db import session_scope
    from store.models import RuleChange

    with Receiver(secret=WHSEC) as rx:
        config = settings_with(
            tmp_path,
            f'kind = "webhook"\nurl = "{rx.url}"\nsecret = "{WHSEC}"\ndigest = "daily 09:00"\n',
        )
        with time_machine.travel(local("2026-12-08 08:00"), tick=False) as clock:
            service = ReminderEngine(config, engine, http=http)
            await service.tick()
            add_changes(engine, 3)  # all take effect on 12-15: 7 days on
            with session_scope(engine) as session:
                change = session.exec(select(RuleChange).order_by(RuleChange.id)).first()
                assert change is not None
                set_handled(
                    session,
                    config.watches,
                    uid=change.uid,
                    kind=ScopeKind.watch,
                    scope="all-1688",
                    by="王芳",
                    note="",
                    now=local("2026-12-08 08:30"),
                )
            clock.move_to(local("2026-12-08 09:00"))
            await service.tick()
        (received,) = rx.requests
    body = received.json()
    assert [u["rule"] for u in body["unhandled"]] == ["1688第1号管理规范", "1688第2号管理规范"]
    assert body["unhandled"][0]["days_left"] == 7 and body["unhandled"][0]["watches"] == [
        "all-1688"
    ]


def test_a_digests_text_and_html_list_what_is_not_handled():
    from alerts.reminders.messages import Unhandled

    items = [facts(reminder_uid="r1"), facts(reminder_uid="r2", kind="announced")]
    pending = Unhandled(
        rule_name="淘宝网商品发布规范",
        platform="淘宝",
        effective_on=date(2026, 12, 10),
        days_left=2,
        watches=("listing",),
        link="https://rw.example.com/changes/c9",
    )
    message = render_digest(
        items, today=date(2026, 12, 8), link="https://rw.example.com/", unhandled=[pending]
    )
    for part in (message.text, message.html):
        assert "7 天内生效、尚未标记处理的变更" in part and "淘宝网商品发布规范" in part
        assert "2026-12-10" in part and "listing" in part
    plain = render_digest(items, today=date(2026, 12, 8), link="https://rw.example.com/")
    assert "尚未标记处理" not in plain.text
