"""``kind = "json_list"`` (alerts/sources/json_list.py) against a rule centre's JSON list on
loopback, in the shape 抖店, 快手 and 小红书 serve theirs."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import sites
from pydantic import ValidationError
from sites import NOTICES, Site

from alerts.sources.base import Context, SourceError
from alerts.sources.json_list import JsonListSource, JsonListSourceConfig

pytestmark = pytest.mark.anyio
JSON = "application/json"
PATH = "/api/rules?page=1&size=20"


def source(site: Site, **keys) -> JsonListSource:
    keys.setdefault("text", "content")
    config = JsonListSourceConfig(name="centre", url=site.url_for(PATH), **keys)
    return JsonListSource(config)


async def test_each_item_is_a_notice_with_its_epoch_ms_time_and_templated_link(site, web):
    site.put(PATH, sites.json_list(NOTICES), content_type=JSON)
    fetched = await source(site, link_template="https://rules.example.com/rule/{id}").fetch(
        Context(web=web)
    )
    for item, notice in zip(fetched.items, NOTICES, strict=True):
        (read,) = item.notices
        assert item.key == read.url == f"https://rules.example.com/rule/{notice.slug}"
        assert (read.title, read.text, read.id) == (notice.title, notice.text, notice.slug)
        assert read.published_at == notice.published  # the same instant, from milliseconds
    assert site.paths() == [PATH]  # the list carries the text: no page fetched


async def test_without_a_link_an_item_is_known_by_its_id_and_a_relative_link_is_made_absolute(
    site, web
):
    site.put(PATH, sites.json_list(NOTICES[:1]), content_type=JSON)
    (item,) = (await source(site).fetch(Context(web=web))).items
    assert item.key == f"id:{NOTICES[0].slug}" and item.notices[0].url is None
    site.put(PATH, sites.json_list(NOTICES[:1], with_url=True), content_type=JSON)
    (item,) = (await source(site).fetch(Context(web=web))).items
    assert item.key == site.url_for(f"/rule/{NOTICES[0].slug}")


async def test_with_fetch_pages_an_item_without_text_is_read_from_its_page(site, web):
    site.put(PATH, sites.json_list(NOTICES, with_text=False, with_url=True), content_type=JSON)
    for notice in NOTICES[:2]:
        site.put(f"/rule/{notice.slug}", sites.article_page(notice, charset="utf-8"))
    stored = {site.url_for(f"/rule/{NOTICES[0].slug}")}
    fetched = await source(site, fetch_pages=True).fetch(Context(web=web, seen=stored.__contains__))
    read, dead = fetched.items
    assert read.notices[0].text == NOTICES[1].text
    assert read.notices[0].published_at == NOTICES[1].published  # the list's time
    assert "HTTP 404" in (dead.problem or "")
    assert f"/rule/{NOTICES[0].slug}" not in site.paths()


@pytest.mark.parametrize(
    "written, expected",
    [
        pytest.param(1764518400, datetime(2025, 11, 30, 16, 0), id="epoch-seconds"),
        pytest.param("1764518400000", datetime(2025, 11, 30, 16, 0), id="epoch-ms-text"),
        pytest.param("2026-12-01 10:00", datetime(2026, 12, 1, 10), id="naive"),
        pytest.param("2026-12-01 10:00:00", datetime(2026, 12, 1, 10), id="naive-seconds"),
        pytest.param("2026年12月1日", date(2026, 12, 1), id="han"),
        pytest.param("2026-12-01T10:00:00+08:00", datetime(2026, 12, 1, 2), id="iso"),
        pytest.param("不详", None, id="unreadable"),
    ],
)
async def test_dates_as_rule_centres_write_them(site, web, written, expected):
    body = {"data": {"list": [{"title": "《某规则》变更公示", "id": 7, "publish_time": written}]}}
    site.put(PATH, json.dumps(body, ensure_ascii=False), content_type=JSON)
    (item,) = (await source(site).fetch(Context(web=web))).items
    got = item.notices[0].published_at
    if isinstance(got, datetime) and got.tzinfo is not None:  # an instant: compared in UTC
        got = got.astimezone(UTC).replace(tzinfo=None)
    elif isinstance(got, datetime):
        assert "-" in str(written)  # naive only as written, never from an epoch
    assert got == expected


async def test_a_path_that_leads_nowhere_says_what_was_there(site, web):
    body = {"code": 10001, "msg": "参数错误", "data": None}
    site.put(PATH, json.dumps(body, ensure_ascii=False), content_type=JSON)
    with pytest.raises(SourceError) as caught:
        await source(site).fetch(Context(web=web))
    assert 'no "list" at "data.list": data holds NoneType null' in str(caught.value)
    site.put(PATH, json.dumps({"result": {"rows": []}}), content_type=JSON)
    with pytest.raises(SourceError, match="the top holds an object with keys result"):
        await source(site).fetch(Context(web=web))


async def test_an_answer_that_is_not_json_is_the_sources_error(site, web):
    site.put(PATH, "<html><body>请先登录</body></html>")
    with pytest.raises(SourceError, match="返回的不是 JSON"):
        await source(site).fetch(Context(web=web))


async def test_an_unchanged_list_answers_304(site, web):
    site.put(PATH, sites.json_list(NOTICES), content_type=JSON)
    first = await source(site).fetch(Context(web=web))
    site.clear()
    second = await source(site).fetch(Context(web=web, memo=first.memo))
    assert second.not_modified and second.items == ()
    assert site.requests[-1].headers["if-none-match"] == first.memo.etag


def test_a_link_template_needs_its_id():
    with pytest.raises(ValidationError, match=r"\{id\}"):
        JsonListSourceConfig(name="x", url="https://e.com/api", link_template="https://e.com/r")
    with pytest.raises(ValidationError, match=r"\{id\}"):
        JsonListSourceConfig(name="x", url="https://e.com/api", link_template="https://e.com/{x}")
