"""Every kind of source in ``alerts.sources.SOURCES``, in the situations every kind must
survive, polled into a real store: a Chinese notice in GBK is read right, an item that cannot
be read is reported while the others are stored, a second poll stores nothing new, and a
source that is not there is a problem of the poll, not a crash. Where they apply: a second
fetch after a 304 reads nothing and sent the validator it was given, items stored before
are skipped without a request for their pages, and an item whose page failed for a while
(a 500) is read at the next poll once the page answers.

A kind without a case here fails the test: adding a kind means adding its case. A situation
that cannot arise for a kind is in ``NOT_APPLICABLE``, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sites
from pydantic import BaseModel
from sites import BEIJING, Site
from sqlalchemy import Engine

from alerts.sources import SOURCES, build_source
from alerts.sources.base import Context
from alerts.sources.folder import FolderSourceConfig
from alerts.sources.html_list import HtmlListSourceConfig
from alerts.sources.json_list import JsonListSourceConfig
from alerts.sources.page import PageSourceConfig
from alerts.sources.poll import poll
from alerts.sources.rss import RssSourceConfig
from alerts.sources.web import HttpWeb
from alerts.timeline.views import change_views
from store.db import session_scope

pytestmark = pytest.mark.anyio
TZ = ZoneInfo("Asia/Shanghai")
GOOD = "《淘宝网商品发布规范》变更公示\n本次变更于2026年12月1日公示，2026年12月15日生效。\n"
OTHER = "《1688商家发货行为管理规范》变更公示\n本规则于2026年11月20日公示，2026年12月5日起生效。\n"


@dataclass(frozen=True)
class Case:
    """A kind's source in one situation, and what it says of the item it cannot read."""

    config: BaseModel
    unreadable: tuple[str, str] = ("", "")  # (the item's where, a part of the reason)
    list_path: str | None = None  # the path fetched first, conditionally, at every poll


def folder_case(tmp_path: Path, situation: str, site: Site) -> Case:
    folder = tmp_path / "drop"
    if situation != "missing":
        folder.mkdir()
        (folder / "a-taobao.txt").write_bytes(GOOD.encode("gbk" if situation == "gbk" else "utf-8"))
        (folder / "b-1688.txt").write_text(OTHER, encoding="utf-8")
    if situation == "unreadable":
        (folder / "c-broken.txt").write_bytes(b"\xff\xfe\x00\xd8 not text \x81")
    return Case(FolderSourceConfig(name="drop", path=folder), ("c-broken.txt", "UTF-8"))


def _notice(written: str, slug: str, day: int) -> sites.Notice:
    title, text = written.strip().split("\n", 1)
    published = datetime(2026, 11, day, 10, 0, tzinfo=BEIJING)
    return sites.Notice(slug, title, text, published, rule="", effective="")


TAOBAO, ALIBABA = _notice(GOOD, "taobao", 30), _notice(OTHER, "1688", 20)
BROKEN = sites.Notice(
    "broken", "《某平台规则》变更公示", "", datetime(2026, 11, 1, tzinfo=BEIJING), "", ""
)
# Listed in the "flaky" situation: its page answers 500 at the first poll, then is there.
FLAKY = _notice(
    "《京东开放平台发票管理规范》变更公示\n本次变更于2026年11月25日公示，2026年12月28日生效。\n",
    "flaky",
    25,
)


def _encoding(situation: str) -> tuple[str, str]:
    """(what the pages are in, the charset they are labelled with)."""
    return ("gbk", "gb2312") if situation == "gbk" else ("utf-8", "utf-8")


def _pages(site: Site, situation: str, path: str = "/news/{slug}.html") -> list[sites.Notice]:
    """The detail pages of the good notices; the notices listed (a broken one when unreadable,
    one whose page fails for now when flaky)."""
    encoding, label = _encoding(situation)
    for notice in (TAOBAO, ALIBABA):
        page = sites.article_page(notice, charset=label)
        content_type = f"text/html; charset={label}"
        site.put(path.format(slug=notice.slug), page, content_type=content_type, encoding=encoding)
    if situation == "flaky":
        site.put(path.format(slug=FLAKY.slug), "服务暂时不可用", status=500)
        return [TAOBAO, ALIBABA, FLAKY]
    return [TAOBAO, ALIBABA, BROKEN] if situation == "unreadable" else [TAOBAO, ALIBABA]


def _reads_pages(situation: str) -> bool:
    return situation in ("unreadable", "flaky")


def rss_case(tmp_path: Path, situation: str, site: Site) -> Case:
    encoding, label = _encoding(situation)
    listed = _pages(site, situation)
    if situation != "missing":
        feed = sites.rss_feed(listed, encoding=label, summary=not _reads_pages(situation))
        site.put("/feed.xml", feed, content_type="application/rss+xml", encoding=encoding)
    config = RssSourceConfig(
        name="news-feed", url=site.url_for("/feed.xml"), fetch_pages=_reads_pages(situation)
    )
    broken = site.url_for("/news/broken.html")
    return Case(config, (broken, "HTTP 404"), "/feed.xml")


def html_list_case(tmp_path: Path, situation: str, site: Site) -> Case:
    encoding, label = _encoding(situation)
    listed = _pages(site, situation)
    if situation != "missing":
        page = sites.list_page(listed, charset=label)
        site.put("/news/", page, content_type=f"text/html; charset={label}", encoding=encoding)
    config = HtmlListSourceConfig(
        name="news-list", url=site.url_for("/news/"), item="ul.news li", date=".date"
    )
    return Case(config, (site.url_for("/news/broken.html"), "HTTP 404"), "/news/")


def json_list_case(tmp_path: Path, situation: str, site: Site) -> Case:
    encoding, label = _encoding(situation)
    listed = _pages(site, situation, "/rule/{slug}")
    if situation != "missing":
        body = sites.json_list(listed, with_text=not _reads_pages(situation))
        content_type = f"application/json; charset={label}"
        site.put("/api/rules?page=1", body, content_type=content_type, encoding=encoding)
    config = JsonListSourceConfig(
        name="rule-centre",
        url=site.url_for("/api/rules?page=1"),
        items="data.list",
        text="content",
        link_template=site.url_for("/rule/{id}"),
        fetch_pages=_reads_pages(situation),
    )
    return Case(config, (site.url_for("/rule/broken"), "HTTP 404"), "/api/rules?page=1")


def page_case(tmp_path: Path, situation: str, site: Site) -> Case:
    encoding, label = _encoding(situation)
    if situation != "missing":
        page = sites.rule_page(GOOD + OTHER, title="规则变更汇总").replace(
            'charset="utf-8"', f'charset="{label}"'
        )
        site.put("/rule/summary", page, encoding=encoding)
    config = PageSourceConfig(name="rule-page", url=site.url_for("/rule/summary"), text=".rule")
    return Case(config, list_path="/rule/summary")


CASES: dict[str, Callable[[Path, str, Site], Case]] = {
    "folder": folder_case,
    "rss": rss_case,
    "html_list": html_list_case,
    "json_list": json_list_case,
    "page": page_case,
}
SITUATIONS = ["gbk", "unreadable", "again", "missing", "not_modified", "seen", "flaky"]
NOT_APPLICABLE = {
    ("folder", "not_modified"): "a folder is read from disk: no request, no validator",
    ("folder", "flaky"): "a folder's files are on disk: a file that cannot be read is the "
    "'unreadable' situation",
    ("page", "flaky"): "a watched page is one item: when it fails, the poll does",
    ("page", "unreadable"): "a watched page is one item: when it cannot be read, the source "
    "cannot (the 'missing' situation)",
}


@pytest.mark.parametrize(
    "kind, situation",
    [
        pytest.param(kind, situation, id=f"{kind}-{situation}")
        for kind in sorted(SOURCES)
        for situation in SITUATIONS
        if (kind, situation) not in NOT_APPLICABLE
    ],
)
async def test_source_contract(
    kind: str, situation: str, tmp_path: Path, engine: Engine, web: HttpWeb, site: Site
):
    if kind not in CASES:
        pytest.fail(f"source kind {kind!r} has no case in {Path(__file__).name}")
    case = CASES[kind](tmp_path, situation, site)
    source = build_source(case.config)
    with session_scope(engine) as session:
        report = await poll(source, session, web=web, tz=TZ)
    if situation == "missing":
        assert report.stored.notices_added == 0 and report.error, report
        return
    with session_scope(engine) as session:
        shown = {
            v.rule_key: v.effective_on
            for v in change_views(session, today=date(2026, 12, 2), tz=TZ)
        }
    assert {str(day) for day in shown.values()} >= {"2026-12-15", "2026-12-05"}, shown
    assert any("商品发布规范" in key for key in shown), shown  # the GBK one, read right
    if situation == "unreadable":
        ((where, why),) = report.stored.unreadable
        assert where == f"{source.name}: {case.unreadable[0]}" and case.unreadable[1] in why
    if situation == "again":
        with session_scope(engine) as session:
            second = await poll(source, session, web=web, tz=TZ)
        assert second.new_items == 0 and second.stored.notices_added == 0, second
    if situation == "flaky":
        ((where, why),) = report.stored.unreadable
        assert where.endswith("/flaky") or where.endswith("/flaky.html"), where
        assert "HTTP 500" in why and "第 1 次，下次再读" in why, why
        assert "2026-12-28" not in {str(day) for day in shown.values()}
        for path in ("/news/flaky.html", "/rule/flaky"):
            site.put(path, sites.article_page(FLAKY))
        with session_scope(engine) as session:
            second = await poll(source, session, web=web, tz=TZ)
            days = {
                str(v.effective_on) for v in change_views(session, today=date(2026, 12, 2), tz=TZ)
            }
        # The list did not change, but it is read again (not a 304): the item is still new.
        assert second.new_items == 1 and second.stored.unreadable == [], second
        assert "2026-12-28" in days, days
    if situation == "not_modified":
        # The validators of the first poll are kept in the store and sent with the next.
        site.clear()
        with session_scope(engine) as session:
            second = await poll(source, session, web=web, tz=TZ)
        assert second.not_modified and second.new_items == 0, second
        ((asked,),) = [[r for r in site.requests if r.path == case.list_path]]
        assert asked.status == 304 and asked.headers.get("if-none-match"), asked
    if situation == "seen":
        site.clear()
        again = await source.fetch(Context(web=web, seen=lambda key: True))
        assert again.items == ()
        if case.list_path is not None:
            assert site.paths() == [case.list_path]  # no page of a stored item asked for
