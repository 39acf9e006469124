"""``kind = "html_list"`` (alerts/sources/html_list.py) against a news site on loopback: a GBK
list page labelled gb2312 and the detail pages of its items."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sites
from pydantic import ValidationError
from sites import GBK_ONLY, NOTICES, Site

from alerts.sources.base import Context, SourceError
from alerts.sources.html_list import HtmlListSource, HtmlListSourceConfig

pytestmark = pytest.mark.anyio
GB2312 = "text/html; charset=gb2312"


def publish(site: Site, notices=NOTICES, *, pages=NOTICES) -> None:
    """The list of ``notices`` and the detail pages of ``pages``, all GBK labelled gb2312."""
    site.put("/news/", sites.list_page(notices), content_type=GB2312, encoding="gbk")
    for notice in pages:
        page = sites.article_page(notice)
        site.put(f"/news/{notice.slug}.html", page, content_type=GB2312, encoding="gbk")


def source(site: Site, **keys) -> HtmlListSource:
    keys.setdefault("item", "ul.news li.item")
    return HtmlListSource(HtmlListSourceConfig(name="news", url=site.url_for("/news/"), **keys))


async def test_each_new_item_is_its_detail_pages_main_text(site, web):
    publish(site)
    fetched = await source(site).fetch(Context(web=web))
    for item, notice in zip(fetched.items, NOTICES, strict=True):
        (read,) = item.notices
        assert item.key == read.url == site.url_for(f"/news/{notice.slug}.html")
        assert (read.title, read.text) == (notice.title, notice.text)  # no menu, ad or footer
        assert read.published_at == notice.published  # the page's metadata, the list said none
    assert f"{GBK_ONLY}{GBK_ONLY}旗舰店" in fetched.items[1].notices[0].text  # GBK, not GB2312
    assert site.paths() == ["/news/"] + [f"/news/{n.slug}.html" for n in NOTICES]


async def test_the_lists_date_and_title_selectors_win_over_the_page(site, web):
    publish(site)
    fetched = await source(site, date=".date", title="a.t").fetch(Context(web=web))
    read = fetched.items[0].notices[0]
    assert read.published_at == NOTICES[0].published.replace(tzinfo=None)  # as the list writes it
    assert read.title == NOTICES[0].title


async def test_a_text_selector_picks_the_detail_pages_text(site, web):
    publish(site)
    fetched = await source(site, text="article .content p:last-child").fetch(Context(web=web))
    assert fetched.items[2].notices[0].text == NOTICES[2].text.splitlines()[-1]


async def test_a_detail_page_that_404s_is_its_items_problem_and_the_others_are_read(site, web):
    publish(site, pages=[NOTICES[0], NOTICES[2]])
    first, dead, last = (await source(site).fetch(Context(web=web))).items
    assert first.notices and last.notices
    assert dead.key == site.url_for(f"/news/{NOTICES[1].slug}.html") and not dead.notices
    assert "HTTP 404" in (dead.problem or "")


async def test_items_stored_before_are_skipped_without_a_request(site, web):
    publish(site)
    stored = {site.url_for(f"/news/{NOTICES[1].slug}.html")}
    fetched = await source(site).fetch(Context(web=web, seen=stored.__contains__))
    assert [i.notices[0].title for i in fetched.items] == [NOTICES[0].title, NOTICES[2].title]
    assert f"/news/{NOTICES[1].slug}.html" not in site.paths()


async def test_no_more_than_max_items_new_items_are_read_per_poll_newest_first(site, web):
    many = [
        sites.Notice(
            f"n{i}",
            f"《规则{i}》变更公示",
            "本次变更于2026年11月1日公示，2026年11月15日生效。",
            datetime(2026, 11, 1, tzinfo=sites.BEIJING) - timedelta(days=i),
            "",
            "",
        )
        for i in range(5)
    ]
    publish(site, many, pages=many)
    stored = {site.url_for("/news/n0.html")}
    fetched = await source(site, max_items=2).fetch(Context(web=web, seen=stored.__contains__))
    assert [item.key for item in fetched.items] == [
        site.url_for("/news/n1.html"),
        site.url_for("/news/n2.html"),
    ]
    assert "/news/n3.html" not in site.paths()
    # The list was cut, so it says so, and a poll keeps no validators: a 304 next time would
    # leave n3 and n4 unread for as long as the list does not change.
    assert not fetched.complete
    read = stored | {item.key for item in fetched.items}
    rest = await source(site, max_items=2).fetch(Context(web=web, seen=read.__contains__))
    assert [item.key for item in rest.items] == [
        site.url_for("/news/n3.html"),
        site.url_for("/news/n4.html"),
    ]
    assert rest.complete and rest.memo.etag == site.etag("/news/")  # nothing left unread


async def test_a_detail_page_answering_429_stops_the_list_where_it_is(site, web):
    publish(site)
    site.put(f"/news/{NOTICES[1].slug}.html", status=429, headers={"retry-after": "600"})
    fetched = await source(site).fetch(Context(web=web))
    # The first item is kept, the site's wish is passed on, and no validator is, so the
    # next poll (in ten minutes at the earliest) reads the list again and goes on.
    assert [item.key for item in fetched.items] == [site.url_for(f"/news/{NOTICES[0].slug}.html")]
    assert fetched.retry_after == 600 and not fetched.complete
    assert f"/news/{NOTICES[2].slug}.html" not in site.paths()


async def test_an_unchanged_list_answers_304(site, web):
    publish(site)
    first = await source(site).fetch(Context(web=web))
    site.clear()
    second = await source(site).fetch(Context(web=web, memo=first.memo))
    assert second.not_modified and second.items == ()
    assert site.paths() == ["/news/"] and site.requests[-1].status == 304


async def test_malformed_html_is_read_as_a_browser_would(site, web):
    broken = (
        "<html><body><ul class=news><li class=item><a class=t href=a.html>《甲规则》变更公示"
        "<li class=item><a href='b.html'>《乙规则》调整</a><span class=date>2026年11月3日"
        "<li class=item>没有链接的条目</ul><p>未闭合"
    )
    site.put("/news/", broken)
    for name in ("a", "b"):
        site.put(f"/news/{name}.html", "<p>本次调整于2026年11月3日公示，<b>11月17日生效<p>")
    first, second, unlinked = (await source(site, date=".date").fetch(Context(web=web))).items
    assert first.notices[0].title == "《甲规则》变更公示"
    assert second.notices[0].published_at.isoformat() == "2026-11-03"
    assert "11月17日生效" in second.notices[0].text
    assert unlinked.key.startswith("sha256:") and "no link" in (unlinked.problem or "")


async def test_an_item_that_is_itself_the_link(site, web):
    site.put("/news/", '<div class="list"><a class="row" href="/x.html"><b>标题甲</b></a></div>')
    site.put("/x.html", "<article><p>本次调整于2026年11月3日公示。</p></article>")
    (item,) = (await source(site, item="a.row").fetch(Context(web=web))).items
    assert item.key == site.url_for("/x.html") and item.notices[0].title == "标题甲"


async def test_a_list_the_item_selector_finds_nothing_on_is_the_sources_error(site, web):
    publish(site)
    with pytest.raises(SourceError, match=r"'div.redesigned' 在页面上找不到"):
        await source(site, item="div.redesigned").fetch(Context(web=web))


def test_a_selector_the_parser_cannot_use_is_a_config_error():
    with pytest.raises(ValidationError, match="not a CSS selector"):
        HtmlListSourceConfig(name="x", url="https://example.com/", item="li[")
    with pytest.raises(ValidationError, match="max_items"):
        HtmlListSourceConfig(name="x", url="https://example.com/", item="li", max_items=0)
