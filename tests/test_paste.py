"""Pasting a notice on the page (alerts/web/forms.py): an editor sees what was read before
anything is stored, stores it with a second press, and the write is logged; a viewer, a
visitor and a form without its CSRF token store nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from alerts.config import parse_settings
from alerts.users import hash_password
from alerts.web.app import create_app
from store.models import AuditEntry, Notice, RuleChange

pytestmark = pytest.mark.anyio
PASSWORD = "运营-correct horse battery"
TEXT = (
    "淘宝网关于修订《淘宝网商品发布规范》的公告\n"
    "本次修订于2026年12月1日公示，自2026年12月20日起生效。"
)


@pytest.fixture
def app(tmp_path: Path, engine: Engine):  # type: ignore[no-untyped-def]
    hashed = hash_password(PASSWORD)
    text = (
        f'[[users]]\nname = "王芳"\nrole = "editor"\npassword_hash = "{hashed}"\n\n'
        f'[[users]]\nname = "li"\nrole = "viewer"\npassword_hash = "{hashed}"\n'
    )
    return create_app(parse_settings(text, path=tmp_path / "config.toml", environ={}), engine)


@asynccontextmanager
async def signed_in_as(app, name: str) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
        form = (await client.get("/signin")).text
        data = {"name": name, "password": PASSWORD, "csrf": csrf_of(form)}
        assert (await client.post("/signin", data=data)).status_code == 303
        yield client


def csrf_of(page: str) -> str:
    return re.findall(r'name="csrf" value="([^"]+)"', page)[0]


def stored(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        return len(session.exec(select(Notice)).all()), len(session.exec(select(RuleChange)).all())


async def test_an_editor_sees_what_is_read_then_stores_it(app, engine: Engine):
    async with signed_in_as(app, "王芳") as client:
        assert 'href="/notices/new"' in (await client.get("/")).text
        form = (await client.get("/notices/new")).text
        fields = {"title": "", "text": TEXT, "published": "2026-12-01T10:00", "url": ""}
        preview = await client.post("/notices/new", data={**fields, "csrf": csrf_of(form)})
        assert preview.status_code == 200 and stored(engine) == (0, 0)
        row = preview.text.split('id="preview"')[1]
        assert "淘宝网商品发布规范" in row and "2026-12-01" in row and "2026-12-20" in row
        assert 'id="store"' in preview.text and TEXT.split("\n")[1] in preview.text  # kept
        saved = await client.post(
            "/notices/new", data={**fields, "action": "store", "csrf": csrf_of(preview.text)}
        )
        assert saved.status_code == 303 and saved.headers["location"].startswith("/changes/")
        change = await client.get(saved.headers["location"])
        assert change.status_code == 200 and "2026-12-20" in change.text
    assert stored(engine) == (1, 1)
    with Session(engine) as session:
        (entry,) = session.exec(select(AuditEntry)).all()
    assert (entry.actor, entry.action) == ("王芳", "notice.add")


async def test_a_text_with_no_change_says_so_before_it_is_stored(app, engine: Engine):
    async with signed_in_as(app, "王芳") as client:
        form = (await client.get("/notices/new")).text
        data = {"text": "今天天气很好。", "csrf": csrf_of(form)}
        preview = await client.post("/notices/new", data=data)
    assert 'id="nothing-read"' in preview.text and stored(engine) == (0, 0)


async def test_a_bad_publish_time_is_said_and_nothing_is_stored(app, engine: Engine):
    async with signed_in_as(app, "王芳") as client:
        form = (await client.get("/notices/new")).text
        data = {"text": TEXT, "published": "昨天", "action": "store", "csrf": csrf_of(form)}
        refused = await client.post("/notices/new", data=data)
    assert refused.status_code == 422 and "不是日期时间" in refused.text
    assert stored(engine) == (0, 0)


async def test_a_viewer_a_visitor_and_a_forged_form_store_nothing(app, engine: Engine):
    data = {"text": TEXT, "action": "store"}
    async with signed_in_as(app, "li") as viewer:
        assert (await viewer.get("/notices/new")).status_code == 403
        token = csrf_of((await viewer.get("/")).text)
        refused = await viewer.post("/notices/new", data={**data, "csrf": token})
        assert refused.status_code == 403
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://rw.test"
    ) as visitor:
        assert (await visitor.get("/notices/new")).headers["location"] == "/signin"
        token = csrf_of((await visitor.get("/signin")).text)
        assert (await visitor.post("/notices/new", data={**data, "csrf": token})).status_code == 401
    async with signed_in_as(app, "王芳") as editor:
        forged = await editor.post("/notices/new", data={**data, "csrf": "forged"})
        assert forged.status_code == 403
    assert stored(engine) == (0, 0)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_pasting_a_notice_in_chromium(app, engine: Engine):
    from browser import assert_chinese_renders, chromium_browser
    from server import running

    with chromium_browser() as chromium, running(app) as base_url:
        page = chromium.new_page(viewport={"width": 375, "height": 800})
        page.goto(f"{base_url}/signin")
        page.fill("#name", "王芳")
        page.fill("#password", PASSWORD)
        page.click("form.signin button[type=submit]")
        page.wait_for_url(f"{base_url}/")
        page.click("#paste")
        page.wait_for_url(f"{base_url}/notices/new")
        assert_chinese_renders(page)
        page.fill("#title", "淘宝网关于修订《淘宝网商品发布规范》的公告")
        page.fill("#text", TEXT)
        page.click("button[value=preview]")
        row = page.locator("#preview tr[data-rule]")
        assert row.count() == 1 and "2026-12-20" in row.inner_text()
        assert stored(engine) == (0, 0)  # a preview stores nothing
        page.click("#store")
        page.wait_for_url(f"{base_url}/changes/**")
        assert page.locator("h1").inner_text() == "淘宝网商品发布规范"
        assert "2026-12-20" in page.locator("#when .eff time").inner_text()
    assert stored(engine) == (1, 1)
