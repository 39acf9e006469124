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


def test_a_platform_change_without_a_day_is_kept_undated():
    # Known to be coming, not yet when: kept so that the notice that dates it joins it.
    [found] = changes(
        "抖店调整虚假发货违约金",
        "近日，抖店决定提高虚假发货订单的违约金，新标准的执行时间以后台公告为准。",
        None,
    )
    assert (found.rule, found.platform) == (None, "抖音电商")
    assert (found.announced_on, found.effective_on) == (None, None)


def test_navigation_before_the_repeated_headline_is_not_the_notice():
    # A scraped page: a link to another article, with its date, then the page's own headline.
    [found] = changes(
        "关于京东平台整治刷单行为的通知",
        "淘宝发布《淘宝网市场管理与违规处理规范》修订通知\n2023-05-02\n"
        "关于京东平台整治刷单行为的通知\n"
        "各位商家：\n2023年9月1日起，京东平台将对刷单行为开展专项整治。",
        None,
    )
    assert (found.rule, found.platform, found.effective_on) == (None, "京东", date(2023, 9, 1))


def test_a_later_tightening_is_not_when_the_change_starts():
    [found] = changes(
        "快手开展虚假宣传专项治理",
        "即日起，快手针对虚假宣传违规启动专项治理。9月10日起，平台将加大处罚力度。",
        datetime(2024, 9, 2, 9, 0),
    )
    assert found.effective_on == date(2024, 9, 2)


def test_a_tightening_alone_still_dates_the_change():
    [found] = changes(
        "快手加大虚假宣传处罚力度",
        "2024年9月10日起，快手将加大对虚假宣传的处罚力度。",
    )
    assert found.effective_on == date(2024, 9, 10)


def test_a_roundup_item_headed_by_its_day():
    found = changes(
        "TikTok Shop rule changes this March",
        "1. March 3rd: Referral fees reduced for home goods\n\n"
        "Sellers of home goods pay 2% less.\n\n"
        "2. Starting March 17th, stricter shipping rules for the UK\n",
        date(2025, 3, 1),
    )
    assert [c.effective_on for c in found] == [date(2025, 3, 3), date(2025, 3, 17)]
    assert {c.platform for c in found} == {"TikTok Shop"}
