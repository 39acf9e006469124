"""Marking a change handled (已处理) for a watch or a tag, from the API, the page and the CLI:
the watch's lead reminder is not sent to the receiver, announced ones still are, undo plans
the lead again, each mark is shown and logged; forms without a session, from a viewer, or
without the session's CSRF token store nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
import time_machine
from receiver import WHSEC, Receiver
from sqlalchemy import Engine
from sqlmodel import Session, select
from test_paste import csrf_of, signed_in_as
from typer.testing import CliRunner

from alerts.cli import app as cli
from alerts.config import Settings, parse_settings
from alerts.reminders.engine import ReminderEngine
from alerts.timeline.ingest import add_change
from alerts.users import hash_password
from alerts.web.app import create_app
from store.db import session_scope
from store.models import AuditEntry, HandledMark, Reminder, RuleChange

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
LEAD_DUE = datetime(2026, 12, 13, 1, 5, tzinfo=UTC)  # 7 days before 12-20, 09:05 in Shanghai
EDITOR = "editor-token-0123456789abcdef"
VIEWER = "viewer-token-0123456789abcdef"
PASSWORD = "运营-correct horse battery"


def settings_for(tmp_path: Path, hook: str, database_url: str, base_url: str = "http://rw.test"):
    hashed = hash_password(PASSWORD)
    text = (
        f'[service]\ndatabase = "{database_url}"\nbase_url = "{base_url}"\n\n'
        "[reminders]\nlead_days = [7]\n\n"
        f'[[users]]\nname = "王芳"\nrole = "editor"\ntoken = "{EDITOR}"\n'
        f'password_hash = "{hashed}"\n\n'
        f'[[users]]\nname = "li"\nrole = "viewer"\ntoken = "{VIEWER}"\n'
        f'password_hash = "{hashed}"\n\n'
        '[[watch]]\nname = "ship"\nplatforms = ["淘宝"]\ntags = ["物流"]\nchannels = ["ops"]\n\n'
        f'[[channels]]\nname = "ops"\nkind = "webhook"\nurl = "{hook}"\nsecret = "{WHSEC}"\n'
        "timeout = 2\n"
    )
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    return parse_settings(text, path=tmp_path / "config.toml", environ={})


async def send_due(settings: Settings, engine: Engine, at: datetime) -> None:
    with time_machine.travel(at, tick=False):
        async with httpx.AsyncClient() as http:
            await ReminderEngine(settings, engine, http=http).tick()


async def watched_change(settings: Settings, engine: Engine) -> str:
    """A change the watch "ship" covers, stored after its channel was known."""
    await send_due(settings, engine, NOW)
    with time_machine.travel(NOW, tick=False), session_scope(engine) as session:
        report = add_change(
            session,
            rule="商品发布规范",
            platform="淘宝",
            announced_on=date(2026, 12, 2),
            effective_on=date(2026, 12, 20),
            now=NOW,
            tz=settings.service.tz,
        )
    return report.changes[0].uid


def leads(engine: Engine) -> list[tuple[str, str | None]]:
    with Session(engine) as session:
        rows = session.exec(select(Reminder).where(Reminder.kind == "lead")).all()
    return [(r.status, r.reason) for r in rows]


def kinds_received(up: Receiver) -> list[str]:
    return [request.json()["kind"] for request in up.requests]


def marks(engine: Engine) -> list[tuple[str, str, str, str]]:
    with Session(engine) as session:
        rows = session.exec(select(HandledMark)).all()
    return [(m.scope_kind, m.scope, m.by, m.note) for m in rows]


def audit_actions(engine: Engine) -> list[tuple[str, str]]:
    with Session(engine) as session:
        return [(e.actor, e.action) for e in session.exec(select(AuditEntry)).all()]


async def test_handled_through_the_api_stops_the_lead_and_undo_sends_it_again(
    tmp_path: Path, engine: Engine, database_url: str
):
    with Receiver(secret=WHSEC) as up:
        settings = settings_for(tmp_path, up.url_for("/hook"), database_url)
        uid = await watched_change(settings, engine)
        await send_due(settings, engine, NOW)
        assert kinds_received(up) == ["announced"]
        transport = httpx.ASGITransport(app=create_app(settings, engine))
        editor = {"Authorization": f"Bearer {EDITOR}"}
        body = {"watch": "ship", "note": "已调整发货时效"}
        with time_machine.travel(NOW, tick=False):
            async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
                url = f"/api/changes/{uid}/handled"
                assert (await client.put(url, json=body)).status_code == 401
                viewer = {"Authorization": f"Bearer {VIEWER}"}
                assert (await client.put(url, json=body, headers=viewer)).status_code == 403
                missing = await client.put("/api/changes/nope/handled", json=body, headers=editor)
                assert missing.status_code == 404
                unknown = await client.put(url, json={"watch": "nope"}, headers=editor)
                (problem,) = unknown.json()["detail"]
                assert unknown.status_code == 422 and "'nope'" in problem["msg"]
                assert problem["loc"] == ["body", "watch"]
                both = await client.put(url, json={"watch": "ship", "tag": "物流"}, headers=editor)
                assert both.status_code == 422
                assert marks(engine) == []
                done = await client.put(url, json=body, headers=editor)
                assert done.status_code == 200
                (mark,) = done.json()["handled"]
                assert (mark["watch"], mark["tag"], mark["by"], mark["note"]) == (
                    "ship",
                    None,
                    "王芳",
                    "已调整发货时效",
                )
                detail = (await client.get(f"/api/changes/{uid}")).json()
                listed = (await client.get("/api/changes")).json()
                assert detail["handled"] == [mark] and listed[0]["handled"] == [mark]
        await send_due(settings, engine, NOW)
        assert leads(engine) == [("cancelled", "已标记为已处理")]
        await send_due(settings, engine, LEAD_DUE)
        assert kinds_received(up) == ["announced"]  # no lead went out

        with time_machine.travel(NOW, tick=False):
            async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
                none = await client.delete(f"{url}?tag=物流", headers=editor)
                assert none.status_code == 404
                undone = await client.delete(f"{url}?watch=ship", headers=editor)
                assert undone.status_code == 200 and undone.json()["handled"] == []
        await send_due(settings, engine, NOW)
        assert leads(engine) == [("pending", None)]
        await send_due(settings, engine, LEAD_DUE)
        assert kinds_received(up) == ["announced", "lead"]
    assert audit_actions(engine) == [("王芳", "change.handled"), ("王芳", "change.unhandled")]


async def test_the_handled_command_marks_for_a_tag_and_undoes(
    tmp_path: Path, engine: Engine, database_url: str
):
    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    uid = await watched_change(settings, engine)
    args = ["--config", str(tmp_path / "config.toml"), "handled", uid]
    unknown = CliRunner().invoke(cli, [*args, "--tag", "售后"])
    assert unknown.exit_code == 1 and "售后" in unknown.output and marks(engine) == []
    shown = CliRunner().invoke(cli, [*args, "--tag", "物流", "--note", "已通知仓库"])
    assert shown.exit_code == 0, shown.output
    assert f"{uid}: handled for tag 物流" in shown.output
    ((kind, scope, by, note),) = marks(engine)
    assert (kind, scope, note) == ("tag", "物流", "已通知仓库") and by.startswith("cli")
    undone = CliRunner().invoke(cli, [*args, "--tag", "物流", "--undo"])
    assert undone.exit_code == 0 and "mark removed" in undone.output and marks(engine) == []
    again = CliRunner().invoke(cli, [*args, "--tag", "物流", "--undo"])
    assert again.exit_code == 1 and "no mark for tag '物流'" in again.output
    assert [action for _, action in audit_actions(engine)] == [
        "change.handled",
        "change.unhandled",
    ]


@pytest.fixture
async def page_app(tmp_path: Path, engine: Engine, database_url: str):  # type: ignore[no-untyped-def]
    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    uid = await watched_change(settings, engine)
    return create_app(settings, engine), uid


@pytest.mark.parametrize("action", ["handled", "handled/undo"])
async def test_the_handled_forms_refuse_visitors_viewers_and_forged_tokens(
    page_app, engine: Engine, action: str
):
    app, uid = page_app
    if action == "handled/undo":  # something to undo
        async with signed_in_as(app, "王芳") as client:
            page = (await client.get(f"/changes/{uid}")).text
            data = {"scope": "watch:ship", "csrf": csrf_of(page)}
            assert (await client.post(f"/changes/{uid}/handled", data=data)).status_code == 303
    before = marks(engine)
    form = {"scope": "watch:ship", "note": "伪造"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as visitor:
        refused = await visitor.post(f"/changes/{uid}/{action}", data=form)
        assert refused.status_code in (401, 403) and marks(engine) == before
    async with signed_in_as(app, "li") as viewer:
        page = (await viewer.get(f"/changes/{uid}")).text
        assert 'class="mark"' not in page and 'class="undo"' not in page
        data = {**form, "csrf": csrf_of((await viewer.get("/")).text)}  # its sign-out form's
        refused = await viewer.post(f"/changes/{uid}/{action}", data=data)
        assert refused.status_code == 403 and marks(engine) == before
    async with signed_in_as(app, "王芳") as editor, signed_in_as(app, "li") as other:
        foreign = csrf_of((await other.get("/")).text)
        for token in ("", foreign):
            refused = await editor.post(f"/changes/{uid}/{action}", data={**form, "csrf": token})
            assert refused.status_code == 403 and marks(engine) == before
    assert all(action == "change.handled" for _, action in audit_actions(engine))


async def test_an_editor_marks_on_the_change_page_and_everyone_sees_it(page_app, engine: Engine):
    app, uid = page_app
    async with signed_in_as(app, "王芳") as client:
        page = (await client.get(f"/changes/{uid}")).text
        assert page.count('class="mark"') == 2  # the watch ship and its tag 物流
        data = {"scope": "tag:物流", "note": "仓库已改发货时效", "csrf": csrf_of(page)}
        unknown = await client.post(f"/changes/{uid}/handled", data={**data, "scope": "tag:售后"})
        assert unknown.status_code == 422 and "售后" in unknown.text and marks(engine) == []
        done = await client.post(f"/changes/{uid}/handled", data=data)
        assert done.status_code == 303 and done.headers["location"] == f"/changes/{uid}#handled"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as visitor:
        page = (await visitor.get(f"/changes/{uid}")).text
        line = page.split('data-scope="tag:物流"')[1].split("</li>")[0]
        assert "✓ 已处理" in line and "王芳" in line and "仓库已改发货时效" in line
        ship = page.split('data-scope="watch:ship"')[1].split("</li>")[0]
        assert "✓ 已处理" in ship and "经标签 物流" in ship  # the tag's mark speaks for it
        assert 'class="mark"' not in page
        timeline = (await visitor.get("/")).text
        assert "✓ 已处理" in timeline
    with Session(engine) as session:
        assert session.exec(select(RuleChange)).one().uid == uid


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_marking_handled_in_chromium_keeps_the_lead_from_the_receiver(
    tmp_path: Path, engine: Engine, database_url: str
):
    from browser import assert_chinese_renders, chromium_browser
    from server import running

    with Receiver(secret=WHSEC) as up:
        run_due = ["--config", str(tmp_path / "config.toml"), "run-due"]
        settings = settings_for(tmp_path, up.url_for("/hook"), database_url, "http://127.0.0.1")
        assert CliRunner().invoke(cli, run_due).exit_code == 0  # the channel is known
        today = datetime.now(UTC).date()
        with session_scope(engine) as session:
            report = add_change(
                session,
                rule="商品发布规范",
                platform="淘宝",
                announced_on=today,
                effective_on=date.fromordinal(today.toordinal() + 20),
                now=datetime.now(UTC),
                tz=settings.service.tz,
            )
        uid = report.changes[0].uid
        assert CliRunner().invoke(cli, run_due).exit_code == 0
        assert kinds_received(up) == ["announced"] and leads(engine) == [("pending", None)]
        with chromium_browser() as chromium, running(create_app(settings, engine)) as base_url:
            page = chromium.new_page(viewport={"width": 375, "height": 800})
            page.goto(f"{base_url}/signin")
            page.fill("#name", "王芳")
            page.fill("#password", PASSWORD)
            page.click("form.signin button[type=submit]")
            page.wait_for_url(f"{base_url}/")
            page.goto(f"{base_url}/changes/{uid}")
            line = page.locator('li[data-scope="watch:ship"]')
            line.locator("input[name=note]").fill("详情页已更新")
            line.locator("form.mark button").click()
            page.wait_for_url(f"{base_url}/changes/{uid}#handled")
            line = page.locator('li[data-scope="watch:ship"]')
            assert line.get_attribute("data-handled") == "yes"
            assert "✓ 已处理" in line.inner_text() and "详情页已更新" in line.inner_text()
            assert_chinese_renders(page)
            assert page.evaluate("document.documentElement.scrollWidth") <= 375
        lead_day = date.fromordinal(today.toordinal() + 13).isoformat()
        at_lead = ["--now", f"{lead_day}T09:05+08:00", "--send-ahead"]
        later = CliRunner().invoke(cli, [*run_due, *at_lead])
        assert later.exit_code == 0, later.output
        assert kinds_received(up) == ["announced"]
        assert leads(engine) == [("cancelled", "已标记为已处理")]


async def test_the_feed_shows_a_handled_change_with_a_tick_and_drops_it_on_undo(
    tmp_path: Path, engine: Engine, database_url: str
):
    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    uid = await watched_change(settings, engine)
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    editor = {"Authorization": f"Bearer {EDITOR}"}
    feeds = ["/calendar.ics", "/calendar.ics?watch=ship", "/calendar.ics?tag=物流"]
    async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:

        async def summaries() -> list[list[str]]:
            found = []
            for feed in feeds:
                body = (await client.get(feed)).text
                found.append([line for line in body.splitlines() if line.startswith("SUMMARY")])
            return found

        before = await summaries()
        assert before[0] == ["SUMMARY:【公示】淘宝商品发布规范", "SUMMARY:【生效】淘宝商品发布规范"]
        etag = (await client.get(feeds[1])).headers["etag"]
        put = await client.put(f"/api/changes/{uid}/handled", json={"tag": "物流"}, headers=editor)
        assert put.status_code == 200
        after = await summaries()
        assert after == [[line.replace(":", ":✓", 1) for line in lines] for lines in before]
        again = await client.get(feeds[1], headers={"If-None-Match": etag})
        assert again.status_code == 200 and again.headers["etag"] != etag
        await client.delete(f"/api/changes/{uid}/handled?tag=物流", headers=editor)
        assert await summaries() == before


async def test_a_watch_added_through_the_api_may_keep_its_leads_when_handled(
    tmp_path: Path, engine: Engine, database_url: str
):
    admin = "admin-token-0123456789abcdef"
    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    text = (tmp_path / "config.toml").read_text(encoding="utf-8")
    text = text.replace("[reminders]", f'[api]\ntoken = "{admin}"\n\n[reminders]')
    settings = parse_settings(text, path=tmp_path / "config.toml", environ={})
    uid = await watched_change(settings, engine)
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    watch = {"name": "keep", "platforms": ["淘宝"], "channels": ["ops"], "lead_days": [7]}
    async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
        headers = {"Authorization": f"Bearer {admin}"}
        added = await client.post(
            "/api/watches", json={**watch, "stop_when_handled": False}, headers=headers
        )
        assert added.status_code == 201 and added.json()["stop_when_handled"] is False
        for name in ("ship", "keep"):
            done = await client.put(
                f"/api/changes/{uid}/handled", json={"watch": name}, headers=headers
            )
            assert done.status_code == 200
    await send_due(settings, engine, NOW)
    assert leads(engine) == [("pending", None)]  # "keep" still wants its 7-day lead


async def test_a_nul_in_a_forms_note_or_scope_is_dropped_not_a_store_error(
    tmp_path: Path, engine: Engine, database_url: str
):
    with Receiver(secret=WHSEC) as up:
        settings = settings_for(tmp_path, up.url_for("/hook"), database_url)
        uid = await watched_change(settings, engine)
        with time_machine.travel(NOW, tick=False):
            async with signed_in_as(create_app(settings, engine), "王芳") as editor:
                token = csrf_of((await editor.get(f"/changes/{uid}")).text)
                marked = await editor.post(
                    f"/changes/{uid}/handled",
                    data={"scope": "watch:ship", "note": "已\x00改", "csrf": token},
                )
                undone = await editor.post(
                    f"/changes/{uid}/handled/undo", data={"scope": "watch:sh\x00ip", "csrf": token}
                )
    assert marked.status_code == 303 and undone.status_code == 303
    assert marks(engine) == []


async def test_a_watch_added_again_under_a_removed_ones_name_starts_unhandled(
    tmp_path: Path, engine: Engine, database_url: str
):
    from alerts.timeline.handled import ScopeKind, set_handled
    from alerts.watches import current_watches
    from store import watches as stored_watches

    with Receiver(secret=WHSEC) as up:
        settings = settings_for(tmp_path, up.url_for("/hook"), database_url)
        uid = await watched_change(settings, engine)
        definition = {"name": "team", "platforms": ["淘宝"], "channels": ["ops"]}
        with Session(engine) as session:
            stored_watches.add_watch(session, name="team", definition=definition, now=NOW)
            watches = current_watches(session, settings)
            set_handled(
                session, watches, uid=uid, kind=ScopeKind.watch, scope="team", by="王芳", now=NOW
            )
            session.commit()
            stored_watches.remove_watch(session, name="team")
            session.commit()
            stored_watches.add_watch(session, name="team", definition=definition, now=NOW)
            session.commit()
    assert [m for m in marks(engine) if "team" in m] == []


async def test_a_merge_keeps_the_marks_made_on_the_duplicate(
    tmp_path: Path, engine: Engine, database_url: str
):
    from alerts.timeline.corrections import correct
    from alerts.timeline.handled import ScopeKind, set_handled

    with Receiver(secret=WHSEC) as up:
        settings = settings_for(tmp_path, up.url_for("/hook"), database_url)
        keep = await watched_change(settings, engine)
        with time_machine.travel(NOW, tick=False), session_scope(engine) as session:
            drop = add_change(
                session, rule="商品发布规范", platform="淘宝", announced_on=date(2026, 12, 1),
                effective_on=date(2026, 12, 21), title="另一则公告", now=NOW,
                tz=settings.service.tz,
            ).changes[0].uid  # fmt: skip
        with time_machine.travel(NOW, tick=False), Session(engine) as session:
            set_handled(
                session, settings.watches, uid=drop, kind=ScopeKind.watch, scope="ship",
                by="王芳", now=NOW,
            )  # fmt: skip
            session.commit()
            correct(session, "王芳", "merge", keep, "同一变更", other=drop)
        with Session(engine) as session:
            (mark,) = session.exec(select(HandledMark)).all()
            kept = session.exec(select(RuleChange).where(RuleChange.uid == keep)).one()
    assert mark.change_id == kept.id and mark.scope == "ship"


async def test_a_null_watch_or_tag_is_a_422_naming_it(
    tmp_path: Path, engine: Engine, database_url: str
):
    with Receiver(secret=WHSEC) as up:
        settings = settings_for(tmp_path, up.url_for("/hook"), database_url)
        uid = await watched_change(settings, engine)
        transport = httpx.ASGITransport(app=create_app(settings, engine))
        async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
            editor = {"Authorization": f"Bearer {EDITOR}"}
            answer = await client.put(
                f"/api/changes/{uid}/handled", json={"tag": None}, headers=editor
            )
    assert answer.status_code == 422 and "watch or tag" in answer.text
