"""``kind = "page"`` (alerts/sources/page.py): one rule page on loopback, watched for change.

Named test_watched_page, not test_page: tests/ has no packages, so a test module's basename
must be unique, and tests/test_page.py is the timeline page's.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
import sites
from sites import Site

from alerts.sources.base import Context, Memo, SourceError
from alerts.sources.page import PageSource, PageSourceConfig, fingerprint
from alerts.sources.poll import poll
from alerts.timeline.views import change_views
from store.db import session_scope

pytestmark = pytest.mark.anyio
TZ = ZoneInfo("Asia/Shanghai")
RULE = (
    "《抖店商品标题规范》\n标题中不得堆砌与商品无关的热门词汇。\n"
    "本规范于2026年11月2日公示，2026年11月16日起生效。"
)
AMENDED = RULE.replace("2026年11月2日公示，2026年11月16日", "2026年11月20日公示，2026年12月4日")


def source(site: Site, **keys) -> PageSource:
    return PageSource(PageSourceConfig(name="rule", url=site.url_for("/rule/42"), **keys))


async def test_the_first_poll_yields_the_page_and_remembers_its_fingerprint(site, web):
    site.put("/rule/42", sites.rule_page(RULE, title="抖店商品标题规范"))
    fetched = await source(site, text=".rule").fetch(Context(web=web))
    ((item,), memo) = fetched.items, fetched.memo
    assert memo.fingerprint == fingerprint(RULE) and memo.etag == site.etag("/rule/42")
    assert item.key == f"{site.url_for('/rule/42')}#{memo.fingerprint[:16]}"
    (notice,) = item.notices
    assert (notice.title, notice.text) == ("抖店商品标题规范", RULE)
    assert notice.url == site.url_for("/rule/42") and notice.published_at is None


async def test_a_changed_banner_is_no_change_and_a_changed_rule_is_one(site, web):
    site.put("/rule/42", sites.rule_page(RULE, banner="今日访问 1 次"))
    first = await source(site, text=".rule").fetch(Context(web=web))
    site.put("/rule/42", sites.rule_page(RULE, banner="今日访问 2 次"))  # a new ETag, too
    same = await source(site, text=".rule").fetch(Context(web=web, memo=first.memo))
    assert same.items == () and not same.not_modified
    assert same.memo.fingerprint == first.memo.fingerprint and same.memo.etag != first.memo.etag
    site.put("/rule/42", sites.rule_page(AMENDED, banner="今日访问 3 次"))
    changed = await source(site, text=".rule").fetch(Context(web=web, memo=same.memo))
    (item,) = changed.items
    assert item.notices[0].text == AMENDED and changed.memo.fingerprint == fingerprint(AMENDED)


async def test_a_page_that_changes_between_polls_has_its_new_text_stored(site, web, engine):
    site.put("/rule/42", sites.rule_page(RULE))
    with session_scope(engine) as session:
        await poll(source(site, text=".rule"), session, web=web, tz=TZ)
    site.put("/rule/42", sites.rule_page(AMENDED))
    with session_scope(engine) as session:
        report = await poll(source(site, text=".rule"), session, web=web, tz=TZ)
    assert report.stored.notices_added == 1
    with session_scope(engine) as session:
        views = change_views(session, today=date(2026, 11, 1), tz=TZ)
    assert {str(v.effective_on) for v in views} >= {"2026-12-04"}


async def test_an_unchanged_page_answers_304(site, web):
    site.put("/rule/42", sites.rule_page(RULE))
    first = await source(site).fetch(Context(web=web))
    site.clear()
    second = await source(site).fetch(Context(web=web, memo=first.memo))
    assert second.not_modified and second.memo == first.memo
    assert site.requests[-1].headers["if-none-match"] == first.memo.etag


async def test_without_a_selector_the_main_text_is_found_and_a_stated_time_kept(site, web):
    notice = sites.NOTICES[0]
    site.put("/rule/42", sites.article_page(notice, charset="utf-8"))
    (item,) = (await source(site).fetch(Context(web=web))).items
    assert item.notices[0].text == notice.text and "热门推荐" not in item.notices[0].text
    assert item.notices[0].published_at == notice.published


async def test_a_page_whose_text_is_not_found_is_the_sources_error(site, web):
    site.put("/rule/42", sites.rule_page(RULE))
    with pytest.raises(SourceError, match=r"'.gone' 在页面上找不到"):
        await source(site, text=".gone").fetch(Context(web=web, memo=Memo()))


def test_the_fingerprint_ignores_spacing():
    assert fingerprint("甲  乙\n\n丙 ") == fingerprint("甲 乙\n丙")
    assert fingerprint("甲乙") != fingerprint("甲丙")
