"""Search: a query finds the changes whose rule, title, summary or source texts hold each of
its words, with the other filters, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from alerts.errors import RulewatchError
from alerts.timeline.ingest import add_change
from alerts.timeline.search import MAX_QUERY
from alerts.timeline.views import change_views, count_selected
from store.db import session_scope

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 1, 5, 8, tzinfo=UTC)


def enter(engine: Engine, rule: str, platform: str, day: date, **text: str) -> None:
    with session_scope(engine) as session:
        add_change(session, rule=rule, platform=platform, effective_on=day, now=NOW, tz=TZ, **text)


@pytest.fixture
def store(engine: Engine) -> Engine:
    enter(engine, "淘宝发货管理规范", "淘宝", date(2026, 3, 1), title="淘宝发货规范修订")
    enter(engine, "天猫商家保证金规则", "天猫", date(2026, 3, 2), title="保证金调整")
    enter(
        engine,
        "抖店商品规则",
        "抖店",
        date(2026, 3, 3),
        title="抖店商品信息规范",
        note="商家须在承诺时间内发货，超时将被处罚。",
    )
    enter(
        engine,
        "Amazon Seller Fee Policy",
        "亚马逊",
        date(2026, 3, 4),
        title="Referral fee changes",
        note="Sellers must review the new FBA fees.",
    )
    enter(engine, "京东售后服务规则", "京东", date(2026, 3, 5), title="售后時效調整")
    return engine


def found(engine: Engine, query: str, **filters: str) -> list[str]:
    with session_scope(engine) as session:
        views = change_views(session, today=date(2026, 1, 5), tz=TZ, search=query, **filters)
        count = count_selected(session, search=query, **filters)
    assert count == len(views)
    return [view.rule for view in views]


def test_two_characters_find_rule_names_titles_and_notice_texts(store: Engine):
    assert found(store, "发货") == ["淘宝发货管理规范", "抖店商品规则"]
    assert found(store, "售后") == ["京东售后服务规则"]
    assert found(store, "淘") == ["淘宝发货管理规范"]  # one character too


def test_three_characters_find_only_their_changes(store: Engine):
    assert found(store, "保证金") == ["天猫商家保证金规则"]
    assert found(store, "规则") == [
        "天猫商家保证金规则",
        "抖店商品规则",
        "京东售后服务规则",
    ]


def test_a_search_keeps_the_platform_filter(store: Engine):
    assert found(store, "发货", platform="抖音电商") == ["抖店商品规则"]
    assert found(store, "发货", platform="天猫") == []


def test_every_word_must_match(store: Engine):
    assert found(store, "发货 处罚") == ["抖店商品规则"]
    assert found(store, "发货  淘宝") == ["淘宝发货管理规范"]
    assert found(store, "发货 保证金") == []


def test_latin_text_is_found_whatever_its_case_or_width(store: Engine):
    assert found(store, "fba") == ["Amazon Seller Fee Policy"]
    assert found(store, "Fb") == ["Amazon Seller Fee Policy"]  # two letters
    assert found(store, "SELLER fee") == ["Amazon Seller Fee Policy"]
    assert found(store, "ＳＥＬＬＥＲ") == ["Amazon Seller Fee Policy"]  # full-width


def test_traditional_characters_find_simplified_text_and_back(store: Engine):
    assert found(store, "發貨") == ["淘宝发货管理规范", "抖店商品规则"]
    assert found(store, "时效") == ["京东售后服务规则"]


def test_wildcards_are_plain_characters(store: Engine):
    assert found(store, "%") == []
    assert found(store, "_") == []
    assert found(store, '"') == []
    assert found(store, "发%") == []  # two characters, not both letters
    assert found(store, "-") == []
    assert found(store, "发货' OR '1'='1") == []
    assert found(store, "发货 \\ %%") == []


def test_a_change_is_found_by_the_text_of_a_later_source(store: Engine):
    assert found(store, "运费险") == []
    enter(
        store,
        "淘宝发货管理规范",
        "淘宝",
        date(2026, 3, 1),
        title="淘宝发货规范修订（补充）",
        note="补充说明：运费险规则同步调整。",
    )
    assert found(store, "运费险") == ["淘宝发货管理规范"]
    assert found(store, "发货") == ["淘宝发货管理规范", "抖店商品规则"]  # still one change


def test_too_long_a_query_is_refused_saying_so(store: Engine):
    with pytest.raises(RulewatchError, match=f"at most {MAX_QUERY} characters"):
        found(store, "发" * (MAX_QUERY + 1))
