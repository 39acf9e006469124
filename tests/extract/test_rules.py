"""Rule names, platforms, keys and kinds, in sentences written for these tests."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from alerts.extract import ChangeKind, Notice, extract
from alerts.extract.rules import canonical_rule

NOON = datetime(2024, 3, 18, 12, 0)


def changes(title: str, text: str = "", published=NOON):
    return extract(Notice(title=title, text=text, published_at=published))


def only(title: str, text: str = ""):
    found = changes(title, text)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("title", "text", "kind"),
    [
        pytest.param(
            "淘宝就修订《淘宝网评价规范》公开征求意见",
            "",
            ChangeKind.consultation,
            id="consultation",
        ),
        pytest.param("京东制定《京东直播管理规范》", "", ChangeKind.new, id="new"),
        pytest.param("拼多多出台《拼多多新品保护规则》", "", ChangeKind.new, id="new-chutai"),
        pytest.param("《抖店商品发布规范》升级", "", ChangeKind.amendment, id="amendment"),
        pytest.param("快手废止《快手小店旧版保证金规则》", "", ChangeKind.repeal, id="repeal"),
        pytest.param(
            "小红书发布《小红书商家违规管理规则》修订通知",
            "",
            ChangeKind.amendment,
            id="fabu-of-amendment",
        ),
    ],
)
def test_kinds(title, text, kind):
    assert only(title, text).kind is kind


@pytest.mark.parametrize(
    ("title", "text", "platform", "key"),
    [
        pytest.param(
            "抖店更新《商品发布规范》",
            "",
            "抖音电商",
            "抖音电商商品发布规范",
            id="doudian-is-douyin",
        ),
        pytest.param("天猫修订《营销活动规范》", "", "天猫", "天猫营销活动规范", id="tmall"),
        pytest.param(
            "《淘宝网营销活动规范》", "", "淘宝", "淘宝营销活动规范", id="taobao-prefixed"
        ),
        pytest.param(
            "速卖通更新《卖家规则》",
            "1666发布公告称速卖通将更新规则。",
            "速卖通",
            "速卖通卖家规则",
            id="typo-platform",
        ),
    ],
)
def test_platforms_and_keys(title, text, platform, key):
    found = only(title, text)
    assert (found.platform, found.rule_key) == (platform, key)


def test_cited_law_is_not_a_rule():
    found = extract(
        Notice(
            title="淘宝修订《淘宝网商品发布规范》",
            text="根据《中华人民共和国电子商务法》，淘宝修订《淘宝网商品发布规范》，2024年5月1日生效。",
            published_at=NOON,
        )
    )
    assert [c.rule for c in found] == ["淘宝网商品发布规范"]


@pytest.mark.parametrize(
    ("title", "text", "rule"),
    [
        pytest.param("淘宝网评价规范变更公示", "", "淘宝网评价规范", id="name-first-title"),
        pytest.param("淘宝网关于评价规范变更的公告", "", "评价规范", id="guanyu-title"),
        pytest.param("拼多多调整商品描述规范7月1日起生效", "", "商品描述规范", id="verb-title"),
        pytest.param("京东修订商品发布规范", "", "商品发布规范", id="verb-inside-name"),
        pytest.param("《 抖店 商品\n发布规范 》更新", "", "抖店商品发布规范", id="spaces-removed"),
        pytest.param(
            "《淘宝网关于修订〈淘宝网评价规范〉的公告》", "", "淘宝网评价规范", id="inner-brackets"
        ),
        pytest.param(
            "AliExpress updates the AliExpress Seller Rules", "", "AliExpress Seller Rules", id="en"
        ),
    ],
)
def test_rule_names(title, text, rule):
    assert only(title, text).rule == rule


def test_title_and_text_name_one_rule_and_the_fuller_name_wins():
    found = only(
        "快手修订《商品信息发布规范》", "本次修订《快手电商商品信息发布规范》，4月1日起生效。"
    )
    assert (found.rule, found.rule_key, found.platform) == (
        "快手电商商品信息发布规范",
        "快手商品信息发布规范",
        "快手",
    )


def test_rule_named_in_passing_is_not_a_change():
    found = changes(
        "淘宝修订《淘宝网商品发布规范》",
        "淘宝修订《淘宝网商品发布规范》，与《淘宝网市场管理与违规处理规范》相关条款保持一致，"
        "修订后的规范将于2024年4月1日生效。",
    )
    assert [(c.rule, c.effective_on) for c in found] == [("淘宝网商品发布规范", date(2024, 4, 1))]


def test_comment_period_implies_no_effective_date():
    found = only(
        "1688关于《1688商品发布规范》的公开征求意见", "征求意见时间：2024年3月1日-2024年3月7日"
    )
    assert (found.kind, found.announced_on, found.effective_on) == (
        ChangeKind.consultation,
        date(2024, 3, 1),
        None,
    )


def test_a_change_without_a_rule_name_is_kept_with_its_dates():
    found = only("天猫规则变更", "3月18日-3月24日为公示期，3月25日起生效。")
    assert (found.rule, found.platform, found.announced_on, found.effective_on) == (
        None,
        "天猫",
        date(2024, 3, 18),
        date(2024, 3, 25),
    )


@pytest.mark.parametrize(
    ("name", "platform", "expected"),
    [
        pytest.param(
            "商家发货行为管理规范",
            "1688",
            ("商家发货行为管理规范", "1688商家发货行为管理规范", "1688"),
            id="adds-platform",
        ),
        pytest.param(
            "《1688商家发货行为管理规范》",
            None,
            ("1688商家发货行为管理规范", "1688商家发货行为管理规范", "1688"),
            id="reads-platform",
        ),
        pytest.param(
            "商品发布规范",
            "抖店",
            ("商品发布规范", "抖音电商商品发布规范", "抖音电商"),
            id="canonical-platform",
        ),
        pytest.param(
            "商品发布规范", None, ("商品发布规范", "商品发布规范", None), id="no-platform"
        ),
    ],
)
def test_canonical_rule_for_hand_entered_changes(name, platform, expected):
    assert canonical_rule(name, platform) == expected


def test_consultation_draft_and_its_rule_are_one_rule():
    found = only(
        "抖音电商发布《电商创作者违规行为管理规则》征求意见稿",
        "抖音电商近日发布《电商创作者违规行为管理规则（征求意见稿）》，"
        "征求意见期为2024年3月20日至3月27日，拟于2024年4月10日生效。",
    )
    assert (found.rule, found.rule_key, found.kind) == (
        "电商创作者违规行为管理规则",
        "抖音电商创作者违规行为管理规则",
        ChangeKind.consultation,
    )
    assert (found.announced_on, found.effective_on, found.tentative) == (
        date(2024, 3, 20),
        date(2024, 4, 10),
        True,
    )
