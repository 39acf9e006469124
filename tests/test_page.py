"""The timeline page at / and the page of one change at /changes/{uid}: rendered in-process
through httpx.ASGITransport, then driven in headless Chromium (Debian's package, through
Playwright) against a real uvicorn on loopback.

The store holds the imported seed listing, one change entered by hand on another platform
and a reminder about it that failed for good; the clock stands at 2024-03-10 in Shanghai.

``RULEWATCH_UPDATE_SCREENSHOT=1 .venv/bin/pytest tests/test_page.py -k chromium`` also
copies the browser's screenshot to docs/timeline.png, the one the README shows.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest
import time_machine
from browser import assert_chinese_renders, chromium_browser
from markupsafe import escape
from receiver import WHSEC, Receiver, refused_url
from server import running
from sqlalchemy import Engine

from alerts.config import Settings, parse_settings
from alerts.extract.model import Notice
from alerts.reminders.engine import ReminderEngine
from alerts.timeline.ingest import add_change, import_files, ingest
from alerts.web.app import create_app
from alerts.web.pages import Filters, feed_urls
from store import queries
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
TAOBAO = "淘宝商品发布规范"
UPCOMING = ["2024-03-14", "2024-03-20", "2024-03-25", "2024-12-05", "2025-02-18"]
TOKEN = "feed-token-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[1]


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
        asyncio.run(_remind_of_taobao(settings, engine))
    return settings


async def _remind_of_taobao(settings: Settings, engine: Engine) -> None:
    """Enter the 淘宝 change between two ticks: the second sends its 新公示 reminder."""
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
        await service.tick()  # to a refused port, with max_attempts = 1: dead at once


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
async def test_each_upcoming_card_leads_to_its_change_page(client):
    page = await client.get("/?platform=1688")
    links = re.findall(r'<a class="detail" href="([^"]+)">详情</a>', section(page.text, "upcoming"))
    assert links
    for link in links:
        detail = await client.get(urljoin(str(page.url), link))
        assert detail.status_code == 200, link
        assert link.rsplit("/", 1)[1] in detail.text


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
@pytest.mark.parametrize(
    ("params", "rules"),
    [
        # 发货 is in the shipping rule's name and in the text of a notice of the service rule.
        pytest.param({"q": "发货"}, {SHIPPING, "1688商家服务管理规范"}, id="two-characters"),
        pytest.param({"q": "發貨"}, {SHIPPING, "1688商家服务管理规范"}, id="traditional"),
        pytest.param({"q": "商品", "platform": "淘宝"}, {TAOBAO}, id="with-a-platform"),
        pytest.param({"q": "发货 服务"}, {"1688商家服务管理规范"}, id="every-word"),
    ],
)
async def test_a_search_narrows_the_page(client, params, rules):
    html = (await client.get("/", params=params)).text
    assert set(re.findall(r'data-rule="([^"]+)"', section(html, "history"))) == rules
    assert f'name="q" value="{params["q"]}"' in html
    assert f"搜索“<b>{params['q']}</b>”：找到" in html


@pytest.mark.anyio
async def test_links_keep_the_search(client):
    html = (await client.get("/", params={"platform": "1688", "q": "发货"})).text
    q = quote("发货")
    assert f'href="?platform=1688&amp;rule={quote(SHIPPING)}&amp;q={q}"' in html
    assert f"https://rules.example.com/calendar.ics?platform=1688&amp;q={q}" in html
    assert f'href="/export.csv?platform=1688&amp;q={q}"' in html
    assert 'href="?platform=1688">清除搜索' in html
    feed = await client.get("/calendar.ics", params={"all": "1", "q": "发货"})
    events = icalendar.Calendar.from_ical(feed.content).walk("VEVENT")
    assert events and all("发货" in str(e["DESCRIPTION"]) + str(e["SUMMARY"]) for e in events)
    everything = await client.get("/calendar.ics", params={"all": "1"})
    assert len(icalendar.Calendar.from_ical(everything.content).walk("VEVENT")) > len(events)


@pytest.mark.anyio
async def test_a_search_that_finds_nothing_says_so(client):
    html = (await client.get("/", params={"q": "保证金"})).text
    assert "没有找到含“<b>保证金</b>”的变更" in html
    assert "没有找到含“保证金”的变更。" in section(html, "upcoming")
    narrowed = (await client.get("/", params={"q": "保证金", "platform": "淘宝"})).text
    assert "在全部变更中搜索" in narrowed and 'href="?q=' in narrowed


@pytest.mark.anyio
async def test_too_long_a_search_is_refused_saying_why(client):
    response = await client.get("/", params={"q": "发" * 201}, headers={"Accept": "text/html"})
    assert response.status_code == 422
    assert "搜索（q）最多 200 个字符，这次是 201 个" in response.text
    api = await client.get("/api/changes", params={"q": "发" * 201})
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["query", "q"]


@pytest.mark.anyio
async def test_failed_deliveries_are_flagged(client):
    html = (await client.get("/")).text
    failed = section(html, "failed")
    assert TAOBAO in failed and "<code>ops</code>" in failed
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
    upcoming = section(html, "upcoming")
    # The first thing a new user reads says how to add notices, not only that there are none.
    assert "还没有规则变更" in upcoming and "rulewatch import FILE" in upcoming
    assert "POST /api/notices" in upcoming and "rulewatch import --sample" in upcoming
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


# --- the page of one change ----------------------------------------------------------------

PROMO = "淘宝营销活动规范"  # the watch "taobao" covers it, by its platform


def notify(engine: Engine, title: str, text: str, published: datetime, url: str | None = None):
    """Import one notice; the uid of the change it reports."""
    notice = Notice(title=title, text=text, published_at=published, url=url)
    with session_scope(engine) as session:
        (change,) = ingest(session, [notice], origin="t", tz=TZ).changes
    return change.uid


def two_sources(engine: Engine) -> str:
    """A change of PROMO, 公示 2024-03-01 and 生效 2024-03-15, that two notices report."""
    uid = notify(
        engine,
        f"《{PROMO}》变更",
        f"《{PROMO}》本次变更于2024年3月1日公示，2024年3月15日生效。",
        datetime(2024, 3, 1, 2, 30, tzinfo=UTC),
        "https://rules.example.com/a",
    )
    again = notify(
        engine,
        f"淘宝更新《{PROMO}》",
        f"淘宝消息：《{PROMO}》将于2024年3月15日生效，公示日期为2024年3月1日。",
        datetime(2024, 3, 2, 1, 0, tzinfo=UTC),
        "https://news.example.com/b?x=1&y=2",
    )
    assert again == uid
    return uid


def uid_of(engine: Engine, rule: str) -> str:
    with session_scope(engine) as session:
        (change,) = [c for c, r in queries.list_changes(session, rule=rule) if r.key == rule]
        return change.uid


def notices(fragment: str) -> list[str]:
    return re.findall(r'<article class="panel notice">.*?</article>', fragment, re.DOTALL)


@pytest.mark.anyio
async def test_a_change_page_shows_the_change_and_each_source(client, engine):
    uid = two_sources(engine)
    response = await client.get(f"/changes/{uid}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    html = response.text
    assert '<html lang="zh-CN">' in html and 'name="viewport"' in html
    assert f"<h1>{PROMO}</h1>" in html and "<p>淘宝 · 修订 · 今天是 2024-03-10" in html
    when = section(html, "when")
    assert f'data-uid="{uid}"' in when and effective(when) == ["2024-03-15"]
    assert "<strong>5</strong><span>天后生效</span>" in when
    assert "<time>2024-03-01</time>" in when and "<i>14 天</i>" in when
    assert "#淘宝" in when and "预计" not in when and "已改期" not in when
    sources = section(html, "sources")
    assert "2 篇" in sources
    first, second = notices(sources)  # by publish time, shown in the service time zone
    assert (
        f'<a href="https://rules.example.com/a" rel="noopener noreferrer">《{PROMO}》变更</a>'
        in first
    )
    assert "发布于 <time>2024-03-01 10:30</time>" in first and "2024年3月1日公示" in first
    assert 'href="https://news.example.com/b?x=1&amp;y=2"' in second
    assert "发布于 <time>2024-03-02 09:00</time>" in second and "淘宝消息" in second
    assert "还没有关于这项变更的提醒" in section(html, "reminders")


@pytest.mark.anyio
async def test_a_change_page_leads_back_to_its_rule_and_to_a_feed_holding_it(client, engine):
    uid = two_sources(engine)
    page_url = f"http://rulewatch.test/changes/{uid}"
    html = (await client.get(page_url)).text
    back = re.search(r'id="back" href="([^"]+)"', html)
    assert back and back.group(1) == f"../?rule={quote(PROMO)}"
    timeline = await client.get(urljoin(page_url, back.group(1).replace("&amp;", "&")))
    assert set(re.findall(r'data-rule="([^"]+)"', timeline.text)) == {PROMO}
    webcal = re.search(r'id="subscribe-webcal" href="([^"]+)"', html)
    assert webcal and webcal.group(1).startswith("webcal://rules.example.com/calendar.ics?")
    feed = await client.get(
        webcal.group(1).replace("&amp;", "&").removeprefix("webcal://rules.example.com")
    )
    assert feed.status_code == 200 and f"UID:{uid}-effective" in feed.text


@pytest.mark.anyio
async def test_a_moved_change_says_when_it_was_due(client, engine):
    uid = two_sources(engine)
    moved = notify(
        engine,
        f"《{PROMO}》生效时间调整",
        f"《{PROMO}》原定于2024年3月15日生效，现延期至2024年3月29日生效。",
        datetime(2024, 3, 5, 2, 0, tzinfo=UTC),
    )
    assert moved == uid
    html = (await client.get(f"/changes/{uid}")).text
    when = section(html, "when")
    assert effective(when) == ["2024-03-29"]
    assert "<strong>19</strong><span>天后生效</span>" in when and "<i>28 天</i>" in when
    assert "原定 2024-03-15，已改期" in when and "修订 1" in when
    sources = section(html, "sources")
    assert "3 篇" in sources
    # Without an address the notice's title is text.
    assert f"<h3>《{PROMO}》生效时间调整</h3>" in notices(sources)[-1]


@pytest.mark.anyio
async def test_a_withdrawn_change_keeps_its_page_marked_withdrawn(client, engine):
    uid = two_sources(engine)
    with session_scope(engine) as session:
        queries.withdraw_change(session, uid=uid, now=NOW)
    response = await client.get(f"/changes/{uid}")
    assert response.status_code == 200
    when = section(response.text, "when")
    assert 'class="card withdrawn"' in when and 'data-status="withdrawn"' in when
    assert "<strong>—</strong><span>已撤回</span>" in when
    assert '<span class="chip fail">已撤回</span>' in when and "修订 1" in when
    # It left the feed, so the page offers no subscription to it.
    assert 'id="subscribe-webcal"' not in response.text
    assert "这项变更已撤回，不在日历中" in response.text
    assert uid not in (await client.get("/")).text


@pytest.mark.anyio
async def test_reminders_show_every_attempt_and_the_dead_one(client, engine):
    uid = uid_of(engine, TAOBAO)
    html = (await client.get(f"/changes/{uid}")).text
    detail = (await client.get(f"/api/changes/{uid}")).json()
    reminders = section(html, "reminders")
    # The reminders and attempts of GET /api/changes/{uid}, in its order.
    shown = re.findall(r'id="reminder-(\w+)" data-status="(\w+)"', reminders)
    assert shown == [(r["uid"], r["status"]) for r in detail["reminders"]]
    assert reminders.count("<li data-outcome=") == sum(
        len(r["deliveries"]) for r in detail["reminders"]
    )
    assert len(shown) == 4 and [s for _, s in shown].count("dead") == 1
    assert f"{len(shown)} 条，1 条发送失败" in reminders
    (dead,) = [r for r in detail["reminders"] if r["status"] == "dead"]
    item = reminders.split(f'id="reminder-{dead["uid"]}"')[1].split('<li class="panel')[0]
    assert "<b>新公示提醒</b> → 渠道 <code>ops</code>" in item
    assert '<span class="chip fail">发送失败</span>' in item
    assert "应于 2024-03-10 12:00 发送 · 尝试 1 次" in item
    assert str(escape(dead["reason"])) in item and "无法连接 http://127.0.0.1:" in item
    (attempt,) = dead["deliveries"]
    assert (
        f'<li data-outcome="{attempt["outcome"]}">第 1 次 · <time>2024-03-10 12:00:00</time>'
        in item
    )
    assert str(escape(attempt["error"])) in item
    assert '<span class="chip">待发送</span>' in reminders
    assert "提前 7 天提醒" in reminders and "应于 2024-03-13 09:00 发送" in reminders
    when = section(html, "when")
    assert 'class="card failed"' in when and 'href="#reminders">⚠ 提醒发送失败' in when


# What may stay Latin in a Chinese sentence: a URL, the library's own words about an error
# (in brackets after its exception's name), an HTTP status with its standard phrase.
_TECHNICAL = re.compile(
    r"\w+://[^\s（）]+"
    r"|（[A-Z][A-Za-z]*(?:Error|Exception|Timeout)\b[^）]*）"
    r"|HTTP \d{3}(?: [A-Z][a-z]+)*"
)


def english_words(fragment: str, *names: str) -> set[str]:
    """The Latin words a reader meets in ``fragment`` besides technical terms, code and
    the ``names`` it shows (of channels, say)."""
    text = re.sub(r"<code>.*?</code>|<[^>]+>", " ", fragment)
    return set(re.findall(r"[A-Za-z]{2,}", _TECHNICAL.sub(" ", html.unescape(text)))) - {
        "ms",
        *names,
    }


@pytest.mark.anyio
async def test_what_the_pages_say_of_a_failure_is_chinese(client, engine):
    uid = uid_of(engine, TAOBAO)
    failed = section((await client.get("/")).text, "failed")
    change = (await client.get(f"/changes/{uid}")).text
    assert "已达最多尝试次数，不再重试：无法连接 http://127.0.0.1:" in failed
    assert "（渠道 ops，第 1 次尝试）" in failed
    assert english_words(failed, "ops") == set()
    assert english_words(section(change, "reminders"), "ops") == set()
    # A hand-entered change says where it came from in words, not as a code.
    assert "来自 手动录入" in section(change, "sources") and "manual" not in change


@pytest.mark.anyio
async def test_a_change_nobody_is_reminded_of_says_why(client, engine):
    with session_scope(engine) as session:
        uid = next(c.uid for c, r in queries.list_changes(session, rule=SHIPPING))
    reminders = section((await client.get(f"/changes/{uid}")).text, "reminders")
    assert "还没有关于这项变更的提醒" in reminders and "[[watch]]" in reminders
    assert english_words(reminders) == set()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "uid",
    [
        pytest.param("0" * 32, id="unknown"),
        pytest.param("%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", id="markup"),
        pytest.param("a%00b", id="nul"),  # PostgreSQL refuses NUL: no query may carry it
        pytest.param("x" * 300, id="too-long"),
    ],
)
async def test_an_unknown_change_is_a_friendly_404(client, uid):
    response = await client.get(f"/changes/{uid}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "<h1>找不到这项变更</h1>" in response.text
    assert '<a href="../">回到时间线</a>' in response.text
    assert "<img" not in response.text


@pytest.mark.anyio
async def test_the_change_page_escapes_what_it_shows_and_links_only_web_sources(client, engine):
    with session_scope(engine) as session:
        report = add_change(
            session,
            rule="测试<b>规则</b>",
            platform="1688",
            effective_on=date(2024, 4, 1),
            title='<script>alert("x")</script>',
            url="javascript:alert(1)",
            now=NOW,
            tz=TZ,
        )
    html = (await client.get(f"/changes/{report.changes[0].uid}")).text
    assert "<script>" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "<b>规则" not in html and "&lt;b&gt;规则" in html
    assert not re.search(r"href=\"\s*javascript:", html, re.IGNORECASE)
    (notice,) = notices(section(html, "sources"))
    assert "<h3>&lt;script&gt;" in notice  # the title, not a link
    missing = await client.get("/changes/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    assert "“&lt;img src=x onerror=alert(1)&gt;”" in missing.text


@pytest.mark.anyio
async def test_the_change_page_is_outside_the_api_schema(client):
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/api/changes/{uid}" in paths
    assert not [
        path
        for path in paths
        if not path.startswith(("/api/", "/calendar", "/export", "/healthz", "/metrics"))
    ]


@pytest.mark.anyio
async def test_every_link_of_the_feed_opens_a_change_page(client):
    feed = await client.get("/calendar.ics", params={"all": "1"})
    assert feed.status_code == 200
    links: set[str] = set()
    for event in icalendar.Calendar.from_ical(feed.content).walk("VEVENT"):
        links.add(str(event["URL"]))
        links.update(re.findall(r"https://rules\.example\.com/changes/\w+", event["DESCRIPTION"]))
    assert len(links) > 10
    for link in sorted(links):
        uid = link.removeprefix("https://rules.example.com/changes/")
        response = await client.get(f"/changes/{uid}")
        assert response.status_code == 200, link
        assert f'data-uid="{uid}"' in response.text


@pytest.mark.anyio
async def test_a_webhook_links_to_the_change_page(clock, engine, tmp_path):
    with Receiver(secret=WHSEC) as rx:
        settings = parse_settings(config_text(rx.url), path=tmp_path / "config.toml", environ={})
        await _remind_of_taobao(settings, engine)
        (received,) = rx.wait_for(1)
    link = received.json()["link"]
    assert link.startswith("https://rules.example.com/changes/")
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://rulewatch.test") as c:
        response = await c.get(link.removeprefix("https://rules.example.com"))
    assert response.status_code == 200
    assert f"<h1>{TAOBAO}</h1>" in response.text
    reminders = section(response.text, "reminders")
    assert '<span class="chip ok">已发送</span>' in reminders
    assert "送达 · HTTP 200" in reminders and "于 2024-03-10 12:00 送达" in reminders


# --- in Chromium ---------------------------------------------------------------------------


@pytest.fixture
def chromium() -> Iterator[Any]:
    with chromium_browser() as browser:
        yield browser


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
        assert_chinese_renders(page)
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


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_searching_two_characters_in_chromium(settings, engine, chromium):
    with running(create_app(settings, engine)) as base_url:
        page = chromium.new_page(viewport={"width": 1024, "height": 1200})
        page.goto(f"{base_url}/")
        rules = page.locator("#history article")
        assert rules.count() == 7

        page.fill('input[name="q"]', "发货")
        page.click("form.filters button[type=submit]")
        page.wait_for_url(re.compile(r"q="))
        shown = rules.evaluate_all("els => els.map(e => e.dataset.rule)")
        assert sorted(shown) == sorted([SHIPPING, "1688商家服务管理规范"])
        assert "找到" in page.locator("#found").inner_text()
        assert page.locator('input[name="q"]').input_value() == "发货"

        page.select_option('select[name="platform"]', "淘宝")  # the search stays
        page.click("form.filters button[type=submit]")
        page.wait_for_url(re.compile(r"platform="))
        assert rules.count() == 0
        assert "没有找到含“发货”的变更" in page.locator("#found").inner_text()

        page.fill('input[name="q"]', "商品")
        page.click("form.filters button[type=submit]")
        page.wait_for_url(re.compile(r"q=%E5%95%86"))
        assert rules.evaluate_all("els => els.map(e => e.dataset.rule)") == [TAOBAO]
        page.click("#found a")  # 清除搜索 keeps the platform
        page.wait_for_url(re.compile(r"platform=[^&]*$"))
        assert page.locator('input[name="q"]').input_value() == ""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_change_page_in_chromium(settings, engine, chromium):
    uid = uid_of(engine, TAOBAO)
    with running(create_app(settings, engine)) as base_url:
        page = chromium.new_page(viewport={"width": 375, "height": 800})
        page.goto(f"{base_url}/changes/{uid}")
        assert_chinese_renders(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert page.locator("#reminders li.dead ol.attempts li").count() == 1
        page.click("#back")  # up to the timeline, narrowed to the rule
        page.wait_for_url(re.compile(r"/\?rule="))
        assert page.locator("#history article").count() == 1
        assert TAOBAO in page.locator("#history article").inner_text()

        page.set_viewport_size({"width": 1024, "height": 1200})
        page.goto(f"{base_url}/changes/{uid}")
        # Wide, the reminders stand beside the change and its sources.
        about = page.locator("main > .about").bounding_box()
        reminders = page.locator("#reminders").bounding_box()
        assert about and reminders and reminders["x"] > about["x"] + about["width"]

        page.goto(f"{base_url}/changes/{'0' * 32}")
        assert page.locator("h1").inner_text() == "找不到这项变更"
        page.click("#missing a")
        page.wait_for_url(f"{base_url}/")


@pytest.mark.anyio
async def test_what_took_effect_lately_shows_newest_first(client):
    recent = section((await client.get("/")).text, "recent")
    # NOW is 2024-03-10: the last 90 days reach back to 2023-12-11.
    shown = effective(recent)
    assert shown == sorted(shown, reverse=True)
    assert all("2023-12-11" <= day < "2024-03-10" for day in shown)
    assert shown, "the stocked store has changes that took effect in the last 90 days"
    assert "天前生效" in recent


@pytest.mark.anyio
async def test_a_store_whose_changes_all_took_effect_says_so(engine, tmp_path, seed_listing):
    with session_scope(engine) as session:
        import_files(session, [seed_listing], tz=TZ)
    settings = parse_settings("", path=tmp_path / "config.toml", environ={})
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    with time_machine.travel(datetime(2026, 12, 2, 12, tzinfo=TZ), tick=False):
        async with httpx.AsyncClient(transport=transport, base_url="http://rulewatch.test") as c:
            html = (await c.get("/")).text
    upcoming = section(html, "upcoming")
    assert "都已生效" in upcoming and "rulewatch import FILE" in upcoming


def test_what_a_new_user_sees_in_chromium(tmp_path, chromium):
    """A fresh `make run`: the sample only, today. The picture is docs/first-run.png."""
    from alerts.timeline.ingest import sample_path
    from store.db import connect, upgrade

    engine = connect(f"sqlite:///{tmp_path / 'fresh.db'}")
    upgrade(engine)
    with session_scope(engine) as session:
        import_files(session, [sample_path()], tz=TZ)
    settings = parse_settings("", path=tmp_path / "config.toml", environ={})
    with running(create_app(settings, engine)) as base_url:
        page = chromium.new_page(viewport={"width": 1024, "height": 900})
        page.goto(f"{base_url}/")
        assert_chinese_renders(page)
        first = page.locator("#upcoming").inner_text()
        # The sample lies in the past: the first thing read says so and how to add notices.
        assert "都已生效" in first and "rulewatch import FILE" in first
        assert page.locator("#history article").count() >= 3
        page.screenshot(path=tmp_path / "first-run.png")
    engine.dispose()
    if os.environ.get("RULEWATCH_UPDATE_SCREENSHOT"):
        assert (tmp_path / "first-run.png").stat().st_size < 300_000
        shutil.copyfile(tmp_path / "first-run.png", ROOT / "docs" / "first-run.png")
