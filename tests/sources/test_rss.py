"""``kind = "rss"`` (alerts/sources/rss.py) against feeds served on loopback."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import sites
from pydantic import ValidationError
from sites import NOTICES, Site

from alerts.sources.base import Context, Memo, SourceError
from alerts.sources.poll import poll
from alerts.sources.rss import RssSource, RssSourceConfig
from alerts.timeline.views import change_views
from store.db import session_scope

pytestmark = pytest.mark.anyio
TZ = ZoneInfo("Asia/Shanghai")


def source(site: Site, path: str = "/feed.xml", **keys) -> RssSource:
    return RssSource(RssSourceConfig(name="news", url=site.url_for(path), **keys))


@pytest.mark.parametrize(
    "path, feed, content_type",
    [
        pytest.param("/feed.xml", sites.rss_feed(NOTICES), "application/rss+xml", id="rss2"),
        pytest.param("/atom.xml", sites.atom_feed(NOTICES), "application/atom+xml", id="atom"),
    ],
)
async def test_each_entry_is_a_notice_of_its_title_text_link_and_time(
    site, web, path, feed, content_type
):
    site.put(path, feed, content_type=content_type)
    fetched = await source(site, path).fetch(Context(web=web))
    assert fetched.memo == Memo(etag=site.etag(path), last_modified=sites.LAST_MODIFIED)
    for item, notice in zip(fetched.items, NOTICES, strict=True):
        (read,) = item.notices
        assert item.key == read.url == site.url_for(f"/news/{notice.slug}.html")
        assert (read.title, read.text) == (notice.title, notice.text)  # HTML read as text
        assert read.published_at == notice.published and read.published_at.utcoffset()
        assert read.id


async def test_a_feed_polled_into_the_store_gives_each_rule_its_change(site, web, engine):
    site.put("/feed.xml", sites.rss_feed(NOTICES), content_type="application/rss+xml")
    with session_scope(engine) as session:
        report = await poll(source(site), session, web=web, tz=TZ)
    assert report.stored.notices_added == 3 and report.stored.unreadable == []
    with session_scope(engine) as session:
        views = change_views(session, today=date(2026, 11, 1), tz=TZ)
        shown = {v.rule_key: str(v.effective_on) for v in views}
    assert shown == {n.rule: n.effective for n in NOTICES}


async def test_with_fetch_pages_the_text_is_the_linked_pages_and_a_dead_link_is_its_problem(
    site, web
):
    missing = sites.Notice("gone", "《某规则》变更公示", "", NOTICES[0].published, "", "")
    site.put("/feed.xml", sites.rss_feed([*NOTICES, missing], summary=False))
    for notice in NOTICES:
        site.put(f"/news/{notice.slug}.html", sites.article_page(notice, charset="utf-8"))
    fetched = await source(site, fetch_pages=True).fetch(Context(web=web))
    *good, dead = fetched.items
    assert [item.notices[0].text for item in good] == [n.text for n in NOTICES]
    assert dead.key == site.url_for("/news/gone.html") and "HTTP 404" in (dead.problem or "")


async def test_entries_stored_before_cost_no_request_for_their_pages(site, web):
    site.put("/feed.xml", sites.rss_feed(NOTICES, summary=False))
    for notice in NOTICES:
        site.put(f"/news/{notice.slug}.html", sites.article_page(notice, charset="utf-8"))
    known = {site.url_for(f"/news/{NOTICES[0].slug}.html")}
    fetched = await source(site, fetch_pages=True).fetch(
        Context(web=web, seen=lambda key: key in known)
    )
    assert [item.key for item in fetched.items] == [
        site.url_for(f"/news/{n.slug}.html") for n in NOTICES[1:]
    ]
    assert f"/news/{NOTICES[0].slug}.html" not in site.paths()


async def test_an_unchanged_feed_answers_304_and_nothing_is_read(site, web):
    site.put("/feed.xml", sites.rss_feed(NOTICES))
    first = await source(site).fetch(Context(web=web))
    site.clear()
    second = await source(site).fetch(Context(web=web, memo=first.memo))
    assert second.not_modified and second.items == () and second.memo == first.memo
    (asked,) = site.requests
    assert asked.status == 304 and asked.headers["if-none-match"] == first.memo.etag
    assert asked.headers["if-modified-since"] == sites.LAST_MODIFIED


async def test_entries_without_a_link_are_known_by_their_id_else_their_title_and_date(site, web):
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        '<item><title>甲</title><guid isPermaLink="false">rule-42</guid></item>'
        "<item><title>乙</title><pubDate>Tue, 01 Dec 2026 10:00:00 GMT</pubDate></item>"
        "</channel></rss>"
    )
    site.put("/feed.xml", feed, content_type="application/rss+xml")
    first, second = (await source(site).fetch(Context(web=web))).items
    assert first.key == "rule-42" and first.notices[0].url is None
    assert second.key.startswith("sha256:")
    assert second.notices[0].published_at == datetime(2026, 12, 1, 10, tzinfo=UTC)
    again = await source(site).fetch(Context(web=web))
    assert [item.key for item in again.items] == [first.key, second.key]


async def test_a_broken_feed_with_entries_is_read_and_one_without_is_the_sources_error(site, web):
    broken = sites.rss_feed(NOTICES[:1]).replace("</channel></rss>", "<item><title>未闭合")
    site.put("/feed.xml", broken, content_type="application/rss+xml")
    (item,) = (await source(site).fetch(Context(web=web))).items  # what came before the break
    assert item.notices[0].title == NOTICES[0].title
    site.put("/feed.xml", "<html><body><p>这里不是订阅源<div></body>")
    with pytest.raises(SourceError, match="not an RSS or Atom feed"):
        await source(site).fetch(Context(web=web))


async def test_a_gbk_feed_labelled_gb2312_is_read_whole(site, web):
    feed = sites.rss_feed(NOTICES, encoding="gb2312")
    site.put("/feed.xml", feed, content_type="application/rss+xml", encoding="gbk")
    items = (await source(site).fetch(Context(web=web))).items
    assert f"{sites.GBK_ONLY}{sites.GBK_ONLY}旗舰店" in items[1].notices[0].text


def test_the_url_must_be_http():
    with pytest.raises(ValidationError, match="http:// or https://"):
        RssSourceConfig(name="x", url="ftp://example.com/feed.xml")
