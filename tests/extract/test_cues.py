"""公示 and 生效 cues beyond the plain ones, and the noise real pages carry, in sentences
written for these tests."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from alerts.extract import Notice, extract
from alerts.extract.normalize import normalize, rejoin_lines, strip_noise


def only(title: str, text: str = "", published=None):
    found = extract(Notice(title=title, text=text, published_at=published))
    assert len(found) == 1, found
    return found[0]


def test_a_revision_is_this_changes_announcement_not_the_rules_first_publication():
    found = only(
        "京东修订《商家售后服务规范》",
        "本规则于2020年3月2日发布，于2023年8月10日修订，2023年8月17日生效。",
    )
    assert (found.announced_on, found.effective_on) == (date(2023, 8, 10), date(2023, 8, 17))


def test_one_day_for_announcement_and_effect():
    found = only(
        "关于《拼多多发货规则》变更的公示通知", "本次调整于2021年5月6日进行公示并正式生效。"
    )
    assert (found.announced_on, found.effective_on) == (date(2021, 5, 6), date(2021, 5, 6))


def test_x_qi_update_is_when_it_applies():
    found = only("快手将于6月1日起更新《快手小店退款规则》", "", datetime(2023, 5, 20, 9, 0))
    assert (found.announced_on, found.effective_on) == (None, date(2023, 6, 1))


@pytest.mark.parametrize(
    "ending",
    [
        pytest.param("特此通知。\n\n京东开放平台\n2019年7月3日", id="signature-lines"),
        pytest.param("感谢您的支持！北京京东世纪贸易有限公司2019年7月3日", id="glued-signer"),
    ],
)
def test_the_signature_date_is_the_announcement_when_no_other_is_given(ending):
    found = only(
        "《京东开放平台商品描述规范》更新通知", f"此次更新将于2019年7月10日生效。\n{ending}"
    )
    assert (found.announced_on, found.effective_on) == (date(2019, 7, 3), date(2019, 7, 10))


def test_a_date_inside_the_text_is_no_signature():
    found = only(
        "《京东开放平台商品描述规范》更新通知", "此次更新于2019年7月10日生效，请商家知悉。"
    )
    assert found.announced_on is None


def test_a_headline_year_places_month_days_of_an_old_repost():
    found = only(
        "2016淘宝新规汇总",
        "《淘宝网评价规范》将于3月8日正式生效。",
        datetime(2023, 11, 2, 8, 0),
    )
    assert found.effective_on == date(2016, 3, 8)


def test_template_brackets_around_numbers():
    found = only("现修订《小红书商品发布规范》", "规则将于2025年【02】月【10】日生效。")
    assert found.effective_on == date(2025, 2, 10)


def test_a_name_that_lost_its_opening_mark():
    found = only("淘宝规则变更汇总", "1、“淘宝好物”市场管理规范》变更公示\n将于2018年4月2日生效。")
    assert found.rule == "“淘宝好物”市场管理规范"


def test_injected_pinyin_and_markup_leave_clean_names():
    assert normalize(strip_noise("《淘寶網規(guī)則》&nbsp;<b>生效</b>")) == "《淘宝网规则》 生效"


def test_highlight_breaks_are_joined_but_list_items_and_timestamps_keep_their_lines():
    broken = "1688\n修订\n《商品发布规范》\n2023-01-05 10:00:00\n1、调整发布要求；\n2、新增类目。"
    assert rejoin_lines(broken) == (
        "1688修订《商品发布规范》\n2023-01-05 10:00:00\n1、调整发布要求；\n2、新增类目。"
    )


def test_rules_a_revision_also_touches_share_its_only_date():
    found = extract(
        Notice(
            title="京东修订《京东开放平台直播规范》 8月1日生效",
            text="本次在《直播违规处理细则》中新增条款，并新增《直播带货实施细则》。",
            published_at=datetime(2023, 7, 25, 10, 0),
        )
    )
    assert [(c.rule, c.effective_on) for c in found] == [
        ("京东开放平台直播规范", date(2023, 8, 1)),
        ("直播违规处理细则", date(2023, 8, 1)),
        ("直播带货实施细则", date(2023, 8, 1)),
    ]


def test_english_bulleted_policies_share_the_date_that_leads_into_them():
    found = extract(
        Notice(
            title="Upcoming policy changes",
            text=(
                "These changes take effect in 30 days (i.e., March 3, 2025) for these policies:\n"
                "  • Seller Fee Schedule: We are clarifying how refunds are charged.\n"
                "  • Listing Quality Standards: We are updating image requirements."
            ),
        )
    )
    assert [(c.rule, c.effective_on) for c in found] == [
        ("Seller Fee Schedule", date(2025, 3, 3)),
        ("Listing Quality Standards", date(2025, 3, 3)),
    ]


def test_today_after_a_dateline_is_the_day_of_the_dateline():
    found = only(
        "拼多多专项治理",
        "5月9日消息：今天，拼多多发布《关于虚假发货的专项治理公告》，将处罚虚假发货。",
        date(2023, 5, 12),
    )
    assert (found.rule, found.announced_on) == ("关于虚假发货的专项治理公告", date(2023, 5, 9))


def test_english_future_change_on_a_day():
    found = extract(
        Notice(
            title="Temu fee update",
            text="Temu will raise the storage fee from $1 to $2 on the fifth of May, 2025.",
        )
    )
    assert [(c.platform, c.effective_on) for c in found] == [("Temu", date(2025, 5, 5))]


def test_updated_on_is_the_announcement():
    found = only("京东规则", "《京东开放平台售后规则》更新于2024年7月30日，自2024年8月6日起实施。")
    assert (found.announced_on, found.effective_on) == (date(2024, 7, 30), date(2024, 8, 6))


def test_a_statistics_window_ending_the_text_is_no_signature():
    found = only(
        "1688",
        "《1688发货规范》于2024年8月1日生效。统计周期为2024年7月1日-7月31日。",
    )
    assert (found.announced_on, found.effective_on) == (None, date(2024, 8, 1))


def test_a_proposed_change_has_an_expected_date():
    found = only("淘宝网拟对《淘宝网评价规范》进行变更", "本次变更将于2024年9月8日正式生效。")
    assert (found.effective_on, found.tentative) == (date(2024, 9, 8), True)


def test_a_model_year_in_the_headline_is_no_year_of_the_notice():
    found = only(
        "2025款手机类目发布规范 3月1日生效",
        "《手机类目发布规范》3月1日起生效。",
        datetime(2024, 2, 20, 9, 0),
    )
    assert found.effective_on == date(2024, 3, 1)


def test_a_name_in_lenticular_brackets():
    found = only("拼多多更新【商品发布规则】", "【重要】新版将于2024年9月1日生效。")
    assert (found.rule, found.effective_on) == ("商品发布规则", date(2024, 9, 1))


def test_a_rule_whose_part_is_deleted_is_changed_too():
    found = extract(
        Notice(
            title="天猫新增《天猫安装服务规范》",
            text="此外，《天猫配送服务规范》删除安装服务相关内容。"
            "此次规则变更于2024年5月6日进行公示通知，将于2024年5月13日正式生效。",
        )
    )
    assert [(c.rule, c.announced_on, c.effective_on) for c in found] == [
        ("天猫安装服务规范", date(2024, 5, 6), date(2024, 5, 13)),
        ("天猫配送服务规范", date(2024, 5, 6), date(2024, 5, 13)),
    ]


def test_a_deadline_is_no_date_of_the_change_whatever_verb_follows():
    found = only(
        "《京东资质管理规范》更新",
        "请于2022年3月27日24:00点前完成资质更新。本规范自2022年4月1日起生效。",
    )
    assert (found.effective_on, found.effective_at) == (date(2022, 4, 1), None)


def test_a_labelled_effective_day_outranks_a_bare_qi_for_an_unnamed_change():
    found = extract(
        Notice(
            title="TikTok Shop越南更新上架要求",
            text="TikTok Shop宣布自2024年9月1日起，对上架要求进行更新。生效时间为2024年9月5日。",
        )
    )
    assert [c.effective_on for c in found] == [date(2024, 9, 5)]


def test_the_old_date_given_as_the_originally_set_one():
    found = only("《京东售后规则》延期", "生效时间由原定的2024年7月27日推迟至2024年8月10日。")
    assert (found.effective_on, found.postponed_from) == (date(2024, 8, 10), date(2024, 7, 27))


def test_a_platform_signs_the_notice():
    found = only(
        "速卖通公告",
        "速卖通将于2024年10月15日起调整《全球速卖通发货期管理规则》。\n全球速卖通\n2024年9月30日",
    )
    assert (found.announced_on, found.effective_on) == (date(2024, 9, 30), date(2024, 10, 15))


def test_the_day_of_publication_is_the_labelled_publish_date():
    found = only(
        "饿了么平台商户食品安全管理规范",
        "发布时间：2023年10月18日\n第一条 为保障饮食安全，制定本规范。\n"
        "第九条 本规范自发布之日起施行。",
    )
    assert (found.rule, found.effective_on) == (
        "饿了么平台商户食品安全管理规范",
        date(2023, 10, 18),
    )


def test_a_label_for_the_next_date_is_no_cue_for_this_one():
    found = only(
        "抖音电商《商家保证金管理规范》",
        "发布时间：2023-04-20 更新于：2023-05-06\n"
        "本规范于2023年5月6日修订，自2023年5月13日起生效。",
    )
    assert (found.announced_on, found.effective_on) == (date(2023, 5, 6), date(2023, 5, 13))


def test_a_roundup_item_of_another_platform_does_not_share_the_announcement():
    found = extract(
        Notice(
            title="本周电商规则速递",
            text="1.淘宝：《淘宝网评价规范》于2024年7月12日公示，7月19日生效。\n"
            "2.快手：《快手小店保证金管理规则》已于2024年7月10日生效。",
        )
    )
    assert [(c.platform, c.announced_on, c.effective_on) for c in found] == [
        ("淘宝", date(2024, 7, 12), date(2024, 7, 19)),
        ("快手", None, date(2024, 7, 10)),
    ]


def test_a_planned_change_has_an_expected_date():
    found = only("淘宝平台计划对《淘宝网直播规范》进行修订", "修订后的规范将于2024年9月8日生效。")
    assert found.tentative is True


def test_a_numbered_heading_is_not_joined_to_the_dates_below_it():
    found = extract(
        Notice(
            title="京东拟对《京东开放平台价格规范》及《京东开放平台评价规范》进行变更",
            text="一、变更内容\n1.《京东开放平台价格规范》新增划线价要求；\n"
            "2.《京东开放平台评价规范》调整评价解释期；\n三、公示及生效\n"
            "本次规则变更于2024年6月12日进行公示通知，将于2024年6月19日正式生效。",
        )
    )
    assert [(c.announced_on, c.effective_on, c.tentative) for c in found] == [
        (date(2024, 6, 12), date(2024, 6, 19), True),
        (date(2024, 6, 12), date(2024, 6, 19), True),
    ]


def test_from_the_day_of_publication_is_the_signed_day():
    found = only(
        "拼多多关于《拼多多发货规则》修订的公告",
        "修订后的规则自本公告发布之日起生效。\n拼多多平台\n二〇二四年十一月十八日",
    )
    assert (found.announced_on, found.effective_on) == (date(2024, 11, 18), date(2024, 11, 18))


def test_from_today_is_the_day_the_sentence_says_it_was_published():
    found = only(
        "电商新规周报",
        "快手电商于8月30日发布《快手电商售后服务规则》更新，即日起生效。",
        datetime(2024, 9, 2, 20, 0),
    )
    assert (found.announced_on, found.effective_on) == (date(2024, 8, 30), date(2024, 8, 30))


def test_a_change_put_off_keeps_no_effective_day():
    found = extract(
        Notice(
            title="拼多多两项规则调整公告",
            text="一、《拼多多退货规则》修订完成，将于2025年4月1日起生效；\n"
            "二、原定于2025年4月1日生效的《拼多多店铺评分规则》暂缓实施，实施时间另行通知。",
            published_at=datetime(2025, 3, 25, 10, 0),
        )
    )
    assert [(c.rule, c.effective_on, c.postponed_from) for c in found] == [
        ("拼多多退货规则", date(2025, 4, 1), None),
        ("拼多多店铺评分规则", None, date(2025, 4, 1)),
    ]


def test_a_rule_said_to_stay_as_it_is_is_no_change():
    found = extract(
        Notice(
            title="拼多多规则调整公告",
            text="《拼多多退货规则》将于2025年4月1日起生效；《拼多多推广服务协议》本次未作修改。",
        )
    )
    assert [c.rule for c in found] == ["拼多多退货规则"]


def test_a_deadline_with_a_time_of_day_is_no_date_of_the_change():
    found = extract(
        Notice(
            title="京东提醒商家更新资质",
            text="请各商家于2023年6月30日24:00点前完成资质更新，逾期将下架商品。",
        )
    )
    assert all(c.effective_on is None for c in found), found


def test_a_headline_month_keeps_a_reposts_month_days_in_their_year():
    found = only(
        "2019年4月天猫新规汇总",
        "发布日期：2025-06-02 10:11:12  来源：电商资讯  作者：小编\n"
        "天猫修订《天猫商品描述规范》，于4月8日公示，4月15日起生效。",
        datetime(2025, 6, 2, 10, 11),
    )
    assert (found.announced_on, found.effective_on) == (date(2019, 4, 8), date(2019, 4, 15))


def test_a_news_pages_header_date_is_not_an_announcement():
    found = only(
        "拼多多调整《拼多多退货包运费规则》",
        "发布时间：2024-03-05 08:00:00  来源：商家社区  浏览：128\n"
        "拼多多调整《拼多多退货包运费规则》，新规于2024年3月20日起执行。",
    )
    assert (found.announced_on, found.effective_on) == (None, date(2024, 3, 20))


def test_the_second_revision_is_this_changes_announcement():
    found = only(
        "闲鱼修订《闲鱼社区规范》",
        "本规范于2020年9月1日首次发布，于2022年11月3日第三次修订，2022年11月10日生效。",
    )
    assert (found.announced_on, found.effective_on) == (date(2022, 11, 3), date(2022, 11, 10))


def test_from_x_qi_a_notice_opens_is_an_announcement():
    found = only(
        "关于修订《小红书电商商品发布规范》的公示",
        "小红书于2024年5月6日起对《小红书电商商品发布规范》的修订内容进行公示，公示期满后生效时间另行通知。",
    )
    assert (found.announced_on, found.effective_on) == (date(2024, 5, 6), None)


def test_a_day_opening_its_sentence_then_who_published():
    found = only(
        "快手发布《快手小店直播带货规范》",
        "3月4日，快手电商发布《快手小店直播带货规范》，新规将于2024年3月11日起正式施行。",
        datetime(2024, 3, 5, 9, 0),
    )
    assert (found.announced_on, found.effective_on) == (date(2024, 3, 4), date(2024, 3, 11))


def test_from_the_start_of_a_named_cycle():
    found = only(
        "Lazada更新《卖家发货时效政策》",
        "马来西亚站自2024年7月1日的考核周期（含6月20日之后创建的订单）起，按新标准计算迟发率。",
    )
    assert found.effective_on == date(2024, 7, 1)


@pytest.mark.parametrize(
    "window",
    ["2024年11月1日至2024年11月20日", "2024年11月1日2024年11月20日"],
    ids=["with-zhi", "glued-by-a-mirror"],
)
def test_a_temporary_measure_takes_effect_on_its_windows_first_day(window):
    found = only(
        "京东大促期间发货时效调整",
        f"为保障大促履约，{window}期间，平台将把家电类目的发货时效由48小时放宽到72小时。",
    )
    assert found.effective_on == date(2024, 11, 1)


def test_a_window_in_which_a_rule_is_not_enforced_is_no_date_of_the_rule():
    found = extract(
        Notice(
            title="Shopee调整《卖家延迟发货政策》",
            text="Shopee宣布自2025年3月10日起实施新的《卖家延迟发货政策》；"
            "在2025年2月20日至3月9日期间暂不执行《第4.2条》关于揽收时效的要求。",
        )
    )
    dates = {c.effective_on for c in found if c.effective_on}
    assert dates == {date(2025, 3, 10)}, found


def test_a_section_number_before_a_chinese_date_is_not_a_date():
    found = only(
        "拼多多双十一发货特殊规定",
        "1.1.2023年11月11日00:00:00至2023年11月11日23:59:59期间成交的订单，发货时限调整为72小时。",
    )
    assert found.effective_on == date(2023, 11, 11)


def test_a_notice_signed_by_a_platforms_e_commerce_team():
    found = only(
        "关于《快手小店售后服务规范》的修订公示",
        "快手电商拟修订《快手小店售后服务规范》，公示期为5个工作日，生效时间另行通知。\n快手电商\n2024年9月2日",
        datetime(2024, 9, 2),
    )
    assert (found.announced_on, found.effective_on) == (date(2024, 9, 2), None)


def test_a_notice_period_given_as_from_to_before_its_object():
    found = only(
        "1688关于修订《1688商品发布规范》的公示",
        "1688于2025年3月3日至3月9日对《1688商品发布规范》修订内容进行公示。",
    )
    assert (found.announced_on, found.effective_on) == (date(2025, 3, 3), date(2025, 3, 10))


def test_a_proposed_change_without_a_day_is_tentative():
    found = only(
        "饿了么拟调整《饿了么商家配送服务规则》",
        "饿了么拟调整《饿了么商家配送服务规则》，调整将于近期生效，具体时间另行通知。",
    )
    assert (found.effective_on, found.tentative) == (None, True)


def test_a_draft_put_online_for_comments_is_announced_not_effective():
    found = extract(
        Notice(
            title="抖音电商就《商品标题规范》征求意见",
            text="抖音电商3月2日在规则中心上线《抖音电商商品标题规范（征求意见稿）》，征集商家意见；"
            "正式规则拟于3月18日生效。",
            published_at=datetime(2025, 3, 2, 18, 0),
        )
    )
    assert {c.effective_on for c in found} <= {date(2025, 3, 18), None}, found
    assert date(2025, 3, 2) in {c.announced_on for c in found}, found


def test_one_rule_taking_effect_on_two_platforms_on_two_days_is_two_changes():
    found = extract(
        Notice(
            title="淘宝、天猫修订《商品材质标准》",
            text="该标准在天猫将于2025年3月3日起生效，在淘宝上则于3月10日起生效。",
            published_at=datetime(2025, 2, 20, 10, 0),
        )
    )
    assert sorted((c.platform, c.rule_key, c.effective_on) for c in found) == [
        ("天猫", "天猫商品材质标准", date(2025, 3, 3)),
        ("淘宝", "淘宝商品材质标准", date(2025, 3, 10)),
    ]


def test_put_to_public_notice_on_a_day_with_the_rule_between():
    [found] = extract(
        Notice(
            title="京东调整售后规则",
            text="京东于8月5日对《京东开放平台售后服务规范》的修订进行公示，修订将于8月20日起生效。",
            published_at=datetime(2025, 8, 6, 9, 0),
        )
    )
    assert (found.announced_on, found.effective_on) == (date(2025, 8, 5), date(2025, 8, 20))
