"""Correcting the timeline (alerts/timeline/corrections.py) through the API, the page and
the CLI: a corrected 生效 date re-plans the reminders and tells the channel once; merging,
splitting and deleting keep every source and leave the feed as they should; each
correction is in the change's history with who, when and why, and in the audit log."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import time_machine
from receiver import WHSEC, Receiver
from sqlalchemy import Engine
from sqlmodel import Session, select
from test_paste import csrf_of, signed_in_as
from test_retry import EDITOR, PASSWORD, VIEWER, send_due, settings_for
from typer.testing import CliRunner

from alerts.cli import app as cli
from alerts.config import Settings, parse_settings
from alerts.extract.model import Notice
from alerts.timeline.corrections import correct, edit_change
from alerts.timeline.ingest import add_change, ingest_notice
from alerts.users import hash_password
from alerts.web.app import create_app
from store import revisions
from store.db import session_scope
from store.models import AuditEntry, Reminder, RuleChange

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
EDITS = {"Authorization": f"Bearer {EDITOR}"}


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def a_change(
    engine: Engine,
    settings: Settings,
    *,
    effective: date = date(2026, 12, 20),
    announced: date = date(2026, 12, 2),
    at: datetime = NOW,
) -> str:
    with session_scope(engine) as session:
        report = add_change(
            session,
            rule="商品发布规范",
            platform="淘宝",
            announced_on=announced,
            effective_on=effective,
            now=at,
            tz=settings.service.tz,
        )
    return report.changes[0].uid


def api(settings: Settings, engine: Engine) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    return httpx.AsyncClient(transport=transport, base_url="http://rw.test")


def with_a_viewer_who_signs_in(tmp_path: Path, database_url: str) -> Settings:
    """test_retry's settings, where the viewer li also has a password."""
    settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    signs_in = f'name = "li"\nrole = "viewer"\npassword_hash = "{hash_password(PASSWORD)}"\n'
    text = (tmp_path / "config.toml").read_text(encoding="utf-8")
    text = text.replace('name = "li"\nrole = "viewer"\n', signs_in)
    return parse_settings(text, path=tmp_path / "config.toml", environ={})


def reminders(engine: Engine) -> list[tuple[str, int | None, str, str | None]]:
    with Session(engine) as session:
        rows = session.exec(select(Reminder).order_by(Reminder.id)).all()  # type: ignore[arg-type]
    return [(r.kind, r.lead_days, r.status, r.reason) for r in rows]


async def test_a_corrected_effective_date_replans_and_tells_the_channel_once(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    with Receiver(secret=WHSEC) as hook:
        settings = settings_for(tmp_path, hook.url_for("/hook"), database_url)
        await send_due(settings, engine)  # the channel exists before the change
        uid = a_change(engine, settings)
        await send_due(settings, engine)  # 新公示 goes out; leads wait for their days
        assert [r["type"] for r in (x.json() for x in hook.requests)] == ["rule_change.announced"]
        async with api(settings, engine) as client:
            fix = {"effective_on": "2027-01-05", "reason": "公告写的是 1 月 5 日"}
            answer = await client.patch(f"/api/changes/{uid}", json=fix, headers=EDITS)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            same = await client.patch(f"/api/changes/{uid}", json=fix, headers=EDITS)
            assert same.status_code == 200 and len(same.json()["history"]) == 1
        assert body["effective_on"] == "2027-01-05" and body["postponed_from"] == "2026-12-20"
        (revision,) = body["history"]
        assert revision["actor"] == "王芳" and revision["reason"] == "公告写的是 1 月 5 日"
        assert revision["detail"]["changed"] == {"effective_on": ["2026-12-20", "2027-01-05"]}
        await send_due(settings, engine)
        await send_due(settings, engine)
        kinds = [x.json()["type"] for x in hook.requests]
        assert kinds == ["rule_change.announced", "rule_change.changed"]
        changed = hook.requests[-1].json()
        assert "2026-12-20" in str(changed) and "2027-01-05" in str(changed)
        # The old date's leads are cancelled; the new date's are planned from now on.
        leads = [r for r in reminders(engine) if r[0] == "lead"]
        assert {r[2] for r in leads} == {"pending", "cancelled"}
        assert all("2027-01-05" in (r[3] or "") for r in leads if r[2] == "cancelled")
        clock.move_to(datetime(2027, 1, 4, 2, 0, tzinfo=UTC))  # 09:00 in Shanghai, 1 day before
        await send_due(settings, engine)
        assert hook.requests[-1].json()["type"] == "rule_change.lead"
        assert "2027-01-05" in str(hook.requests[-1].json())
    with Session(engine) as session:
        entries = session.exec(select(AuditEntry)).all()
    assert [(e.actor, e.action, e.target) for e in entries] == [("王芳", "change.edit", uid)]


async def test_an_older_notice_read_later_does_not_undo_a_correction(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    # Entered two days ago; corrected now; a notice of yesterday is read after that.
    uid = a_change(engine, settings, effective=date(2026, 12, 20), at=NOW - timedelta(days=2))
    async with api(settings, engine) as client:
        fix = {"effective_on": "2026-12-25", "reason": "平台客服确认"}
        assert (await client.patch(f"/api/changes/{uid}", json=fix, headers=EDITS)).is_success
    older = Notice(
        title="淘宝网关于修订《淘宝网商品发布规范》的公告",
        text="本次修订于2026年12月2日公示，将于2026年12月20日起生效。",
        published_at=NOW - timedelta(days=1),
    )
    with session_scope(engine) as session:
        ingest_notice(session, older, origin="test", tz=settings.service.tz)
    with Session(engine) as session:
        change = session.exec(select(RuleChange).where(RuleChange.uid == uid)).one()
    assert change.effective_on == date(2026, 12, 25)


async def test_corrections_that_cannot_be_are_refused_and_store_nothing(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    uid = a_change(engine, settings)
    viewer = {"Authorization": f"Bearer {VIEWER}"}
    async with api(settings, engine) as client:
        fix = {"effective_on": "2027-01-05", "reason": "x"}
        assert (await client.patch(f"/api/changes/{uid}", json=fix)).status_code == 401
        assert (
            await client.patch(f"/api/changes/{uid}", json=fix, headers=viewer)
        ).status_code == 403
        missing = await client.patch("/api/changes/nope", json=fix, headers=EDITS)
        assert missing.status_code == 404
        no_reason = await client.patch(
            f"/api/changes/{uid}", json={"effective_on": "2027-01-05"}, headers=EDITS
        )
        assert no_reason.status_code == 422 and "reason" in no_reason.text
        backwards = await client.patch(
            f"/api/changes/{uid}", json={"effective_on": "2026-11-01", "reason": "x"}, headers=EDITS
        )
        assert (
            backwards.status_code == 422 and "早于公示日期" in backwards.json()["detail"][0]["msg"]
        )
        unknown = await client.patch(
            f"/api/changes/{uid}", json={"uid": "x", "reason": "x"}, headers=EDITS
        )
        assert unknown.status_code == 422
        shown = (await client.get(f"/api/changes/{uid}")).json()
    assert shown["effective_on"] == "2026-12-20" and shown["history"] == []
    with Session(engine) as session:
        assert session.exec(select(AuditEntry)).all() == []


async def test_a_rule_or_platform_correction_moves_the_change_to_that_rule(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    uid = a_change(engine, settings)
    async with api(settings, engine) as client:
        fix = {
            "platform": "天猫",
            "rule": "天猫商品发布规范",
            "tentative": True,
            "reason": "是天猫的",
        }
        body = (await client.patch(f"/api/changes/{uid}", json=fix, headers=EDITS)).json()
        tmall = (await client.get("/api/changes", params={"platform": "天猫"})).json()
        taobao = (await client.get("/api/changes", params={"platform": "淘宝"})).json()
    assert (body["platform"], body["rule_key"], body["tentative"]) == (
        "天猫",
        "天猫商品发布规范",
        True,
    )
    assert body["revision"] == 0  # the date did not move: no message, the same event
    assert [c["uid"] for c in tmall] == [uid] and taobao == []


async def test_a_duplicate_merged_in_leaves_the_timeline_and_brings_its_sources(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    with Receiver(secret=WHSEC) as hook:
        settings = settings_for(tmp_path, hook.url_for("/hook"), database_url)
        await send_due(settings, engine)
        keep = a_change(engine, settings, effective=date(2026, 12, 20))
        with session_scope(engine) as session:
            report = add_change(
                session,
                rule="淘宝网商品发布规范修订",
                platform="淘宝",
                effective_on=date(2026, 12, 21),
                now=NOW,
                tz=settings.service.tz,
            )
        drop = report.changes[0].uid
        await send_due(settings, engine)
        assert len(hook.requests) == 2  # 新公示 of each
        async with api(settings, engine) as client:
            merged = await client.post(
                f"/api/changes/{keep}/merge",
                json={"other": drop, "reason": "同一次修订"},
                headers=EDITS,
            )
            assert merged.status_code == 200, merged.text
            again = await client.post(
                f"/api/changes/{keep}/merge", json={"other": drop, "reason": "x"}, headers=EDITS
            )
            assert again.status_code == 409
            itself = await client.post(
                f"/api/changes/{keep}/merge", json={"other": keep, "reason": "x"}, headers=EDITS
            )
            assert itself.status_code == 422
            listed = [c["uid"] for c in (await client.get("/api/changes")).json()]
            gone = (await client.get(f"/api/changes/{drop}")).json()
            feed = (await client.get("/calendar.ics", params={"all": "true"})).text
            page = (await client.get(f"/changes/{drop}")).text
        await send_due(settings, engine)
        assert len(hook.requests) == 2  # nothing said about the merge
    body = merged.json()
    assert len(body["notices"]) == 2 and body["history"][0]["detail"]["merged"] == drop
    assert listed == [keep] and gone["status"] == "merged"
    assert gone["history"][0]["detail"] == {"into": keep}
    assert drop not in feed and keep in feed
    assert "已合并到" in page and f'href="{keep}"' in page
    with Session(engine) as session:
        dropped = session.exec(select(RuleChange).where(RuleChange.uid == drop)).one()
        pending = session.exec(
            select(Reminder).where(Reminder.change_id == dropped.id, Reminder.status == "pending")
        ).all()
    assert pending == []


async def test_a_source_split_off_becomes_a_change_of_its_own(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    tz = settings.service.tz
    first = Notice(
        title="淘宝网关于修订《淘宝网商品发布规范》的公告",
        text="本次修订于2026年12月1日公示，自2026年12月20日起生效。",
        published_at=NOW - timedelta(days=2),
    )
    # Read as the same change (same 公示 day), though it is another revision of the rule.
    second = Notice(
        title="《淘宝网商品发布规范》再次调整",
        text="本次调整于2026年12月1日公示，自2027年3月1日起生效。",
        published_at=NOW - timedelta(days=3),
    )
    with session_scope(engine) as session:
        uid = ingest_notice(session, first, origin="a", tz=tz).changes[0].uid
        assert ingest_notice(session, second, origin="b", tz=tz).changes[0].uid == uid
    async with api(settings, engine) as client:
        detail = (await client.get(f"/api/changes/{uid}")).json()
        (wrong,) = [n for n in detail["notices"] if n["title"].endswith("再次调整")]
        split = await client.post(
            f"/api/changes/{uid}/split",
            json={"notice": wrong["id"], "reason": "这是另一次调整"},
            headers=EDITS,
        )
        assert split.status_code == 201, split.text
        new = split.json()["uid"]
        old = (await client.get(f"/api/changes/{uid}")).json()
        made = (await client.get(f"/api/changes/{new}")).json()
        only = await client.post(
            f"/api/changes/{uid}/split",
            json={"notice": old["notices"][0]["id"], "reason": "x"},
            headers=EDITS,
        )
    assert new != uid and [n["title"] for n in made["notices"]] == [second.title]
    assert made["effective_on"] == "2027-03-01"
    assert [n["title"] for n in old["notices"]] == [first.title]
    assert old["history"][0]["detail"]["to"] == new and made["history"][0]["detail"]["from"] == uid
    assert only.status_code == 409 and "唯一的来源" in only.json()["detail"]


async def test_a_deleted_change_leaves_quietly_and_keeps_its_page(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    with Receiver(secret=WHSEC) as hook:
        settings = settings_for(tmp_path, hook.url_for("/hook"), database_url)
        await send_due(settings, engine)
        uid = a_change(engine, settings)
        await send_due(settings, engine)
        async with api(settings, engine) as client:
            no_reason = await client.delete(f"/api/changes/{uid}", headers=EDITS)
            assert no_reason.status_code == 422
            deleted = await client.delete(
                f"/api/changes/{uid}", params={"reason": "把活动日期读成了生效日期"}, headers=EDITS
            )
            assert deleted.status_code == 200 and deleted.json()["status"] == "deleted"
            twice = await client.delete(
                f"/api/changes/{uid}", params={"reason": "x"}, headers=EDITS
            )
            assert twice.status_code == 200 and len(twice.json()["history"]) == 1
            assert (await client.get("/api/changes")).json() == []
            feed = (await client.get("/calendar.ics", params={"all": "true"})).text
            page = (await client.get(f"/changes/{uid}")).text
        await send_due(settings, engine)
        assert len(hook.requests) == 1  # the 新公示 only: deleting says nothing
    assert uid not in feed
    assert "已删除" in page and "把活动日期读成了生效日期" in page
    cancelled = [r for r in reminders(engine) if r[2] == "cancelled"]
    assert cancelled and all("已删除" in (r[3] or "") for r in cancelled)


async def test_an_editor_corrects_on_the_change_page_and_others_cannot(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    settings = with_a_viewer_who_signs_in(tmp_path, database_url)
    uid = a_change(engine, settings)
    app = create_app(settings, engine)
    form = {
        "effective_on": "2027-01-05",
        "announced_on": "2026-12-02",
        "rule": "淘宝商品发布规范",
        "platform": "淘宝",
        "reason": "公告写的是 1 月 5 日",
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://rw.test"
    ) as visitor:
        assert 'id="edit"' not in (await visitor.get(f"/changes/{uid}")).text
        token = csrf_of((await visitor.get("/signin")).text)
        assert (
            await visitor.post(f"/changes/{uid}/edit", data={**form, "csrf": token})
        ).status_code == 401
        assert (
            await visitor.post(f"/changes/{uid}/delete", data={"reason": "x"})
        ).status_code == 403
    async with signed_in_as(app, "li") as viewer:
        page = (await viewer.get(f"/changes/{uid}")).text
        assert 'id="edit"' not in page and 'id="delete"' not in page
        token = csrf_of((await viewer.get("/")).text)
        assert (
            await viewer.post(f"/changes/{uid}/edit", data={**form, "csrf": token})
        ).status_code == 403
    async with signed_in_as(app, "王芳") as editor:
        page = (await editor.get(f"/changes/{uid}")).text
        assert 'id="edit"' in page and 'id="merge"' in page and 'id="delete"' in page
        forged = await editor.post(f"/changes/{uid}/edit", data={**form, "csrf": "forged"})
        assert forged.status_code == 403
        no_csrf = await editor.post(f"/changes/{uid}/delete", data={"reason": "x"})
        assert no_csrf.status_code == 403
        unchanged = (await editor.get(f"/api/changes/{uid}")).json()
        assert unchanged["effective_on"] == "2026-12-20" and unchanged["status"] == "active"
        done = await editor.post(f"/changes/{uid}/edit", data={**form, "csrf": csrf_of(page)})
        assert done.status_code == 303 and done.headers["location"] == f"/changes/{uid}#history"
        after = (await editor.get(f"/changes/{uid}")).text
        bad = await editor.post(
            f"/changes/{uid}/edit",
            data={**form, "effective_on": "明年", "csrf": csrf_of(page)},
            headers={"Accept": "text/html"},
        )
    assert "生效日期 2026-12-20 → 2027-01-05" in after and "公告写的是 1 月 5 日" in after
    assert bad.status_code == 422 and "不是日期" in bad.text and "<html" in bad.text.lower()
    with Session(engine) as session:
        entries = session.exec(select(AuditEntry)).all()
    assert [(e.actor, e.action) for e in entries] == [("王芳", "change.edit")]


async def test_the_edit_merge_split_and_delete_commands(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    keep = a_change(engine, settings, effective=date(2026, 12, 20))
    drop = a_change(engine, settings, effective=date(2026, 12, 22), announced=date(2026, 12, 3))
    args = ["--config", str(tmp_path / "config.toml")]
    run = CliRunner().invoke
    edited = run(cli, [*args, "edit", keep, "--effective", "2026-12-24", "--reason", "更正"])
    assert edited.exit_code == 0, edited.output
    assert "2026-12-20 → 2026-12-24" in edited.output
    no_reason = run(cli, [*args, "edit", keep, "--effective", "2026-12-25"])
    assert no_reason.exit_code != 0
    merged = run(cli, [*args, "merge", keep, drop, "--reason", "重复"])
    assert merged.exit_code == 0, merged.output
    missing = run(cli, [*args, "delete", "nope", "--reason", "x"])
    assert missing.exit_code == 1 and "nope" in missing.output
    deleted = run(cli, [*args, "delete", keep, "--reason", "误读"])
    assert deleted.exit_code == 0, deleted.output
    with Session(engine) as session:
        statuses = {c.uid: c.status for c in session.exec(select(RuleChange)).all()}
        actions = [e.action for e in session.exec(select(AuditEntry)).all()]
    assert statuses == {keep: "deleted", drop: "merged"}
    assert actions == ["change.edit", "change.merge", "change.delete"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_correcting_a_date_in_chromium_tells_the_receiver(
    tmp_path: Path, engine: Engine, database_url: str
):
    import anyio
    from browser import assert_chinese_renders, chromium_browser
    from server import running

    with time_machine.travel(NOW, tick=True), Receiver(secret=WHSEC) as hook:
        settings = settings_for(tmp_path, hook.url_for("/hook"), database_url)
        anyio.run(send_due, settings, engine)
        uid = a_change(engine, settings)
        anyio.run(send_due, settings, engine)
        with chromium_browser() as chromium, running(create_app(settings, engine)) as base_url:
            page = chromium.new_page(viewport={"width": 375, "height": 800})
            page.goto(f"{base_url}/signin")
            page.fill("#name", "王芳")
            page.fill("#password", PASSWORD)
            page.click("form.signin button[type=submit]")
            page.wait_for_url(f"{base_url}/")
            page.goto(f"{base_url}/changes/{uid}")
            assert_chinese_renders(page)
            assert page.locator("#history li").count() == 0
            page.fill("#edit input[name=effective_on]", "2027-01-05")
            page.fill("#edit input[name=reason]", "公告写的是 1 月 5 日")
            page.click("#edit button[type=submit]")
            page.wait_for_url(f"{base_url}/changes/{uid}#history")
            shown = page.locator("#history li").inner_text()
            assert "生效日期 2026-12-20 → 2027-01-05" in shown and "王芳" in shown
            assert "2027-01-05" in page.locator("#when .eff time").inner_text()
            assert page.evaluate("document.documentElement.scrollWidth") <= 375
        anyio.run(send_due, settings, engine)
        anyio.run(send_due, settings, engine)
        told = [r.json() for r in hook.requests if r.json()["type"] == "rule_change.changed"]
    assert len(told) == 1 and "2027-01-05" in str(told[0]) and "2026-12-20" in str(told[0])


@pytest.mark.parametrize("form", ["edit", "merge", "split", "delete"])
async def test_every_correction_form_refuses_visitors_viewers_and_foreign_tokens(
    form: str, clock, tmp_path: Path, engine: Engine, database_url: str
):
    settings = with_a_viewer_who_signs_in(tmp_path, database_url)
    uid = a_change(engine, settings)
    other = a_change(engine, settings, effective=date(2026, 12, 28), announced=date(2026, 12, 3))
    data = {
        "edit": {"effective_on": "2027-01-05", "rule": "商品发布规范", "platform": "淘宝"},
        "merge": {"other": other},
        "split": {"notice": "1"},
        "delete": {},
    }[form] | {"reason": "试试"}
    app = create_app(settings, engine)
    path = f"/changes/{uid}/{form}"
    async with signed_in_as(app, "li") as viewer:
        token = csrf_of((await viewer.get("/")).text)
        assert (await viewer.post(path, data={**data, "csrf": token})).status_code == 403
    async with signed_in_as(app, "王芳") as elsewhere:
        foreign = csrf_of((await elsewhere.get(f"/changes/{uid}")).text)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as visitor:
        token = csrf_of((await visitor.get("/signin")).text)
        assert (await visitor.post(path, data={**data, "csrf": token})).status_code == 401
    async with signed_in_as(app, "王芳") as editor:
        assert (await editor.post(path, data=data)).status_code == 403
        assert (await editor.post(path, data={**data, "csrf": foreign})).status_code == 403
    with Session(engine) as session:
        changes = session.exec(select(RuleChange)).all()
        assert session.exec(select(AuditEntry)).all() == []
    assert {(c.status, c.effective_on) for c in changes} == {
        ("active", date(2026, 12, 20)),
        ("active", date(2026, 12, 28)),
    }


async def test_clearing_the_effective_date_cancels_its_leads_saying_so(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    await send_due(settings, engine)
    uid = a_change(engine, settings)
    await send_due(settings, engine)
    assert {r[2] for r in reminders(engine) if r[0] == "lead"} == {"pending"}
    async with api(settings, engine) as client:
        fix = {"effective_on": None, "reason": "公告说日期另行通知"}
        body = (await client.patch(f"/api/changes/{uid}", json=fix, headers=EDITS)).json()
    assert body["effective_on"] is None and body["days_left"] is None
    await send_due(settings, engine)
    leads = [r for r in reminders(engine) if r[0] == "lead"]
    assert leads and all(r[2] == "cancelled" and "未定" in (r[3] or "") for r in leads)


def notice_of(published: datetime, effective: str) -> Notice:
    return Notice(
        title="淘宝网关于修订《淘宝网商品发布规范》的公告",
        text=f"本次修订于2026年12月2日公示，将于{effective}起生效。",
        published_at=published,
    )


async def test_a_later_notice_about_a_merged_change_joins_the_one_it_went_into(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    keep = a_change(engine, settings, effective=date(2026, 12, 21), announced=date(2026, 12, 1))
    drop = a_change(engine, settings, effective=date(2026, 12, 20))
    async with api(settings, engine) as client:
        merge = {"other": drop, "reason": "同一次修订"}
        assert (
            await client.post(f"/api/changes/{keep}/merge", json=merge, headers=EDITS)
        ).is_success
    with session_scope(engine) as session:
        later = notice_of(NOW + timedelta(hours=1), "2026年12月20日")
        report = ingest_notice(session, later, origin="repost", tz=settings.service.tz)
    assert [(c.action, c.uid) for c in report.changes] == [("merged", keep)]
    async with api(settings, engine) as client:
        listed = (await client.get("/api/changes")).json()
    assert [c["uid"] for c in listed] == [keep]
    assert later.title in [s["title"] for s in listed[0]["sources"]]


async def test_a_split_after_a_rule_correction_never_reuses_a_uid(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    tz = settings.service.tz
    first = notice_of(NOW - timedelta(days=2), "2026年12月20日")
    second = notice_of(NOW - timedelta(days=3), "2027年3月1日")
    with session_scope(engine) as session:
        uid = ingest_notice(session, first, origin="a", tz=tz).changes[0].uid
        ingest_notice(session, second, origin="b", tz=tz)
    async with api(settings, engine) as client:
        moved = {"rule": "天猫商品发布规范", "platform": "天猫", "reason": "其实是天猫的"}
        assert (await client.patch(f"/api/changes/{uid}", json=moved, headers=EDITS)).is_success
        notices = (await client.get(f"/api/changes/{uid}")).json()["notices"]
        (read_first,) = [
            n for n in notices if n["title"] == first.title and "12月20日" in n["text"]
        ]
        split = await client.post(
            f"/api/changes/{uid}/split",
            json={"notice": read_first["id"], "reason": "淘宝的这篇是另一回事"},
            headers=EDITS,
        )
        old = (await client.get(f"/api/changes/{uid}")).json()
    assert split.status_code == 201 and split.json()["uid"] != uid
    assert old["rule_key"] == "天猫商品发布规范" and len(old["notices"]) == 1


async def test_a_dateless_change_cannot_swallow_a_dated_duplicate(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    dated = a_change(engine, settings)
    with session_scope(engine) as session:
        dateless = (
            ingest_notice(
                session,
                Notice(
                    title="《淘宝网商品发布规范》即将修订",
                    text="具体生效时间另行通知。",
                    published_at=NOW - timedelta(days=5),
                ),
                origin="x",
                tz=settings.service.tz,
            )
            .changes[0]
            .uid
        )
    async with api(settings, engine) as client:
        refused = await client.post(
            f"/api/changes/{dateless}/merge",
            json={"other": dated, "reason": "同一次"},
            headers=EDITS,
        )
        other_way = await client.post(
            f"/api/changes/{dated}/merge",
            json={"other": dateless, "reason": "同一次"},
            headers=EDITS,
        )
    assert refused.status_code == 409 and "并入有日期的那一项" in refused.json()["detail"]
    assert other_way.status_code == 200


async def test_a_date_cleared_then_set_again_tells_channels_from_the_last_date(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    with Receiver(secret=WHSEC) as hook:
        settings = settings_for(tmp_path, hook.url_for("/hook"), database_url)
        await send_due(settings, engine)
        uid = a_change(engine, settings, effective=date(2026, 12, 20))
        await send_due(settings, engine)
        async with api(settings, engine) as client:
            for value in (None, "2026-12-08"):
                fix = {"effective_on": value, "reason": "平台改了又改"}
                assert (
                    await client.patch(f"/api/changes/{uid}", json=fix, headers=EDITS)
                ).is_success
                await send_due(settings, engine)
        told = [r.json() for r in hook.requests if r.json()["type"] == "rule_change.changed"]
    assert len(told) == 1 and "2026-12-20" in str(told[0]) and "2026-12-08" in str(told[0])
    # The 7-day lead for 12-08 fell due on 12-01, before the date was known: never planned.
    assert ("lead", 7, "pending", None) not in reminders(engine)
    assert not [r for r in hook.requests if r.json()["type"] == "rule_change.lead"]


async def test_a_merged_or_deleted_change_cannot_be_withdrawn(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    uid = a_change(engine, settings)
    async with api(settings, engine) as client:
        gone = await client.delete(f"/api/changes/{uid}", params={"reason": "误读"}, headers=EDITS)
        assert gone.status_code == 200
        withdrawn = await client.post(f"/api/changes/{uid}/withdraw", headers=EDITS)
        shown = (await client.get(f"/api/changes/{uid}")).json()
    assert withdrawn.status_code == 409 and shown["status"] == "deleted"


async def test_a_spelling_of_the_same_platform_or_rule_is_no_correction(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    uid = a_change(engine, settings)
    async with api(settings, engine) as client:
        same = {"platform": "Taobao", "rule": " 商品发布规范 ", "reason": "写法不同"}
        answer = await client.patch(f"/api/changes/{uid}", json=same, headers=EDITS)
    assert answer.status_code == 200 and answer.json()["history"] == []
    assert answer.json()["platform"] == "淘宝"


async def test_an_edit_that_keeps_the_date_lets_newer_notices_move_it(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    uid = a_change(engine, settings, at=NOW - timedelta(days=2))
    async with api(settings, engine) as client:
        fix = {"tentative": True, "reason": "公告说的是预计"}
        assert (await client.patch(f"/api/changes/{uid}", json=fix, headers=EDITS)).is_success
    with session_scope(engine) as session:
        newer = notice_of(NOW - timedelta(days=1), "2027年1月10日")
        (report,) = ingest_notice(session, newer, origin="x", tz=settings.service.tz).changes
    assert (report.action, report.uid, report.effective_on) == ("moved", uid, date(2027, 1, 10))


async def test_a_stale_correction_form_cannot_undo_anothers_correction(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    settings = with_a_viewer_who_signs_in(tmp_path, database_url)
    uid = a_change(engine, settings)
    app = create_app(settings, engine)
    async with signed_in_as(app, "王芳") as editor:
        page = (await editor.get(f"/changes/{uid}")).text
        (seen,) = re.findall(r'name="seen" value="([^"]+)"', page)
        fix = {"effective_on": "2027-01-05", "reason": "另一位同事的更正"}
        assert (await editor.patch(f"/api/changes/{uid}", json=fix, headers=EDITS)).is_success
        form = {"effective_on": "2026-12-20", "announced_on": "2026-12-02", "tentative": "1",
                "rule": "商品发布规范", "platform": "淘宝", "seen": seen, "reason": "只想标预计",
                "csrf": csrf_of(page)}  # fmt: skip
        stale = await editor.post(f"/changes/{uid}/edit", data=form)
        shown = (await editor.get(f"/api/changes/{uid}")).json()
    assert stale.status_code == 409 and "刷新" in stale.text
    assert shown["effective_on"] == "2027-01-05" and not shown["tentative"]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_corrections_at_once_are_made_one_after_the_other(
    tmp_path: Path, engine: Engine, database_url: str
):
    import threading

    from sqlalchemy import text

    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    uid = a_change(engine, settings)
    first = Session(engine)
    edit = {"effective_on": date(2027, 1, 5)}
    edit_change(first, uid=uid, values=edit, actor="a", reason="一", now=NOW)  # holds the row
    done = []

    def second() -> None:
        with Session(engine) as session:
            later = {"effective_on": date(2027, 1, 10)}
            done.append(correct(session, "b", "edit", uid, "二", values=later))

    thread = threading.Thread(target=second)
    thread.start()
    with engine.connect() as watcher:  # until the second correction waits for the row
        waiting = text("SELECT count(*) FROM pg_locks WHERE NOT granted")
        while not watcher.execute(waiting).scalar() and thread.is_alive():
            watcher.rollback()
    first.commit()
    first.close()
    thread.join(timeout=30)
    assert done and done[0] is not None
    with Session(engine) as session:
        change = session.exec(select(RuleChange).where(RuleChange.uid == uid)).one()
        history = [r.detail for r in revisions.of_change(session, change_id=change.id or 0)]
    assert (change.effective_on, change.revision, change.postponed_from) == (
        date(2027, 1, 10),
        2,
        date(2027, 1, 5),
    )
    assert '"2027-01-05", "2027-01-10"' in history[1]


async def test_a_search_finds_a_change_by_its_corrected_rule_and_merged_sources(
    clock, tmp_path: Path, engine: Engine, database_url: str
):
    settings = settings_for(tmp_path, "http://127.0.0.1:9/hook", database_url)
    keep = a_change(engine, settings)
    with session_scope(engine) as session:
        drop = (
            ingest_notice(
                session,
                Notice(
                    title="《淘宝网商品发布规范》修订说明",
                    text="本次修订于2026年12月3日公示，涉及跨境商品的标注，自2026年12月22日起生效。",
                    published_at=NOW,
                ),
                origin="x",
                tz=settings.service.tz,
            )
            .changes[0]
            .uid
        )
    async with api(settings, engine) as client:
        fix = {"rule": "天猫商品发布规范", "platform": "天猫", "reason": "其实是天猫的"}
        assert (await client.patch(f"/api/changes/{keep}", json=fix, headers=EDITS)).is_success
        merge = {"other": drop, "reason": "同一次修订"}
        assert (
            await client.post(f"/api/changes/{keep}/merge", json=merge, headers=EDITS)
        ).is_success
        by_rule = (await client.get("/api/changes", params={"q": "天猫"})).json()
        by_source = (await client.get("/api/changes", params={"q": "跨境"})).json()
    assert [c["uid"] for c in by_rule] == [keep] and [c["uid"] for c in by_source] == [keep]
