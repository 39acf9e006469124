"""The timeline page at /: rendered in-process through httpx.ASGITransport, then driven in
headless Chromium (Debian's package, through Playwright) against a real uvicorn on loopback.

The store holds the imported seed listing, one change entered by hand on another platform
and a reminder about it that failed for good; the clock stands at 2024-03-10 in Shanghai.

``RULEWATCH_UPDATE_SCREENSHOT=1 .venv/bin/pytest tests/test_page.py -k chromium`` also
copies the browser's screenshot to docs/timeline.png, the one the README shows.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest
import time_machine
from receiver import WHSEC, refused_url
from server import running
from sqlalchemy import Engine

from alerts.api import create_app
from alerts.config import Settings, parse_settings
from alerts.ingest import add_change, import_files
from alerts.page import Filters, feed_urls
from alerts.scheduler import ReminderEngine
from store.db import session_scope

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 3, 10, 12, 0, tzinfo=TZ)
SHIPPING = "1688商家发货行为管理规范"
# Every 生效 of the shipping rule in the seed listing, as shared/dev/seed_items.json reads it.
SHIPPING_DATES = [
    "2022-10-18",
    "2023-02-21",
    "2023-06-01",
    "2023-06-07",
    "2023-09-12",
    "2023-12-27",
    "2024-03-14",
    "2025-02-18",
]
TAOBAO = "淘宝网商品发布规范"
UPCOMING = ["2024-03-14", "2024-03-20", "2024-03-25", "2024-12-05", "2025-02-18"]
TOKEN = "feed-token-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[1]

CHROMIUM = Path("/usr/bin/chromium")
# As in the machine notes: without the background-networking flags Chromium keeps dialling
# Google's hosts, which this machine's closed network refuses.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def config_text(hook: str, *, token: str | None = None) -> str:
    calendar = f'[calendar]\ntoken = "{token}"\n\n' if token else ""
    return (
        '[service]\ntimezone = "Asia/Shanghai"\nbase_url = "https://rules.example.com"\n\n'
        f"[reminders]\nmax_attempts = 1\n\n{calendar}"
        f'[[watch]]\nname = "shipping"\nrules = ["{SHIPPING}"]\ntags = ["发货"]\n\n'
        '[[watch]]\nname = "taobao"\nplatforms = ["淘宝"]\ntags = ["淘宝", "商品"]\n'
        'channels = ["ops"]\n\n'
        f'[[channels]]\nname = "ops"\nkind = "webhook"\nurl = "{hook}"\n'
        f'secret = "{WHSEC}"\ntimeout = 2\n'
    )


def stock(engine: Engine, seed_listing: Path, tmp_path: Path, *, token: str | None = None):
    """The seed, a hand-entered 淘宝 change, and a dead reminder about it; the settings."""
    with refused_url() as down:
        settings = parse_settings(
            config_text(down, token=token), path=tmp_path / "config.toml", environ={}
        )
        with session_scope(engine) as session:
            import_files(session, [seed_listing], tz=TZ)
        asyncio.run(_fail_a_reminder(settings, engine))
    return settings


async def _fail_a_reminder(settings: Settings, engine: Engine) -> None:
    async with httpx.AsyncClient() as http:
        service = ReminderEngine(settings, engine, http=http)
        await service.tick()  # the channel exists before the change: it hears of it
        with session_scope(engine) as session:
            add_change(
                session,
                rule=TAOBAO,
                platform="淘宝",
                announced_on=date(2024, 3, 8),
                effective_on=date(2024, 3, 20),
                title="淘宝网修订《商品发布规范》",
                url="https://rulechannel.taobao.com/example",
                now=NOW,
                tz=TZ,
            )
        await service.tick()  # refused, and max_attempts = 1: dead at once


@pytest.fixture
def clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def settings(clock, engine: Engine, seed_listing: Path, tmp_path: Path) -> Settings:
    return stock(engine, seed_listing, tmp_path)


@pytest.fixture
def client(settings: Settings, engine: Engine) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    return httpx.AsyncClient(transport=transport, base_url="http://rulewatch.test")


def section(html: str, name: str) -> str:
    found = re.search(rf'<section id="{name}".*?</section>', html, re.DOTALL)
    assert found, f"no section {name!r} on the page"
    return found.group(0)


def rule_line(html: str, key: str) -> str:
    found = re.search(rf'<article class="rule" data-rule="{key}">.*?</article>', html, re.DOTALL)
    assert found, f"no history line for {key!r}"
    return found.group(0)


def effective(fragment: str) -> list[str]:
    return [d for d in re.findall(r'data-effective="([^"]*)"', fragment) if d]


# --- in-process ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_upcoming_changes_come_by_effective_date_with_days_left(client):
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    upcoming = section(response.text, "upcoming")
    assert effective(upcoming) == UPCOMING
    first = upcoming.split("</li>")[0]
    assert "<strong>4</strong><span>天后生效</span>" in first
    assert "公示 <b>2024-03-06</b>" in first and "公示期 8 天" in first
    assert '<html lang="zh-CN">' in response.text
    assert 'name="viewport"' in response.text


@pytest.mark.anyio
async def test_each_rule_has_its_history_as_a_line(client):
    html = (await client.get("/")).text
    line = rule_line(section(html, "history"), SHIPPING)
    assert effective(line) == SHIPPING_DATES
    assert "征求意见" in line and "2022-09-19" in line  # a consultation, dated by its notice
    assert "生效日期未公布" in line  # the notice that a rule was made, without dates
    # Today stands between the last change in force and the next one.
    before, after = line.split('class="today"')
    assert effective(before)[-1] == "2023-12-27" and effective(after)[0] == "2024-03-14"
    assert "9 次变更" not in line and "10 次变更" in line


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("params", "rules"),
    [
        pytest.param({"platform": "淘宝"}, {TAOBAO}, id="platform"),
        pytest.param({"rule": SHIPPING}, {SHIPPING}, id="rule"),
        pytest.param({"rule": "服务管理"}, {"1688商家服务管理规范"}, id="part-of-a-rule"),
        pytest.param({"tag": "发货"}, {SHIPPING}, id="tag"),
        pytest.param({"tag": "商品", "platform": "1688"}, set(), id="tag-and-platform"),
        pytest.param({"platform": "", "rule": "", "tag": ""}, None, id="empty-means-any"),
    ],
)
async def test_filters_narrow_the_page(client, params, rules):
    everything = re.findall(r'data-rule="([^"]+)"', (await client.get("/")).text)
    html = (await client.get("/", params=params)).text
    shown = set(re.findall(r'data-rule="([^"]+)"', section(html, "history")))
    assert shown == (set(everything) if rules is None else rules)
    for value in params.values():
        if value:
            assert f'<option value="{value}" selected>' in html or f"含“{value}”" in html


@pytest.mark.anyio
async def test_links_keep_the_filters(client):
    html = (await client.get("/", params={"platform": "1688", "tag": "发货"})).text
    rule_link = f'href="?platform=1688&amp;rule={quote(SHIPPING)}&amp;tag={quote("发货")}"'
    assert rule_link in html
    assert 'href="?">清除筛选' in html
    feed = f"https://rules.example.com/calendar.ics?platform=1688&amp;tag={quote('发货')}"
    assert feed in html


@pytest.mark.anyio
async def test_failed_deliveries_are_flagged(client):
    html = (await client.get("/")).text
    failed = section(html, "failed")
    assert "淘宝网商品发布规范" in failed and "<code>ops</code>" in failed
    assert "新公示提醒" in failed and "尝试 1 次" in failed
    card = next(c for c in section(html, "upcoming").split("</li>") if TAOBAO in c)
    assert 'class="card failed"' in card and "⚠ 提醒发送失败" in card
    # Narrowed to other changes, the list of failures narrows too.
    assert 'id="failed"' not in (await client.get("/", params={"rule": SHIPPING})).text


@pytest.mark.anyio
async def test_the_page_escapes_what_it_shows_and_links_only_web_sources(client, engine):
    with session_scope(engine) as session:
        add_change(
            session,
            rule="测试规则",
            platform="1688",
            effective_on=date(2024, 4, 1),
            title='<script>alert("x")</script>',
            url="javascript:alert(1)",
            now=NOW,
            tz=TZ,
        )
    response = await client.get("/", params={"tag": '"><b>'})
    html = (await client.get("/")).text
    assert "<script>" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "javascript:" not in html
    assert "<b>" not in response.text and "&#34;&gt;&lt;b&gt;" in response.text
    assert "script-src" not in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]


@pytest.mark.anyio
async def test_control_characters_in_filters_are_dropped(client):
    response = await client.get("/", params={"rule": "发货\x00行为\n"})
    assert response.status_code == 200
    assert set(re.findall(r'data-rule="([^"]+)"', response.text)) == {SHIPPING}


@pytest.fixture(params=[None, TOKEN], ids=["open", "token"])
def feed_settings(request, clock, engine, seed_listing, tmp_path) -> Settings:
    return stock(engine, seed_listing, tmp_path, token=request.param)


@pytest.mark.anyio
async def test_the_subscribe_button_leads_to_the_feed(feed_settings, engine):
    settings = feed_settings
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://rulewatch.test") as c:
        html = (await c.get("/", params={"tag": "发货"})).text
        webcal = re.search(r'id="subscribe-webcal" href="([^"]+)"', html)
        assert webcal, "no subscribe button"
        address = webcal.group(1).replace("&amp;", "&")
        assert address.startswith("webcal://rules.example.com/calendar")
        feed = await c.get(address.removeprefix("webcal://rules.example.com"))
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    assert feed.text.count("【生效】1688商家发货行为管理规范") == len(SHIPPING_DATES)


@pytest.mark.anyio
async def test_an_empty_store_says_how_to_fill_it(engine, tmp_path):
    settings = parse_settings("", path=tmp_path / "config.toml", environ={})
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://rulewatch.test") as c:
        html = (await c.get("/")).text
    assert "暂无即将生效的变更" in html and "rulewatch import --sample" in html
    assert 'id="failed"' not in html
    assert 'href="webcal://127.0.0.1:8080/calendar.ics"' in html  # base_url from listen


@pytest.mark.parametrize(
    ("token", "filters", "https"),
    [
        pytest.param(None, Filters(), "https://rules.example.com/calendar.ics", id="open"),
        pytest.param(
            TOKEN, Filters(), f"https://rules.example.com/calendar/{TOKEN}.ics", id="token"
        ),
        pytest.param(
            None,
            Filters(platform="1688", tag="发货"),
            "https://rules.example.com/calendar.ics?platform=1688&tag=%E5%8F%91%E8%B4%A7",
            id="filters",
        ),
    ],
)
def test_subscribe_links(tmp_path, token, filters, https):
    settings = parse_settings(
        config_text("https://hooks.example.com/h", token=token),
        path=tmp_path / "config.toml",
        environ={},
    )
    feed = feed_urls(settings, filters)
    assert feed.https == https
    assert feed.webcal == "webcal://" + https.removeprefix("https://")
    assert feed.google == (
        "https://calendar.google.com/calendar/render?cid=" + quote(feed.webcal, safe="")
    )


# --- in Chromium ---------------------------------------------------------------------------


@pytest.fixture
def chromium():
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the browser test needs Debian's "
            "package. Install it as root with `apt-get update && apt-get install -y chromium` "
            "(.ci/run does this); `playwright install` cannot download browsers here."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright gives each launch a new, empty user-data-dir of its own.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_page_in_chromium(settings, engine, chromium, tmp_path):
    # settings before chromium: stocking the store runs an event loop, Playwright holds one.
    with running(create_app(settings, engine)) as base_url:
        page = chromium.new_page(viewport={"width": 1024, "height": 1200})
        page.goto(f"{base_url}/")

        steps = page.locator(f'#history article[data-rule="{SHIPPING}"] li.step')
        dates = steps.evaluate_all("els => els.map(e => e.dataset.effective)")
        assert [d for d in dates if d] == SHIPPING_DATES
        cards = page.locator("#upcoming li.card")
        assert cards.evaluate_all("els => els.map(e => e.dataset.effective)") == UPCOMING
        assert page.locator("#failed li").count() == 1
        page.screenshot(path=tmp_path / "timeline.png")

        page.select_option('select[name="platform"]', "淘宝")
        page.click("form.filters button[type=submit]")
        page.wait_for_url(re.compile(r"platform="))
        assert cards.count() == 1 and TAOBAO in cards.first.inner_text()
        assert page.locator("#history article").count() == 1
        assert page.locator('select[name="platform"]').input_value() == "淘宝"

        page.click(f'#history a:text("{TAOBAO}")')  # a rule link keeps the platform
        page.wait_for_url(re.compile(r"rule="))
        assert "platform=%E6%B7%98%E5%AE%9D" in page.url

        page.set_viewport_size({"width": 375, "height": 800})
        page.goto(f"{base_url}/")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=tmp_path / "timeline-phone.png", full_page=True)

    assert (tmp_path / "timeline.png").stat().st_size > 10_000
    if os.environ.get("RULEWATCH_UPDATE_SCREENSHOT"):
        # The README shows it; a picture past 300 KB would weigh on every clone.
        assert (tmp_path / "timeline.png").stat().st_size < 300_000
        shutil.copyfile(tmp_path / "timeline.png", ROOT / "docs" / "timeline.png")
