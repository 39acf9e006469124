"""Roundup tables flattened into text: each numbered row is a change of its own."""

from __future__ import annotations

from datetime import date

from alerts.extract import Notice, extract

CELL_A_LINE = "\n".join(
    [
        "京东三月规则变更一览",
        "序号 |", "规则名称 |", "变更要点 |", "生效时间 |",
        "1 |", "《京东开放平台售后服务规范》修订 |", "退货时限调整 |", "2023/3/6 |",
        "2 |", "商品标题发布规则变更 |", "标题字数 |", "2023/3/10 |",
        "3 |", "《京东开放平台售后服务规范》修订 |", "换货流程 |", "2023/3/20 |",
    ]
)  # fmt: skip


def test_each_row_of_a_roundup_table_is_a_change():
    found = extract(Notice(title="京东规则月报", text=CELL_A_LINE))
    assert [(c.rule, c.platform, c.effective_on) for c in found] == [
        ("京东开放平台售后服务规范", "京东", date(2023, 3, 6)),
        ("商品标题发布规则", "京东", date(2023, 3, 10)),
        ("京东开放平台售后服务规范", "京东", date(2023, 3, 20)),
    ]


def test_a_table_without_a_date_column_is_text():
    text = (
        "序号 |\n类目 |\n状态 |\n1 |\n女装 |\n开放 |\n2 |\n男装 |\n关闭 |\n"
        "《京东类目规则》将于2023年4月1日生效。"
    )
    found = extract(Notice(title="京东类目调整", text=text))
    assert [(c.rule, c.effective_on) for c in found] == [("京东类目规则", date(2023, 4, 1))]


def test_a_table_written_a_row_a_line():
    text = (
        "序号 | 规则名称 | 变更内容 | 公示时间 | 生效时间\n"
        "1 | 《京东价格规范》 | 调整划线价 | 2022-10-10 | 2022-10-17\n"
        "2 | 《京东评价规范》 | 新增追评 | 2022-10-11 | 2022-10-18\n"
        "以上内容以规则中心为准。"
    )
    found = extract(Notice(title="京东本周规则变更", text=text))
    assert [(c.rule, c.announced_on, c.effective_on) for c in found] == [
        ("京东价格规范", date(2022, 10, 10), date(2022, 10, 17)),
        ("京东评价规范", date(2022, 10, 11), date(2022, 10, 18)),
    ]


def test_rows_without_numbers_skip_the_unchanged_and_take_the_notices_posting_date():
    text = (
        "Change | Effective date\n"
        "Referral fee for jewelry reduced to 5% | March 1, 2025\n"
        "Storage fee update for oversize items | March 15, 2025\n"
        "Inbound placement fee | No change\n"
        "Posted on: Feb 3, 2025"
    )
    found = extract(Notice(title="Amazon fee changes", text=text))
    assert [(c.rule, c.platform, c.announced_on, c.effective_on) for c in found] == [
        (None, "Amazon", date(2025, 2, 3), date(2025, 3, 1)),
        (None, "Amazon", date(2025, 2, 3), date(2025, 3, 15)),
    ]


def test_a_cell_a_line_without_row_numbers():
    text = "规则名称 |\n生效时间 |\n《京东价格规范》 |\n2022/11/14 |\n《京东评价规范》 |\n— |"
    found = extract(Notice(title="京东本周新规", text=text))
    assert [(c.rule, c.effective_on) for c in found] == [
        ("京东价格规范", date(2022, 11, 14)),
        ("京东评价规范", None),
    ]


def test_a_numbered_table_with_spaces_between_cells_and_a_postponed_row():
    text = (
        "序号 规则名称 变更类型 生效时间\n"
        "1 拼多多商品价格管理规则 修订 2025年8月5日\n"
        "2 拼多多物流服务规则 延期 原定2025年8月1日生效，延期至2025年9月1日\n"
        "3 拼多多违规积分规则 引用（未变更） —\n"
    )
    found = extract(Notice(title="拼多多8月规则变更汇总", text=text))
    assert [(c.rule, c.effective_on, c.postponed_from) for c in found] == [
        ("拼多多商品价格管理规则", date(2025, 8, 5), None),
        ("拼多多物流服务规则", date(2025, 9, 1), date(2025, 8, 1)),
    ]
