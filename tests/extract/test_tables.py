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
