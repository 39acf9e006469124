"""Signing in on the page (alerts/web/signin.py): the form, the session cookie and its flags,
CSRF on every form, brute force slowed down, and sessions that end when the password does.

Over httpx's ASGI transport, with the clock moved by time-machine for the lock-out window.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import time_machine
from sqlalchemy import Engine

from alerts.config import Settings, parse_settings
from alerts.users import hash_password
from alerts.web.app import create_app
from alerts.web.signin import MAX_FAILURES

pytestmark = pytest.mark.anyio
PASSWORD = "运营-correct horse battery"
HASH = hash_password(PASSWORD)
SECRET = "session-secret-0123456789abcdefghijklmnop"
START = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


def config(*, base_url: str = "http://rw.test", password_hash: str = HASH) -> str:
    return (
        f'[service]\nbase_url = "{base_url}"\nsession_secret = "{SECRET}"\n\n'
        f'[[users]]\nname = "王芳"\nrole = "editor"\npassword_hash = "{password_hash}"\n'
    )


def settings_of(tmp_path: Path, text: str) -> Settings:
    return parse_settings(text, path=tmp_path / "config.toml", environ={})


async def client_for(settings: Settings, engine: Engine) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    return httpx.AsyncClient(transport=transport, base_url=settings.service.base_url)


@pytest.fixture
async def client(tmp_path: Path, engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_for(settings_of(tmp_path, config()), engine) as client:
        yield client


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF token in the form"
    return match[1]


async def sign_in(client: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    form = await client.get("/signin")
    data = {"name": "王芳", "password": password, "csrf": csrf_of(form.text)}
    return await client.post("/signin", data=data)


async def test_a_user_signs_in_and_the_page_says_who(client: httpx.AsyncClient):
    assert 'href="/signin"' in (await client.get("/")).text
    signed = await sign_in(client)
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith("rulewatch_session=") and "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower() and "secure" not in cookie.lower()
    page = (await client.get("/")).text
    assert "已登录：<b>王芳</b>（编辑）" in page and PASSWORD not in page and HASH not in page


async def test_over_https_the_cookie_is_secure(tmp_path: Path, engine: Engine):
    settings = settings_of(tmp_path, config(base_url="https://rw.example.com"))
    async with await client_for(settings, engine) as client:
        signed = await sign_in(client)
    assert signed.status_code == 303 and "secure" in signed.headers["set-cookie"].lower()


async def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(
    client: httpx.AsyncClient,
):
    wrong = await sign_in(client, password="not-it")
    form = await client.get("/signin")
    nobody = await client.post(
        "/signin", data={"name": "张三", "password": PASSWORD, "csrf": csrf_of(form.text)}
    )
    assert wrong.status_code == nobody.status_code == 401
    assert "用户名或密码不对" in wrong.text and "用户名或密码不对" in nobody.text
    assert "已登录" not in (await client.get("/")).text


@pytest.mark.parametrize("csrf", [None, "", "forged-token-0123456789"])
async def test_a_sign_in_without_the_forms_csrf_token_is_refused(
    client: httpx.AsyncClient, csrf: str | None
):
    await client.get("/signin")  # the session has a token; the post does not carry it
    data = {"name": "王芳", "password": PASSWORD}
    if csrf is not None:
        data["csrf"] = csrf
    refused = await client.post("/signin", data=data)
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert "已登录" not in (await client.get("/")).text


async def test_another_sessions_csrf_token_is_refused(tmp_path: Path, engine: Engine):
    settings = settings_of(tmp_path, config())
    async with (
        await client_for(settings, engine) as mine,
        await client_for(settings, engine) as theirs,
    ):
        foreign = csrf_of((await theirs.get("/signin")).text)
        await mine.get("/signin")
        refused = await mine.post(
            "/signin", data={"name": "王芳", "password": PASSWORD, "csrf": foreign}
        )
    assert refused.status_code == 403


async def test_after_five_failures_even_the_right_password_waits_fifteen_minutes(
    client: httpx.AsyncClient,
):
    with time_machine.travel(START, tick=False):
        for _ in range(MAX_FAILURES):
            assert (await sign_in(client, password="guess")).status_code == 401
        locked = await sign_in(client)
    assert locked.status_code == 429 and "15 分钟后再试" in locked.text
    assert 890 <= int(locked.headers["retry-after"]) <= 901
    with time_machine.travel(START + timedelta(minutes=14), tick=False):
        assert (await sign_in(client)).status_code == 429
    with time_machine.travel(START + timedelta(minutes=15, seconds=1), tick=False):
        assert (await sign_in(client)).status_code == 303


async def test_signing_out_needs_the_csrf_token_and_ends_the_session(client: httpx.AsyncClient):
    await sign_in(client)
    page = (await client.get("/")).text
    assert (await client.post("/signout", data={"csrf": "forged"})).status_code == 403
    assert "已登录" in (await client.get("/")).text
    out = await client.post("/signout", data={"csrf": csrf_of(page)})
    assert out.status_code == 303 and "已登录" not in (await client.get("/")).text


async def test_a_new_password_ends_the_sessions_opened_with_the_old(tmp_path: Path, engine: Engine):
    old = settings_of(tmp_path, config())
    async with await client_for(old, engine) as client:
        assert (await sign_in(client)).status_code == 303
        cookies = client.cookies
    async with await client_for(old, engine) as client:  # the cookie works as it was
        client.cookies = cookies
        assert "已登录" in (await client.get("/")).text
    new = settings_of(tmp_path, config(password_hash=hash_password("a-new-password-2026")))
    async with await client_for(new, engine) as client:
        client.cookies = cookies
        assert "已登录" not in (await client.get("/")).text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_signing_in_and_out_in_chromium(tmp_path: Path, engine: Engine):
    from browser import assert_chinese_renders, chromium_browser
    from server import running

    settings = settings_of(tmp_path, config(base_url="http://127.0.0.1"))
    with chromium_browser() as chromium, running(create_app(settings, engine)) as base_url:
        page = chromium.new_page(viewport={"width": 375, "height": 800})
        page.goto(f"{base_url}/")
        page.click("#signin")
        page.wait_for_url(f"{base_url}/signin")
        assert_chinese_renders(page)
        page.fill("#name", "王芳")
        page.fill("#password", "not-it")
        page.click("form.signin button[type=submit]")
        assert page.locator("#problem").inner_text() == "用户名或密码不对。"
        page.fill("#password", PASSWORD)
        page.click("form.signin button[type=submit]")
        page.wait_for_url(f"{base_url}/")
        assert page.locator("#who b").inner_text() == "王芳"
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.click("#who button[type=submit]")
        page.wait_for_url(f"{base_url}/")
        assert page.locator("#who").count() == 0 and page.locator("#signin").count() == 1


async def test_guesses_sent_at_once_are_counted_as_they_come(client: httpx.AsyncClient):
    import asyncio

    with time_machine.travel(START, tick=False):
        form = await client.get("/signin")
        data = {"name": "王芳", "password": "guess", "csrf": csrf_of(form.text)}
        answers = await asyncio.gather(*(client.post("/signin", data=data) for _ in range(20)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(401) == MAX_FAILURES and statuses.count(429) == 20 - MAX_FAILURES


async def test_a_stranger_guessing_a_name_does_not_lock_its_user_out(
    tmp_path: Path, engine: Engine
):
    app = create_app(settings_of(tmp_path, config()), engine)

    def client_at(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 4000))
        return httpx.AsyncClient(transport=transport, base_url="http://rw.test")

    with time_machine.travel(START, tick=False):
        async with client_at("203.0.113.9") as stranger, client_at("10.0.0.7") as user:
            for _ in range(MAX_FAILURES + 2):
                assert (await sign_in(stranger, password="guess")).status_code in (401, 429)
            assert (await sign_in(stranger)).status_code == 429  # locked out: the stranger
            assert (await sign_in(user)).status_code == 303  # the user, elsewhere, is not


async def test_signing_in_again_and_again_is_no_failure(client: httpx.AsyncClient):
    with time_machine.travel(START, tick=False):
        for _ in range(MAX_FAILURES + 3):
            assert (await sign_in(client)).status_code == 303


async def test_a_browser_is_told_in_a_page_why_a_form_was_refused(client: httpx.AsyncClient):
    await client.get("/signin")
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    refused = await client.post(
        "/signin", data={"name": "王芳", "password": PASSWORD}, headers=browser
    )
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
    assert 'id="error"' in refused.text and "请刷新页面后重试" in refused.text
    api = await client.post("/api/notices", json={"text": "x"}, headers=browser)
    assert api.headers["content-type"] == "application/json"  # the API answers JSON still
