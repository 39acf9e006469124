"""Texts naming many rules: one change per rule, each with its own dates.

Speed is measured by bench/extract.py, not here; these are the behaviours the linear-time code
must keep. The quick-reject lookaheads in front of some patterns must change no match.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.extract import Notice, cues, dates, extract, platforms, rules

from .seed import seed_items
from .test_fuzz import FRAGMENTS
from .test_quick_scans import EN_NAME

PUBLISHED = datetime(2024, 1, 15, 10, 0)
SHAPES = [
    "《商家规则第{n}号》将于{d}起正式生效，请商家提前做好准备。",
    "平台修订了《店铺经营管理规范第{n}号》，修订后于{d}生效。",
    "经公示，《商品发布细则第{n}号》自{d}起施行。",
    "淘宝新增《淘宝消费者保障规则第{n}号》，于{d}起执行。",
]


def _cn(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def test_a_text_naming_many_rules_yields_one_change_per_rule():
    count = 2_000
    days = [date(2024, 3, 1) + timedelta(days=n % 600) for n in range(count)]
    text = "\n".join(SHAPES[n % len(SHAPES)].format(n=n, d=_cn(day)) for n, day in enumerate(days))
    changes = extract(Notice("规则中心：本期规则变更汇总", text, PUBLISHED))
    assert len(changes) == count
    assert len({change.rule_key for change in changes}) == count
    assert [change.rule.endswith(f"第{n}号") for n, change in enumerate(changes)] == [True] * count
    assert [change.effective_on for change in changes] == days
    # Unprefixed names take the platform of the text (淘宝, the one it names).
    assert {change.platform for change in changes} == {"淘宝"}


def test_a_list_of_many_rules_in_one_sentence_shares_its_verb_and_date():
    count = 1_000
    names = "、".join(f"《商家规则第{n}号》" for n in range(count))
    # The verb before the list counts for every name in it; a name in passing is dropped.
    text = f"本次调整涉及{names}，将于2024年3月1日生效。与《其他规则》保持一致。"
    changes = extract(Notice("规则汇总", text, PUBLISHED))
    assert [change.rule for change in changes] == [f"商家规则第{n}号" for n in range(count)]
    assert {change.effective_on for change in changes} == {date(2024, 3, 1)}


def _without_lookahead(pattern: re.Pattern[str]) -> re.Pattern[str]:
    bare = re.sub(r"^\(\?=\[[^\]]*\]\)", "", pattern.pattern, count=1)
    assert bare != pattern.pattern
    return re.compile(bare, pattern.flags)


QUICK = [dates._DATE, dates._CN_MONTH_DAY, cues._NOTICE_DAYS]
PLAIN = [_without_lookahead(pattern) for pattern in QUICK]
# _EN_NAME opens with a character set now, not a lookahead: compared with the pattern it
# stands for, as written before.
QUICK.append(rules._EN_NAME)
PLAIN.append(EN_NAME)
PLAIN_ANY = re.compile(
    "|".join(platforms._alias_pattern(alias) for alias in platforms._ALIASES), re.IGNORECASE
)


def _same_matches(text: str) -> None:
    for quick, plain in [*zip(QUICK, PLAIN, strict=True), (platforms._ANY, PLAIN_ANY)]:
        got = [(m.span(), m.groups()) for m in quick.finditer(text)]
        assert got == [(m.span(), m.groups()) for m in plain.finditer(text)], quick.pattern


def _same_arabic(text: str) -> None:
    # arabize runs a sub only when a quick search finds what it needs: the same as all three.
    plain = text
    if dates._ANY_NUM.search(text):
        plain = dates._CN_YEAR.sub(lambda m: dates._arabic(m, 1), plain)
        plain = dates._CN_MONTH_DAY.sub(lambda m: dates._arabic(m, 1, 3), plain)
        plain = dates._CN_TIME.sub(lambda m: dates._arabic(m, 2, 4), plain)
    assert dates.arabize(text) == plain


def test_quick_rejects_change_no_match_on_the_seed():
    for item in seed_items():
        _same_matches(f"{item['title']}\n{item['text']}")
        _same_arabic(f"{item['title']}\n{item['text']}")


words = st.sampled_from(
    [
        *FRAGMENTS,
        *platforms._ALIASES,
        "Seller Rules",
        "notice period of",
        "十一月",
        "月五",
        "日下午三点",
        "号十时半",
    ]
)


@settings(max_examples=300)
@given(text=st.lists(words | st.text(max_size=3), max_size=40).map("".join))
def test_quick_rejects_change_no_match(text):
    _same_matches(text)
    _same_matches(text.upper())
    _same_arabic(text)
