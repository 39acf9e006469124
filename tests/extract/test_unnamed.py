"""Changes whose notice names no rule: kept, keyed by platform and headline subject."""

from __future__ import annotations

from datetime import date, datetime

from alerts.extract import Notice, extract

NOON = datetime(2024, 3, 18, 12, 0)


def changes(title: str, text: str = "", published=NOON):
    return extract(Notice(title=title, text=text, published_at=published))


def test_a_fee_change_without_a_rule_name_is_a_change():
    [found] = changes("亚马逊调整配送费", "自2024年4月1日起，亚马逊将调整FBA配送费。")
    assert (found.rule, found.platform, found.effective_on) == (None, "Amazon", date(2024, 4, 1))
    assert found.rule_key.startswith("Amazon")


def test_a_change_in_two_stages_is_two_changes():
    found = changes(
        "快手上调技术服务费",
        "快手小店技术服务费自2024年5月1日起调整为3%，自2024年8月1日起调整为5%。",
    )
    assert [(c.platform, c.effective_on) for c in found] == [
        ("快手", date(2024, 5, 1)),
        ("快手", date(2024, 8, 1)),
    ]


def test_reposts_of_one_headline_share_a_key():
    first = changes("【快讯】拼多多3月20日起调整退货包运费", "3月20日起执行。")
    second = changes("拼多多将于3月20日调整退货包运费", "新规3月20日起生效。")
    assert first[0].rule_key == second[0].rule_key
    assert "退货包运费" in first[0].rule_key


def test_news_that_changes_nothing_gives_no_change():
    assert changes("京东发布2023年第三季度财报", "京东集团今日发布财报，营收同比增长。") == []


def test_items_of_a_news_list_are_changes_of_their_own():
    found = changes(
        "电商平台规则速递",
        "1. 京东将于2023年6月1日起调整自营商品的退货运费。\n"
        "2. 5月20日起，京东推出618专区。\n"
        "3. 京东将对《京东开放平台商品描述规范》进行修订。",
        None,
    )
    assert [(c.rule, c.platform, c.effective_on) for c in found] == [
        ("京东开放平台商品描述规范", "京东", None),
        (None, "京东", date(2023, 6, 1)),
    ]
