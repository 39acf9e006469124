"""What the web kinds share in reading (alerts/sources/reading.py): publish times as sites
write them, the main text of a page, HTML fragments, dotted paths, keys."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sites import NOTICES, article_page

from alerts.sources.reading import (
    PathError,
    at_path,
    check_selector,
    digest_key,
    fragment_text,
    main_text,
    publish_time,
)

BEIJING = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    "value, expected",
    [
        pytest.param(1764547200, datetime(2025, 12, 1, tzinfo=UTC), id="epoch-seconds"),
        pytest.param(1764547200000, datetime(2025, 12, 1, tzinfo=UTC), id="epoch-ms"),
        pytest.param("1764547200000", datetime(2025, 12, 1, tzinfo=UTC), id="epoch-ms-text"),
        pytest.param(1764547200.5, datetime(2025, 12, 1, 0, 0, 0, 500000, UTC), id="float"),
        pytest.param(
            "2026-12-01T10:00:00+08:00", datetime(2026, 12, 1, 10, tzinfo=BEIJING), id="iso"
        ),
        pytest.param("2026-12-01T02:00:00Z", datetime(2026, 12, 1, 2, tzinfo=UTC), id="iso-z"),
        pytest.param("2026-12-01 10:00", datetime(2026, 12, 1, 10), id="naive-minutes"),
        pytest.param("2026-12-01 10:00:30", datetime(2026, 12, 1, 10, 0, 30), id="naive-seconds"),
        pytest.param("2026/12/01", date(2026, 12, 1), id="slashes"),
        pytest.param("发布时间：2026-12-01", date(2026, 12, 1), id="labelled"),
        pytest.param("2026年12月1日", date(2026, 12, 1), id="han"),
        pytest.param("2026 年 12 月 1 日 09:15", datetime(2026, 12, 1, 9, 15), id="han-time"),
        pytest.param(
            "Tue, 01 Dec 2026 10:00:00 +0800",
            datetime(2026, 12, 1, 10, tzinfo=BEIJING),
            id="rfc822",
        ),
    ],
)
def test_publish_times_are_read_as_written(value, expected):
    got = publish_time(value)
    assert got == expected
    assert type(got) is type(expected)
    if isinstance(expected, datetime):
        assert (got.tzinfo is None) == (expected.tzinfo is None)  # naive stays naive


@pytest.mark.parametrize(
    "value",
    [None, True, "", "昨天", "12月1日", "2026-13-45", "20261201", [], {"t": 1}, 10**30],
)
def test_what_is_no_publish_time_is_none(value):
    assert publish_time(value) is None


def test_the_main_text_of_an_article_leaves_its_chrome_out():
    notice = NOTICES[0]
    page = main_text(article_page(notice, chrome="热门推荐：大促攻略"))
    assert page.title == notice.title
    assert page.text == notice.text
    assert page.published == notice.published  # from its metadata, not its text


def test_a_selector_picks_the_text_and_nothing_else():
    page = main_text(article_page(NOTICES[1]), selector=".content")
    assert page.text == NOTICES[1].text and "热门推荐" not in page.text
    assert main_text(article_page(NOTICES[1]), selector=".nothing-here").text == ""


def test_a_short_page_without_an_article_is_read_whole():
    page = main_text(
        "<html><body><div>本次调整于2026年11月2日公示，11月16日起生效。</div></body></html>"
    )
    assert page.text == "本次调整于2026年11月2日公示，11月16日起生效。"
    assert page.published is None and page.title == ""


def test_a_publish_time_in_json_ld_counts_and_a_date_in_the_text_does_not():
    ld = (
        '<script type="application/ld+json">{"datePublished": "2026-11-02T10:00:00+08:00"}</script>'
    )
    body = "<p>本规则于2026年11月20日生效。</p>"
    assert main_text(f"<html><head>{ld}</head><body>{body}</body></html>").published == datetime(
        2026, 11, 2, 10, tzinfo=BEIJING
    )
    assert main_text(f"<html><body>{body}</body></html>").published is None


@pytest.mark.parametrize(
    "markup, kept",
    [
        pytest.param("<div><p>未闭合的段落<p>第二段 &amp; 实体<div>", "第二段 & 实体",
                     id="unclosed"),
        pytest.param("<![bogus 本次调整于2026年11月2日公示", "", id="bogus-declaration"),
        pytest.param("<<<>>>< p>坏掉的</ x>标签<b>加粗", "坏掉的标签加粗", id="garbage"),
        pytest.param("", "", id="empty"),
    ],
)  # fmt: skip
def test_malformed_html_is_read_without_raising(markup, kept):
    assert kept in fragment_text(markup) and "</" not in fragment_text(markup)
    assert kept in main_text(markup).text


def test_a_fragment_keeps_inline_words_in_their_sentence():
    html = "<p>本次变更于<b>2026年12月1日</b>公示，</p><p><span>12月15日</span>生效。</p>"
    assert fragment_text(html) == "本次变更于2026年12月1日公示，\n12月15日生效。"


def test_a_dotted_path_walks_objects_and_arrays():
    data = {"code": 0, "data": {"list": [{"title": "甲"}, {"title": "乙"}]}}
    assert at_path(data, "data.list.1.title") == "乙"
    assert at_path(data, "") is data


@pytest.mark.parametrize(
    "path, said",
    [
        pytest.param("data.items", 'no "items" at "data.items": data holds an object with keys '
                     "list", id="key"),
        pytest.param("result.list", 'no "result" at "result.list": the top holds an object with '
                     "keys code, data", id="top"),
        pytest.param("data.list.5", 'no "5" at "data.list.5": data.list holds an array of 2',
                     id="index"),
        pytest.param("code.x", 'no "x" at "code.x": code holds int 0', id="scalar"),
    ],
)  # fmt: skip
def test_a_missing_path_says_where_it_stopped_and_what_was_there(path, said):
    data = {"code": 0, "data": {"list": [{}, {}]}}
    with pytest.raises(PathError) as caught:
        at_path(data, path)
    # Chinese first, then the English a path's writer may search for.
    said_first = f'路径 "{path}" 中找不到'
    assert str(caught.value).startswith(said_first) and str(caught.value).endswith(f"（{said}）")


def test_a_digest_key_is_stable_and_tells_items_apart():
    assert digest_key("甲", date(2026, 12, 1)) == digest_key("甲", date(2026, 12, 1))
    assert digest_key("甲", date(2026, 12, 1)) != digest_key("甲", None)


def test_a_selector_the_parser_cannot_use_is_refused():
    assert check_selector("ul.news > li") == "ul.news > li"
    with pytest.raises(ValueError, match="not a CSS selector"):
        check_selector("li[")
