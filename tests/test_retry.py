"""Retrying a reminder that failed for good, from the API, the page and the CLI: it goes back
to the outbox, the next tick sends it to the receiver (now up) once, and every retry is in
the audit log. A reminder that did not fail, or does not exist, is not retried.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
import time_machine
from receiver import WHSEC, Receiver, refused_url
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from alerts.cli import app as cli
from alerts.config import Settings, parse_settings
from alerts.reminders.engine import ReminderEngine
from alerts.timeline.ingest import add_change
from alerts.users import hash_password
from alerts.web.app import create_app
from store.db import session_scope
from store.models import AuditEntry, Reminder

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
EDITOR = "editor-token-0123456789abcdef"
VIEWER = "viewer-token-0123456789abcdef"
PASSWORD = "运营-correct horse battery"


def settings_for(tmp_path: Path, hook: str, database_url: str) -> Settings:
    text = (
        f'[service]\ndatabase = "{database_url}"\nbase_url = "http://rw.test"\n\n'
        "[reminders]\nmax_attempts = 1\n\n"
        f'[[users]]\nname = "王芳"\nrole = "editor"\ntoken = "{EDITOR}"\n'
        f'password_hash = "{hash_password(PASSWORD)}"\n\n'
        f'[[users]]\nname = "li"\nrole = "viewer"\ntoken = "{VIEWER}"\n\n'
        '[[watch]]\nname = "all"\nplatforms = ["淘宝"]\nchannels = ["ops"]\n\n'
        f'[[channels]]\nname = "ops"\nkind = "webhook"\nurl = "{hook}"\nsecret = "{WHSEC}"\n'
        "timeout = 2\n"
    )
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    return parse_settings(text, path=tmp_path / "config.toml", environ={})


async def dead_reminder(tmp_path: Path, engine: Engine, database_url: str) -> str:
    """A 新公示 reminder sent to a receiver that was down, with one attempt allowed: dead."""
    with refused_url() as down:
        settings = settings_for(tmp_path, down, database_url)
        async with httpx.AsyncClient() as http:
            service = ReminderEngine(settings, engine, http=http)
            await service.tick()  # the channel is known before the change
            with session_scope(engine) as session:
                add_change(
                    session,
                    rule="商品发布规范",
                    platform="淘宝",
                    announced_on=date(2026, 12, 2),
                    effective_on=date(2026, 12, 20),
                    now=NOW,
                    tz=settings.service.tz,
                )
            await service.tick()
    with Session(engine) as session:
        (reminder,) = session.exec(select(Reminder).where(Reminder.status == "dead")).all()
    return reminder.uid


def status_of(engine: Engine, uid: str) -> str:
    with Session(engine) as session:
        reminder = session.exec(select(Reminder).where(Reminder.uid == uid)).one()
    return reminder.status


async def send_due(settings: Settings, engine: Engine) -> None:
    async with httpx.AsyncClient() as http:
        await ReminderEngine(settings, engine, http=http).tick()


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        yield


async def test_a_dead_reminder_retried_through_the_api_is_sent_once(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    uid = await dead_reminder(tmp_path, engine, database_url)
    with Receiver(secret=WHSEC) as up:
        settings = settings_for(tmp_path, up.url_for("/hook"), database_url)
        transport = httpx.ASGITransport(app=create_app(settings, engine))
        async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
            viewer = {"Authorization": f"Bearer {VIEWER}"}
            editor = {"Authorization": f"Bearer {EDITOR}"}
            assert (
                await client.post(f"/api/reminders/{uid}/retry", headers=viewer)
            ).status_code == 403
            retried = await client.post(f"/api/reminders/{uid}/retry", headers=editor)
            assert retried.status_code == 200 and retried.json() == {"retried": [uid]}
            again = await client.post(f"/api/reminders/{uid}/retry", headers=editor)
            assert again.status_code == 409 and "pending" in again.json()["detail"]
            missing = await client.post("/api/reminders/nope/retry", headers=editor)
            assert missing.status_code == 404
        await send_due(settings, engine)
        await send_due(settings, engine)
        (received,) = up.requests
    assert received.headers["webhook-id"] == uid and status_of(engine, uid) == "sent"
    with Session(engine) as session:
        (entry,) = session.exec(select(AuditEntry)).all()
    assert (entry.actor, entry.action, entry.target) == ("王芳", "reminder.retry", uid)


async def test_every_dead_reminder_of_a_channel_is_retried_at_once(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    uid = await dead_reminder(tmp_path, engine, database_url)
    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    editor = {"Authorization": f"Bearer {EDITOR}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
        assert (await client.post("/api/channels/nope/retry", headers=editor)).status_code == 404
        retried = await client.post("/api/channels/ops/retry", headers=editor)
        assert retried.json() == {"retried": [uid]} and status_of(engine, uid) == "pending"
        none_left = await client.post("/api/channels/ops/retry", headers=editor)
        assert none_left.json() == {"retried": []}


async def test_an_editor_retries_from_the_page_with_the_forms_token(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    uid = await dead_reminder(tmp_path, engine, database_url)
    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
        assert f'id="retry-{uid}"' not in (await client.get("/")).text  # not signed in
        assert (await client.post(f"/reminders/{uid}/retry")).status_code == 403  # no token
        form = (await client.get("/signin")).text
        csrf = re.findall(r'name="csrf" value="([^"]+)"', form)[0]
        signed = {"name": "王芳", "password": PASSWORD, "csrf": csrf}
        assert (await client.post("/signin", data=signed)).status_code == 303
        page = (await client.get("/")).text
        assert f'id="retry-{uid}"' in page
        token = re.findall(r'name="csrf" value="([^"]+)"', page)[0]
        forged = await client.post(f"/reminders/{uid}/retry", data={"csrf": "forged"})
        assert forged.status_code == 403 and status_of(engine, uid) == "dead"
        done = await client.post(f"/reminders/{uid}/retry", data={"csrf": token})
    assert done.status_code == 303 and done.headers["location"] == "/#failed"
    assert status_of(engine, uid) == "pending"
    with Session(engine) as session:
        (entry,) = session.exec(select(AuditEntry)).all()
    assert (entry.actor, entry.action, entry.target) == ("王芳", "reminder.retry", uid)


async def test_a_viewer_signed_in_sees_no_retry_and_cannot_post_one(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    uid = await dead_reminder(tmp_path, engine, database_url)
    text = (
        (tmp_path / "config.toml")
        .read_text(encoding="utf-8")
        .replace(
            'name = "li"\nrole = "viewer"\n',
            f'name = "li"\nrole = "viewer"\npassword_hash = "{hash_password(PASSWORD)}"\n',
        )
    )
    settings = parse_settings(text, path=tmp_path / "config.toml", environ={})
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
        csrf = re.findall(r'name="csrf" value="([^"]+)"', (await client.get("/signin")).text)[0]
        signed = {"name": "li", "password": PASSWORD, "csrf": csrf}
        assert (await client.post("/signin", data=signed)).status_code == 303
        page = (await client.get("/")).text
        assert f'id="retry-{uid}"' not in page
        token = re.findall(r'name="csrf" value="([^"]+)"', page)[0]
        refused = await client.post(f"/reminders/{uid}/retry", data={"csrf": token})
    assert refused.status_code == 403 and status_of(engine, uid) == "dead"


async def test_the_retry_command_puts_a_dead_reminder_back(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    uid = await dead_reminder(tmp_path, engine, database_url)
    args = ["--config", str(tmp_path / "config.toml"), "retry"]
    shown = CliRunner().invoke(cli, [*args, uid])
    assert shown.exit_code == 0, shown.output
    assert f"{uid}: pending" in shown.output and status_of(engine, uid) == "pending"
    again = CliRunner().invoke(cli, [*args, uid])
    assert again.exit_code != 0 and "not dead" in again.output
    with Session(engine) as session:
        (entry,) = session.exec(select(AuditEntry)).all()
    assert entry.actor.startswith("cli") and entry.target == uid


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_retrying_a_dead_reminder_in_chromium(tmp_path: Path, engine: Engine, database_url: str):
    import anyio
    from browser import assert_chinese_renders, chromium_browser
    from server import running

    with time_machine.travel(NOW, tick=True):
        uid = anyio.run(dead_reminder, tmp_path, engine, database_url)
        with Receiver(secret=WHSEC) as up:
            settings = settings_for(tmp_path, up.url_for("/hook"), database_url)
            with chromium_browser() as chromium, running(create_app(settings, engine)) as base:
                page = chromium.new_page()
                page.goto(f"{base}/signin")
                page.fill("#name", "王芳")
                page.fill("#password", PASSWORD)
                page.click("form.signin button[type=submit]")
                page.wait_for_url(f"{base}/")
                assert_chinese_renders(page)
                page.click(f"#retry-{uid}")
                page.wait_for_url(f"{base}/#failed")
                assert page.locator(f"#retry-{uid}").count() == 0  # no longer failed
            assert status_of(engine, uid) == "pending"
            anyio.run(send_due, settings, engine)
            (received,) = up.requests
    assert received.headers["webhook-id"] == uid and status_of(engine, uid) == "sent"
