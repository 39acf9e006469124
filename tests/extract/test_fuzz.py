"""extract() never raises, whatever the text; read_notices(auto) raises only ExtractionError."""

from __future__ import annotations

import contextlib
from datetime import date, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.errors import ExtractionError
from alerts.extract import Notice, extract, read_notices

FRAGMENTS = [
    "《", "》", "〈", "〉", "「", "」", "“", "”", "年", "月", "日", "号", "至", "-", "/", ".", "~",
    "：", ":", "，", "。", "；", "\n", " ", "起", "生效", "施行", "实施", "公示", "公示期", "天",
    "发布", "于", "由", "延期至", "推迟", "原定", "预计", "拟", "今日", "次日", "即日", "明日",
    "自发布之日起", "上午", "下午", "点", "时", "分", "半", "24时", "十二", "二〇二四", "〇", "廿",
    "1688", "淘宝", "天猫", "京东", "拼多多", "抖店", "快手", "小红书", "速卖通", "规范", "规则",
    "办法", "修订", "调整", "制定", "废止", "征求意见", "2024", "12", "31", "2", "30", "0", "99",
    "９", "February", "Feb", "29", "effective date", "Starting", "postponed from", "to",
    "take effect on", "announced on", "Rules", "AliExpress Seller", "根据", "中华人民共和国",
    "法", "公告", "通知", "<", ">", "{", "}", "\"", "生日效", "%", "内",
]  # fmt: skip

mixed = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=60).map("".join)
published = st.none() | st.dates() | st.datetimes()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(title=st.text(), text=st.text(), at=published)
def test_extract_never_raises_on_any_text(title, text, at):
    assert isinstance(extract(Notice(title=title, text=text, published_at=at)), list)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(title=mixed, text=mixed, at=published)
def test_extract_never_raises_on_date_like_text(title, text, at):
    for change in extract(Notice(title=title, text=text, published_at=at)):
        # An unnamed rule is None, never an empty name; every change has a key to be stored under.
        assert change.rule_key and change.rule != ""
        for day in (change.announced_on, change.effective_on, change.postponed_from):
            assert day is None or isinstance(day, date)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text() | mixed | mixed.map(lambda s: "<p>" + s) | mixed.map(lambda s: "{" + s))
def test_auto_reading_returns_or_raises_extraction_error(text):
    try:
        notices = read_notices(text, format="auto", published_at=datetime(2024, 3, 18))
    except ExtractionError:
        return
    for notice in notices:
        extract(notice)


def test_malformed_markup_is_an_extraction_error_or_read():
    for page in ["<html><![bogus", "<p><!-- open", "<div><![CDATA[x"]:
        with contextlib.suppress(ExtractionError):
            read_notices(page, format="html")
