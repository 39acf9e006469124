"""Every date form the extractor reads, in sentences written for these tests (not the seed's)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from alerts.extract import Notice, extract

NOON = datetime(2024, 3, 18, 12, 0)


def only(title: str, text: str, published: datetime | date | None = NOON):
    found = extract(Notice(title=title, text=text, published_at=published))
    assert len(found) == 1, found
    return found[0]


def dates_of(candidate) -> dict[str, object]:
    return {
        "announced_on": candidate.announced_on,
        "effective_on": candidate.effective_on,
        "effective_at": candidate.effective_at,
        "tentative": candidate.tentative,
        "postponed_from": candidate.postponed_from,
    }


def expect(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "announced_on": None,
        "effective_on": None,
        "effective_at": None,
        "tentative": False,
        "postponed_from": None,
    }
    return base | fields


D = date
CASES = [
    pytest.param(
        "淘宝网修订《淘宝网商品发布规范》",
        "本次修订于2024年3月18日公示，2024年3月25日生效。",
        NOON,
        expect(announced_on=D(2024, 3, 18), effective_on=D(2024, 3, 25)),
        id="year-month-day",
    ),
    pytest.param(
        "《京东开放平台商家积分管理规则》变更公告",
        "规则于2024年03月08日公示，将于2024年03月15日起正式生效。",
        NOON,
        expect(announced_on=D(2024, 3, 8), effective_on=D(2024, 3, 15)),
        id="zero-padded",
    ),
    pytest.param(
        "拼多多调整商品描述规范",
        "公示时间：2024-05-06；生效时间：2024-05-13。",
        NOON,
        expect(announced_on=D(2024, 5, 6), effective_on=D(2024, 5, 13)),
        id="iso-dashes-with-labels",
    ),
    pytest.param(
        "《抖店商家违规行为管理规则》更新",
        "新规则于2024/6/1发布，2024/6/8生效。",
        NOON,
        expect(announced_on=D(2024, 6, 1), effective_on=D(2024, 6, 8)),
        id="slashes-and-fabu",
    ),
    pytest.param(
        "《快手小店售后服务规范》修订",
        "本次修订2024.7.1公示，2024.7.8实施。",
        NOON,
        expect(announced_on=D(2024, 7, 1), effective_on=D(2024, 7, 8)),
        id="dotted-and-shishi",
    ),
    pytest.param(
        "小红书修订《小红书商家违规管理规则》",
        "新规则将于8月15日起施行。",
        datetime(2024, 8, 1, 9, 30),
        expect(effective_on=D(2024, 8, 15)),
        id="month-day-year-from-publish",
    ),
    pytest.param(
        "《淘宝网评价规范》调整",
        "调整后的规范1月5日生效。",
        datetime(2024, 12, 20, 10, 0),
        expect(effective_on=D(2025, 1, 5)),
        id="december-article-about-january",
    ),
    pytest.param(
        "《京东售后服务规则》更新",
        "新规则3月28号起正式执行。",
        NOON,
        expect(effective_on=D(2024, 3, 28)),
        id="hao-for-ri",
    ),
    pytest.param(
        "《天猫商家营销准入基础规则》修订",
        "本次修订于 2024 年 4 月 2 日公示，2024 年 4 月 9 日 生效。",
        NOON,
        expect(announced_on=D(2024, 4, 2), effective_on=D(2024, 4, 9)),
        id="spaces-inside-dates",
    ),
    pytest.param(
        "《拼多多发货规则》变更",
        "本次变更２０２４年４月１日公示，２０２４年４月８日生效。",
        NOON,
        expect(announced_on=D(2024, 4, 1), effective_on=D(2024, 4, 8)),
        id="full-width-digits",
    ),
    pytest.param(
        "《抖音电商创作者管理总则》修订",
        "修订后的总则自二〇二四年十二月五日起施行。",
        NOON,
        expect(effective_on=D(2024, 12, 5)),
        id="chinese-numerals",
    ),
    pytest.param(
        "《快手电商商品信息发布规范》调整",
        "调整内容十二月五日起生效。",
        datetime(2024, 11, 20, 8, 0),
        expect(effective_on=D(2024, 12, 5)),
        id="chinese-numerals-no-year",
    ),
    pytest.param(
        "《小红书社区公约》更新",
        "更新后的公约今日起生效。",
        datetime(2024, 5, 10, 9, 0),
        expect(effective_on=D(2024, 5, 10)),
        id="jinri",
    ),
    pytest.param(
        "《淘宝网七天无理由退货规范》修订",
        "修订内容今天公示，明日起正式实施。",
        datetime(2024, 5, 10, 9, 0),
        expect(announced_on=D(2024, 5, 10), effective_on=D(2024, 5, 11)),
        id="jintian-mingri",
    ),
    pytest.param(
        "《京东开放平台发票管理规范》修订",
        "平台已于今日完成公示，修订后的规范于次日生效。",
        datetime(2024, 5, 10, 9, 0),
        expect(announced_on=D(2024, 5, 10), effective_on=D(2024, 5, 11)),
        id="ciri",
    ),
    pytest.param(
        "拼多多发布《拼多多商家客服管理规则》",
        "本规则即日起生效。",
        datetime(2024, 6, 3, 15, 0),
        expect(effective_on=D(2024, 6, 3)),
        id="jiri-qi",
    ),
    pytest.param(
        "抖店出台《抖店商品发布规范》",
        "本规范自发布之日起施行。",
        date(2024, 6, 3),
        expect(effective_on=D(2024, 6, 3)),
        id="from-the-day-of-publishing",
    ),
    pytest.param(
        "《淘宝网商品品质抽检规则》变更",
        "本次变更于2024年4月1日公示，公示期7天。",
        NOON,
        expect(announced_on=D(2024, 4, 1), effective_on=D(2024, 4, 8)),
        id="notice-period-days",
    ),
    pytest.param(
        "《天猫商品信息发布规范》变更",
        "本次变更于2024年4月1日在天猫规则频道公示，为期7天，公示期满后生效。",
        NOON,
        expect(announced_on=D(2024, 4, 1), effective_on=D(2024, 4, 8)),
        id="notice-period-weiqi",
    ),
    pytest.param(
        "《小红书商家违规管理规则》变更",
        "2024年4月1日起进行7天公示，公示期满后生效。本次变更4月1日公示的内容包括……",
        NOON,
        expect(announced_on=D(2024, 4, 1), effective_on=D(2024, 4, 8)),
        id="notice-period-days-first",
    ),
    pytest.param(
        "《京东物流服务规范》调整",
        "本次调整公示期至2024年4月7日，请商家知悉。",
        NOON,
        expect(effective_on=D(2024, 4, 8)),
        id="notice-period-until",
    ),
    pytest.param(
        "《拼多多虚假发货规则》修订",
        "公示期为2024年4月1日-4月7日。",
        NOON,
        expect(announced_on=D(2024, 4, 1), effective_on=D(2024, 4, 8)),
        id="notice-period-range",
    ),
    pytest.param(
        "《快手小店商品发布规范》修订",
        "公示期为2024年4月1日至2024年4月7日，生效时间为2024年4月10日。",
        NOON,
        expect(announced_on=D(2024, 4, 1), effective_on=D(2024, 4, 10)),
        id="notice-period-range-and-explicit-effective",
    ),
    pytest.param(
        "《小红书电商运营规范》变更",
        "本次变更2024年12月25日公示，1月2日生效。",
        None,
        expect(announced_on=D(2024, 12, 25), effective_on=D(2025, 1, 2)),
        id="year-from-another-date",
    ),
    pytest.param(
        "《京东商品质量管理规范》调整 7月1日起生效",
        "为提升消费者购物体验，京东对商品质量要求进行调整。",
        datetime(2024, 6, 20, 10, 0),
        expect(effective_on=D(2024, 7, 1)),
        id="effective-date-only-in-headline",
    ),
    pytest.param(
        "拼多多调整商品描述规范7月1日起正式生效",
        "拼多多对商品描述的要求进行了调整。",
        datetime(2024, 6, 20, 10, 0),
        expect(effective_on=D(2024, 7, 1)),
        id="headline-without-brackets",
    ),
    pytest.param(
        "《抖店售后服务规范》更新",
        "新规将于2024年3月18日10:00生效。",
        NOON,
        expect(effective_on=D(2024, 3, 18), effective_at=time(10, 0)),
        id="time-colon",
    ),
    pytest.param(
        "《淘宝网营销活动规范》更新",
        "新规2024年3月18日10点起生效。",
        NOON,
        expect(effective_on=D(2024, 3, 18), effective_at=time(10, 0)),
        id="time-dian",
    ),
    pytest.param(
        "《京东开放平台营销规则》更新",
        "新规3月20日下午3时30分起实施。",
        NOON,
        expect(effective_on=D(2024, 3, 20), effective_at=time(15, 30)),
        id="time-afternoon",
    ),
    pytest.param(
        "《拼多多商家客服管理规则》更新",
        "新规则于2024年3月22日上午10时起执行。",
        NOON,
        expect(effective_on=D(2024, 3, 22), effective_at=time(10, 0)),
        id="time-morning",
    ),
    pytest.param(
        "《京东开放平台商品发布规范》修订",
        "本次修订于2024年3月15日（星期五）公示，公示期为5个工作日。",
        NOON,
        expect(announced_on=D(2024, 3, 15), effective_on=D(2024, 3, 22)),
        id="notice-period-working-days",
    ),
    pytest.param(
        "《抖店商家违规行为管理规则》修订",
        "修订后的规则自公示期满后（即2024年3月25日）生效。",
        NOON,
        expect(effective_on=D(2024, 3, 25)),
        id="date-in-brackets",
    ),
    pytest.param(
        "《快手电商直播管理规范》更新",
        "修订内容于2024年3月31日24时起生效。",
        NOON,
        expect(effective_on=D(2024, 4, 1), effective_at=time(0, 0)),
        id="time-24-is-next-day",
    ),
    pytest.param(
        "淘寶網修訂《淘寶網市場管理與違規處理規範》",
        "本次變更於2024年3月18日公示，2024年3月25日生效。",
        NOON,
        expect(announced_on=D(2024, 3, 18), effective_on=D(2024, 3, 25)),
        id="traditional-characters",
    ),
    pytest.param(
        "Taobao revises the Product Listing Rules",
        "The revised rules were announced on February 26, 2024 and will take effect on "
        "March 5, 2024.",
        NOON,
        expect(announced_on=D(2024, 2, 26), effective_on=D(2024, 3, 5)),
        id="english-take-effect",
    ),
    pytest.param(
        "AliExpress updates the AliExpress Seller Rules",
        "Effective date: August 2, 2016.",
        date(2016, 7, 20),
        expect(effective_on=D(2016, 8, 2)),
        id="english-effective-date",
    ),
    pytest.param(
        "AliExpress Seller Rules updated",
        "Starting 9 January 2024, sellers must ship within 5 days.",
        date(2024, 1, 2),
        expect(effective_on=D(2024, 1, 9)),
        id="english-starting",
    ),
    pytest.param(
        "《抖店商品发布规范》延期生效",
        "原定于2024年3月1日生效的《抖店商品发布规范》延期至2024年4月1日生效。",
        NOON,
        expect(effective_on=D(2024, 4, 1), postponed_from=D(2024, 3, 1)),
        id="postponed-from-to",
    ),
    pytest.param(
        "快手调整商品信息发布规范生效时间",
        "快手将《快手电商商品信息发布规范》的生效时间由2024年5月1日推迟至2024年6月1日。",
        NOON,
        expect(effective_on=D(2024, 6, 1), postponed_from=D(2024, 5, 1)),
        id="postponed-you-zhi",
    ),
    pytest.param(
        "《小红书商家违规管理规则》生效时间调整",
        "该规则原本将于2024年5月1日生效。现平台决定延期至2024年5月15日生效。",
        NOON,
        expect(effective_on=D(2024, 5, 15), postponed_from=D(2024, 5, 1)),
        id="postponed-old-date-elsewhere",
    ),
    pytest.param(
        "Douyin postpones the Creator Management Rules",
        "The rules have been postponed from March 1, 2024 to April 1, 2024.",
        NOON,
        expect(effective_on=D(2024, 4, 1), postponed_from=D(2024, 3, 1)),
        id="postponed-english",
    ),
    pytest.param(
        "淘宝拟修订《淘宝网评价规范》",
        "修订后的规范预计2024年9月1日生效。",
        NOON,
        expect(effective_on=D(2024, 9, 1), tentative=True),
        id="tentative-yuji",
    ),
    pytest.param(
        "《京东开放平台商家违规积分规则》修订",
        "修订后的规则拟于2024年9月1日起施行。",
        NOON,
        expect(effective_on=D(2024, 9, 1), tentative=True),
        id="tentative-ni",
    ),
    pytest.param(
        "《拼多多商家客服管理规则》更新",
        "商家需在15日内完成整改，近30天内的订单均计入考核，3分钟回复率低于50%将受限，每月1日统计。",
        NOON,
        expect(),
        id="durations-are-not-dates",
    ),
    pytest.param(
        "《抖店商家违规行为管理规则》更新",
        "新规则将于生日效后对所有商家适用。",
        NOON,
        expect(),
        id="typo-is-not-a-date",
    ),
    pytest.param(
        "《快手小店售后服务规范》调整",
        "调整后的规范3月1日起生效。",
        None,
        expect(),
        id="no-publish-time-no-year",
    ),
    pytest.param(
        "《淘宝网商品发布规范》调整",
        "调整后的规范于2024年2月30日生效。",
        NOON,
        expect(),
        id="invalid-date-dropped",
    ),
    pytest.param(
        "京东调整《京东开放平台发票管理规范》",
        "3月18日消息，京东今日公告称，将对《京东开放平台发票管理规范》进行调整。",
        NOON,
        expect(),
        id="dateline-and-gonggao-are-not-gongshi",
    ),
    pytest.param(
        "拼多多发布《拼多多退款管理规则》",
        "拼多多日前发布《拼多多退款管理规则》，新规则2024年4月2日起将全面覆盖所有类目。",
        NOON,
        expect(effective_on=D(2024, 4, 2)),
        id="bare-qi-before-a-verb",
    ),
    pytest.param(
        "《天猫服务规则》修订",
        "修订后的规则2024年4月10日开始生效。",
        NOON,
        expect(effective_on=D(2024, 4, 10)),
        id="kaishi-shengxiao",
    ),
    pytest.param(
        "《小红书商品发布规范》升级",
        "新版规范将于2024年4月10日正式上线。",
        NOON,
        expect(effective_on=D(2024, 4, 10)),
        id="zhengshi-shangxian",
    ),
]


@pytest.mark.parametrize(("title", "text", "published", "expected"), CASES)
def test_date_forms(title, text, published, expected):
    assert dates_of(only(title, text, published)) == expected


def test_several_rules_each_with_own_dates():
    found = extract(
        Notice(
            title="拼多多同步调整两项规则",
            text="《拼多多商品描述规范》于2024年5月6日公示，5月13日生效；"
            "《拼多多发货规则》于2024年5月8日公示，5月20日生效。",
            published_at=NOON,
        )
    )
    assert [(c.rule, c.announced_on, c.effective_on) for c in found] == [
        ("拼多多商品描述规范", D(2024, 5, 6), D(2024, 5, 13)),
        ("拼多多发货规则", D(2024, 5, 8), D(2024, 5, 20)),
    ]


def test_several_rules_sharing_one_date():
    found = extract(
        Notice(
            title="京东修订两项规则",
            text="《京东开放平台商品发布规范》和《京东开放平台售后服务规范》将于2024年6月1日起生效。",
            published_at=NOON,
        )
    )
    assert [(c.rule, c.effective_on) for c in found] == [
        ("京东开放平台商品发布规范", D(2024, 6, 1)),
        ("京东开放平台售后服务规范", D(2024, 6, 1)),
    ]


def test_traditional_text_gives_simplified_names_and_platform():
    found = only("淘寶網修訂《淘寶網市場管理與違規處理規範》", "本次變更於2024年3月18日公示。")
    assert (found.rule, found.rule_key, found.platform) == (
        "淘宝网市场管理与违规处理规范",
        "淘宝市场管理与违规处理规范",
        "淘宝",
    )


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "《快手小店发货规则》和《快手小店退款规则》将分别于2024年4月1日和2024年4月15日生效。",
            id="fenbie",
        ),
    ],
)
def test_respectively_gives_each_rule_its_own_date(text):
    found = extract(Notice(title="快手调整两项规则", text=text, published_at=NOON))
    assert [(c.rule, c.effective_on) for c in found] == [
        ("快手小店发货规则", D(2024, 4, 1)),
        ("快手小店退款规则", D(2024, 4, 15)),
    ]
