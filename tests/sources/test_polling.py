"""Polling as serve and `rulewatch sources poll` do it, on a real store: what a source's state
remembers, backoff after failures, one instance per round when several poll one store, the
admin channel told once when a source starts failing and once when it recovers, and the
source's platform given to notices that name none.

The clock is moved with time-machine; nothing here sleeps to wait for time to pass.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import time_machine
from receiver import Receiver, Reply
from sqlalchemy import Engine
from sqlmodel import Session, select

from alerts.config import Settings, parse_settings
from alerts.sources.catalog import find, source_views
from alerts.sources.service import Poller, admin_notifier, manners
from alerts.sources.web import HttpWeb
from store import sources as store
from store.db import session_scope
from store.errors import StoreError
from store.models import RuleChange, SourceItem, SourceState

pytestmark = pytest.mark.anyio
START = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
NOTICE = "关于调整商品发布规范的公告\n本规范于2026年12月1日公示，自2026年12月20日起生效。\n"


def settings_for(tmp_path: Path, *, admin_url: str | None = None, every: str = "10m") -> Settings:
    channel = f'[[channels]]\nname = "ops"\nkind = "webhook"\nurl = "{admin_url}"\n'
    admin = f'admin_channel = "ops"\n\n{channel}' if admin_url else ""
    text = (
        f'[service]\nbase_url = "https://rw.example.com"\n{admin}\n'
        f'[[sources]]\nname = "drop"\nkind = "folder"\npath = "drop"\nevery = "{every}"\n'
        'platform = "抖店"\n'
    )
    return parse_settings(text, path=tmp_path / "config.toml", environ={})


def state(engine: Engine) -> SourceState:
    with Session(engine) as session:
        found = session.get(SourceState, "drop")
        assert found is not None
        return found


async def poll(poller: Poller, *, on_demand: bool = False):  # type: ignore[no-untyped-def]
    with session_scope(poller.engine) as session:
        config = find(poller.settings, session, "drop")
    return await poller.poll(config, on_demand=on_demand)


def poller_for(settings: Settings, engine: Engine, http: httpx.AsyncClient) -> Poller:
    return Poller(
        settings, engine, web=HttpWeb(http, manners(settings)), admin=admin_notifier(settings, http)
    )


async def test_a_new_notice_is_stored_once_under_the_sources_platform(
    tmp_path: Path, engine: Engine, http: httpx.AsyncClient
):
    (tmp_path / "drop").mkdir()
    (tmp_path / "drop" / "a.txt").write_text(NOTICE, encoding="utf-8")
    # Another tool's file still being written under a hidden name, to be renamed when done.
    (tmp_path / "drop" / ".b.txt").write_text(NOTICE[:20], encoding="utf-8")
    poller = poller_for(settings_for(tmp_path), engine, http)
    with time_machine.travel(START, tick=False):
        first = await poll(poller)
    assert (first.new_items, first.stored.notices_added) == (1, 1)
    with Session(engine) as session:
        (change,) = session.exec(select(RuleChange)).all()
        views = source_views(poller.settings, session)
    # The notice names no platform: the source's (抖店, as 抖音电商) is the change's.
    assert str(change.effective_on) == "2026-12-20"
    assert [(v.name, v.state, v.items_seen) for v in views] == [("drop", "ok", 1)]
    with time_machine.travel(START + timedelta(minutes=30), tick=False):
        again = await poll(poller)
    assert (again.new_items, again.stored.notices_added, again.stored.notices_known) == (0, 0, 0)


async def test_an_unreadable_item_is_kept_with_its_reason_and_not_reported_again(
    tmp_path: Path, engine: Engine, http: httpx.AsyncClient
):
    (tmp_path / "drop").mkdir()
    (tmp_path / "drop" / "bad.txt").write_bytes(b"\xff\xfe\x00\xd8 not text \x81")
    poller = poller_for(settings_for(tmp_path), engine, http)
    with time_machine.travel(START, tick=False):
        first = await poll(poller)
    assert [where for where, _ in first.stored.unreadable] == ["drop: bad.txt"]
    with Session(engine) as session:
        (item,) = session.exec(select(SourceItem)).all()
        (view,) = source_views(poller.settings, session)
    assert item.problem and "UTF-8" in item.problem and view.unreadable == 1
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        again = await poll(poller)
    assert again.stored.unreadable == [] and again.new_items == 0


async def test_a_failing_source_backs_off_and_an_on_demand_poll_does_not_wait(
    tmp_path: Path, engine: Engine, http: httpx.AsyncClient
):
    poller = poller_for(settings_for(tmp_path, every="10m"), engine, http)  # no folder: fails
    with time_machine.travel(START, tick=False):
        assert (await poll(poller)).error
    assert state(engine).failures == 1
    # The first failure waits one interval, as a success would.
    with time_machine.travel(START + timedelta(minutes=10), tick=False):
        assert (await poll(poller)).error
    # The second waits one interval more: a scheduled poll ten minutes later is skipped...
    with time_machine.travel(START + timedelta(minutes=20), tick=False):
        skipped = await poll(poller)
    assert skipped.skipped and "2 次失败" in skipped.skipped and state(engine).failures == 2
    # ... and one twenty minutes later is made.
    with time_machine.travel(START + timedelta(minutes=30), tick=False):
        assert (await poll(poller)).error
    assert state(engine).failures == 3
    # A person asking for a poll now gets one, backoff or not.
    (tmp_path / "drop").mkdir()
    (tmp_path / "drop" / "a.txt").write_text(NOTICE, encoding="utf-8")
    with time_machine.travel(START + timedelta(minutes=31), tick=False):
        done = await poll(poller, on_demand=True)
    assert done.error is None and done.new_items == 1
    assert (state(engine).failures, state(engine).not_before) == (0, None)


async def test_of_two_instances_polling_one_store_one_polls_each_round(
    tmp_path: Path, engine: Engine, http: httpx.AsyncClient
):
    (tmp_path / "drop").mkdir()
    (tmp_path / "drop" / "a.txt").write_text(NOTICE, encoding="utf-8")
    settings = settings_for(tmp_path, every="10m")
    one, two = poller_for(settings, engine, http), poller_for(settings, engine, http)
    for minutes in (0, 10, 20):
        with time_machine.travel(START + timedelta(minutes=minutes), tick=False):
            reports = [await one.tick(), await two.tick()]
        assert sorted(len(r) for r in reports) == [0, 1], (minutes, reports)
    with time_machine.travel(START + timedelta(minutes=25), tick=False):
        assert await one.tick() == [] and await two.tick() == []  # not due yet


async def test_the_admin_channel_hears_once_when_a_source_fails_and_once_when_it_recovers(
    tmp_path: Path, engine: Engine, http: httpx.AsyncClient
):
    with Receiver() as admin:
        settings = settings_for(tmp_path, admin_url=admin.url)
        poller = poller_for(settings, engine, http)
        for n in range(5):  # alert_after = 3: the third failure tells, the rest do not
            with time_machine.travel(START + timedelta(days=n), tick=False):
                await poll(poller, on_demand=True)
        (failing,) = admin.requests
        body = failing.json()
        assert body["kind"] == "service" and body["event"] == "source_failing"
        assert "drop" in body["text"] and "不是" not in body["source"]["name"]
        (tmp_path / "drop").mkdir()
        with time_machine.travel(START + timedelta(days=6), tick=False):
            await poll(poller, on_demand=True)
            await poll(poller, on_demand=True)
        assert [r.json()["event"] for r in admin.requests] == ["source_failing", "source_recovered"]


async def test_an_alert_the_admin_channel_refused_is_sent_at_the_next_failure(
    tmp_path: Path, engine: Engine, http: httpx.AsyncClient
):
    with Receiver() as admin:
        admin.script(500)
        poller = poller_for(settings_for(tmp_path, admin_url=admin.url), engine, http)
        for n in range(4):
            with time_machine.travel(START + timedelta(days=n), tick=False):
                await poll(poller, on_demand=True)
        assert [r.status for r in admin.requests] == [500, 200]
        assert state(engine).told_failing


FEED_IN_UTC = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>规则公告</title><link>https://rules.example.com/</link>
<description>公告</description><item>
<title>关于调整《淘宝网商品发布规范》的公告</title>
<link>https://rules.example.com/notice/7</link>
<pubDate>Thu, 31 Dec 2026 17:00:00 GMT</pubDate>
<description>《淘宝网商品发布规范》调整后的条款自今日起生效。</description>
</item></channel></rss>
"""


async def test_a_feeds_utc_time_is_read_as_the_day_it_was_in_the_service_zone(
    tmp_path: Path, engine: Engine, http: httpx.AsyncClient
):
    # 17:00 UTC on 31 December is 01:00 on 1 January in Shanghai: "今日" is New Year's Day.
    with Receiver() as site:
        site.script(
            404, Reply(200, {"content-type": "application/rss+xml"}, FEED_IN_UTC)
        )  # robots.txt, the feed
        text = (
            "[polling]\nper_host_seconds = 0\n\n"
            f'[[sources]]\nname = "feed"\nkind = "rss"\nurl = "{site.url_for("/rss")}"\n'
        )
        settings = parse_settings(text, path=tmp_path / "config.toml", environ={})
        poller = poller_for(settings, engine, http)
        with session_scope(engine) as session:
            config = find(settings, session, "feed")
        report = await poller.poll(config, on_demand=True)
    assert report.error is None and report.stored.notices_added == 1, report
    with Session(engine) as session:
        (change,) = session.exec(select(RuleChange)).all()
    assert str(change.effective_on) == "2027-01-01"
    with Session(engine) as session:
        (item,) = session.exec(select(SourceItem)).all()
    assert item.notice_id is not None  # the item leads to the notice it became


async def test_a_source_asked_to_wait_waits_as_long_as_retry_after_says(
    tmp_path: Path, engine: Engine, http: httpx.AsyncClient
):
    with Receiver() as site:
        site.script(404, Reply(429, {"Retry-After": "7200"}))  # robots.txt, then the feed
        text = (
            "[polling]\nper_host_seconds = 0\n\n"
            f'[[sources]]\nname = "feed"\nkind = "rss"\nurl = "{site.url_for("/rss")}"\n'
            'every = "10m"\n'
        )
        settings = parse_settings(text, path=tmp_path / "config.toml", environ={})
        poller = poller_for(settings, engine, http)
        with time_machine.travel(START, tick=False):
            (failed,) = await poller.tick()
        assert failed.error and "429" in failed.error
        # Ten minutes later is its interval, but the site asked for two hours.
        with time_machine.travel(START + timedelta(minutes=30), tick=False):
            assert await poller.tick() == []
        with time_machine.travel(START + timedelta(minutes=119), tick=False):
            assert await poller.tick() == []
        with time_machine.travel(START + timedelta(minutes=121), tick=False):
            (again,) = await poller.tick()
        assert again.error is None, again
        assert [r.path for r in site.requests].count("/rss") == 2


def feed_source(tmp_path: Path, url: str) -> Settings:
    text = (
        "[polling]\nper_host_seconds = 0\n\n"
        f'[[sources]]\nname = "feed"\nkind = "rss"\nurl = "{url}"\nevery = "10m"\n'
    )
    return parse_settings(text, path=tmp_path / "config.toml", environ={})


async def test_an_etag_longer_than_the_store_keeps_is_dropped_and_the_poll_succeeds(
    tmp_path: Path, engine: Engine, http: httpx.AsyncClient
):
    huge = '"' + "e" * 600 + '"'
    feed = Reply(200, {"content-type": "application/rss+xml", "etag": huge}, FEED_IN_UTC)
    with Receiver() as site:
        site.script(404, feed)  # robots.txt, the feed
        poller = poller_for(feed_source(tmp_path, site.url_for("/rss")), engine, http)
        with time_machine.travel(START, tick=False):
            (report,) = await poller.tick()
    assert report.error is None and report.stored.notices_added == 1, report
    with Session(engine) as session:
        kept = session.get(SourceState, "feed")
    assert kept is not None and kept.last_success_at is not None and kept.etag is None


async def test_a_failure_while_storing_is_the_polls_error_and_the_items_are_read_again(
    tmp_path: Path, engine: Engine, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
):
    import alerts.sources.poll

    def broken(*args: object, **kwargs: object) -> None:
        raise StoreError("the database file could not be written: disk I/O error")

    feed = Reply(200, {"content-type": "application/rss+xml"}, FEED_IN_UTC)
    with Receiver() as site:
        site.script(404, feed, feed)  # robots.txt, the feed twice
        poller = poller_for(feed_source(tmp_path, site.url_for("/rss")), engine, http)
        monkeypatch.setattr(alerts.sources.poll, "ingest", broken)
        with time_machine.travel(START, tick=False):
            (failed,) = await poller.tick()
        assert failed.error and "StoreError" in failed.error, failed
        with Session(engine) as session:
            kept = session.get(SourceState, "feed")
            assert kept is not None and kept.failures == 1 and kept.last_success_at is None
            assert session.exec(select(SourceItem)).all() == []
        monkeypatch.undo()
        with time_machine.travel(START + timedelta(minutes=20), tick=False):
            (again,) = await poller.tick()
    assert again.error is None and again.stored.notices_added == 1, again


@pytest.mark.parametrize("allowed", [False, True])
async def test_a_source_added_through_the_api_reads_no_address_of_this_machine_unless_allowed(
    tmp_path: Path, engine: Engine, http: httpx.AsyncClient, allowed: bool
):
    feed = Reply(200, {"content-type": "application/rss+xml"}, FEED_IN_UTC)
    with Receiver() as site:
        site.script(404, feed)  # robots.txt, the feed
        # A name the API let through that resolves to this machine (as a rebinding name can).
        url = site.url_for("/rss").replace("127.0.0.1", "localhost")
        text = f"[polling]\nper_host_seconds = 0\napi_private_addresses = {str(allowed).lower()}\n"
        settings = parse_settings(text, path=tmp_path / "config.toml", environ={})
        definition = json.dumps({"name": "inside", "kind": "rss", "url": url})
        with session_scope(engine) as session:
            store.add_stored_source(session, name="inside", definition=definition, now=START)
        poller = poller_for(settings, engine, http)
        with session_scope(engine) as session:
            config = find(settings, session, "inside")
        report = await poller.poll(config, on_demand=True)
        asked = list(site.requests)
    if allowed:
        assert report.error is None and report.stored.notices_added == 1, report
    else:
        assert report.error and "api_private_addresses" in report.error, report
        assert asked == []


async def test_an_article_two_sources_list_is_one_notice(site, web, engine: Engine):
    # A news site's feed (its full text) and its list page (the article's page) give the same
    # notice: the second source stores nothing, and both sources' items lead to the one.
    import sites
    from sites import NOTICES

    from alerts.sources import build_source
    from alerts.sources.html_list import HtmlListSourceConfig
    from alerts.sources.poll import poll as poll_once
    from alerts.sources.rss import RssSourceConfig
    from store.models import Notice as NoticeRow

    article = NOTICES[0]
    site.put("/feed.xml", sites.rss_feed([article]), content_type="application/rss+xml")
    site.put("/news/", sites.list_page([article]), content_type="text/html; charset=gb2312",
             encoding="gbk")  # fmt: skip
    site.put(f"/news/{article.slug}.html", sites.article_page(article), encoding="gbk",
             content_type="text/html; charset=gb2312")  # fmt: skip
    feed = RssSourceConfig(name="feed", url=site.url_for("/feed.xml"))
    listing = HtmlListSourceConfig(name="list", url=site.url_for("/news/"), item="ul.news li")
    tz = ZoneInfo("Asia/Shanghai")
    with session_scope(engine) as session:
        first = await poll_once(build_source(feed), session, web=web, tz=tz)
    with session_scope(engine) as session:
        second = await poll_once(build_source(listing), session, web=web, tz=tz)
    assert first.stored.notices_added == 1, first
    assert (second.new_items, second.stored.notices_added, second.stored.notices_known) == (
        1, 0, 1,
    ), second  # fmt: skip
    with Session(engine) as session:
        (notice,) = session.exec(select(NoticeRow)).all()
        items = session.exec(select(SourceItem)).all()
    assert {item.source: item.notice_id for item in items} == {"feed": notice.id, "list": notice.id}


def slow_list(site, pages: int, delay: float):  # type: ignore[no-untyped-def]
    """A list of ``pages`` notices whose article pages each take ``delay`` seconds."""
    import sites

    from alerts.sources import build_source
    from alerts.sources.html_list import HtmlListSourceConfig

    said = "本次变更于2026年11月1日公示，2026年11月15日生效。"
    many = [
        sites.Notice(f"n{i}", f"《规则{i}》变更公示", said, START, "", "") for i in range(pages)
    ]
    site.put("/news/", sites.list_page(many), content_type="text/html; charset=gb2312",
             encoding="gbk")  # fmt: skip
    for notice in many:
        page = sites.article_page(notice, charset="utf-8")
        site.put(f"/news/{notice.slug}.html", page, delay=delay)
    config = HtmlListSourceConfig(name="slow", url=site.url_for("/news/"), item="ul.news li")
    return build_source(config)


async def test_a_poll_past_its_time_keeps_what_it_read_and_the_next_reads_on(
    site, web, engine: Engine
):
    # Five slow article pages, each within its own timeout: past its time a poll starts no
    # further page, so one slow site cannot hold serve's round of sources for long, and a
    # list too slow to read in one poll is read in several.
    from alerts.sources.poll import poll as poll_once

    source = slow_list(site, pages=5, delay=0.5)
    tz = ZoneInfo("Asia/Shanghai")
    started = time.monotonic()
    with session_scope(engine) as session:
        first = await poll_once(source, session, web=web, tz=tz, limit=1.2)
    assert time.monotonic() - started < 2.4
    assert first.error is None and 2 <= first.new_items < 5, first
    with session_scope(engine) as session:
        second = await poll_once(source, session, web=web, tz=tz, limit=10)
    assert first.new_items + second.new_items == 5, second
    with Session(engine) as session:
        assert len(session.exec(select(SourceItem)).all()) == 5


async def test_a_page_that_outlasts_twice_the_polls_time_fails_the_poll(site, web, engine: Engine):
    from alerts.sources.poll import poll as poll_once

    source = slow_list(site, pages=1, delay=3)
    started = time.monotonic()
    with session_scope(engine) as session:
        report = await poll_once(source, session, web=web, tz=ZoneInfo("Asia/Shanghai"), limit=0.5)
    assert time.monotonic() - started < 2.0
    assert report.error and "超过 1 秒" in report.error, report
    with Session(engine) as session:
        assert session.exec(select(SourceItem)).all() == []
        kept = session.get(SourceState, "slow")
    assert kept is not None and kept.failures == 1


async def test_a_list_whose_page_asks_to_wait_keeps_what_it_read_and_waits(
    site, web, engine: Engine
):
    from alerts.sources.poll import Pace
    from alerts.sources.poll import poll as poll_once

    source = slow_list(site, pages=3, delay=0)
    site.put("/news/n1.html", status=429, headers={"retry-after": "3600"})
    pace = Pace(every=timedelta(minutes=10), on_demand=False)
    tz = ZoneInfo("Asia/Shanghai")
    with time_machine.travel(START, tick=False), session_scope(engine) as session:
        first = await poll_once(source, session, web=web, tz=tz, pace=pace)
    assert first.error is None and first.new_items == 1 and first.retry_after == 3600, first
    half_hour = START + timedelta(minutes=30)
    with time_machine.travel(half_hour, tick=False), session_scope(engine) as session:
        early = await poll_once(source, session, web=web, tz=tz, pace=pace)
    assert early.skipped, early  # its interval is past, but the site asked for an hour
    site.put("/news/n1.html", sites_article("n1"), content_type="text/html; charset=utf-8")
    an_hour = START + timedelta(minutes=61)
    with time_machine.travel(an_hour, tick=False), session_scope(engine) as session:
        later = await poll_once(source, session, web=web, tz=tz, pace=pace)
    assert later.error is None and later.new_items == 2, later


def sites_article(slug: str) -> str:
    import sites

    said = "本次变更于2026年11月1日公示，2026年11月15日生效。"
    return sites.article_page(
        sites.Notice(slug, "《规则1》变更公示", said, START, "", ""), charset="utf-8"
    )


async def test_a_name_that_led_to_this_machine_after_its_lookup_is_not_read(
    tmp_path: Path, engine: Engine, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
):
    # DNS rebinding: the name looked public when it was looked up, and the connection went to
    # 127.0.0.1. (The lookup is skipped here; the address connected to is what is checked.)
    import alerts.sources.web

    async def looked_public(url: str) -> None:
        return None

    monkeypatch.setattr(alerts.sources.web, "_check_public", looked_public)
    feed = Reply(200, {"content-type": "application/rss+xml"}, FEED_IN_UTC)
    with Receiver(default=feed) as site:
        settings = parse_settings("[polling]\nper_host_seconds = 0\n", path=tmp_path / "c.toml",
                                  environ={})  # fmt: skip
        definition = json.dumps({"name": "inside", "kind": "rss", "url": site.url_for("/rss")})
        with session_scope(engine) as session:
            store.add_stored_source(session, name="inside", definition=definition, now=START)
            config = find(settings, session, "inside")
        report = await poller_for(settings, engine, http).poll(config, on_demand=True)
    assert report.error and "127.0.0.1 是本机或内网地址" in report.error, report
    assert report.stored.notices_added == 0


async def test_a_notice_rulewatch_fails_on_is_that_items_problem_and_the_others_are_stored(
    tmp_path: Path, engine: Engine, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
):
    import alerts.sources.poll
    from alerts.timeline.ingest import ingest

    def ingest_but_b(session, notices, **keys):  # type: ignore[no-untyped-def]
        if any("b.txt" in keys["origin"] for _ in notices):
            raise ValueError("a bug in reading this one")
        return ingest(session, notices, **keys)

    (tmp_path / "drop").mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        text = NOTICE.replace("商品发布规范", f"{name[0]}规范")
        (tmp_path / "drop" / name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(alerts.sources.poll, "ingest", ingest_but_b)
    poller = poller_for(settings_for(tmp_path), engine, http)
    with time_machine.travel(START, tick=False):
        report = await poll(poller)
    assert report.error is None and report.stored.notices_added == 2, report
    ((where, why),) = report.stored.unreadable
    assert where == "drop: b.txt" and "ValueError" in why


async def test_an_item_that_keeps_failing_is_shown_while_retried_then_kept_with_its_reason(
    site, web, engine: Engine, tmp_path: Path
):
    from alerts.sources.poll import MAX_TRIES
    from alerts.sources.poll import poll as poll_once

    source = slow_list(site, pages=2, delay=0)
    site.put("/news/n1.html", "维护中", status=500)
    text = (
        f'[[sources]]\nname = "slow"\nkind = "html_list"\nurl = "{site.url_for("/news/")}"\n'
        'item = "ul.news li"\n'
    )
    settings = parse_settings(text, path=tmp_path / "config.toml", environ={})
    tz = ZoneInfo("Asia/Shanghai")
    for n in range(1, MAX_TRIES + 1):
        with session_scope(engine) as session:
            report = await poll_once(source, session, web=web, tz=tz)
            (view,) = source_views(settings, session)
        assert report.error is None, report
        if n < MAX_TRIES:  # shown as being retried, and its list read whole each time
            assert (view.items_seen, view.retrying, view.unreadable) == (1, 1, 0), (n, view)
            assert state_named(engine, "slow").etag is None
    # Given up after MAX_TRIES polls: kept with its reason, and the list is conditional again.
    assert (view.items_seen, view.retrying, view.unreadable) == (2, 0, 1), view
    with Session(engine) as session:
        kept = {item.key.rsplit("/", 1)[-1]: item for item in session.exec(select(SourceItem))}
    problem = kept["n1.html"].problem or ""
    assert "HTTP 500" in problem and f"{MAX_TRIES} 次" in problem, problem
    assert state_named(engine, "slow").etag is not None


def state_named(engine: Engine, name: str) -> SourceState:
    with Session(engine) as session:
        found = session.get(SourceState, name)
        assert found is not None
        return found
