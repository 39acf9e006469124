"""The shortcuts that make a scan faster must change no match.

A lookahead in front of a pattern (the characters a match can start with), a pattern chosen
because a fast search shows a branch cannot match, and two scans merged in place of one
alternation: each is compared with the plain pattern it stands for, on the seed and on
generated texts.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.extract import core, cues, dates, kinds, normalize, rules

from .seed import seed_items
from .test_fuzz import FRAGMENTS


def _without_lookahead(pattern: re.Pattern[str]) -> re.Pattern[str]:
    bare = re.sub(r"^\(\?=\[[^\]]*\]\)", "", pattern.pattern, count=1)
    assert bare != pattern.pattern
    return re.compile(bare, pattern.flags)


QUICK = [
    cues._CANCEL,
    dates._ORDINAL_DAY,
    core._DAY_TO_FOLLOW,
    core._HEDGE,
    rules._EN_SUFFIX_WORD,
    rules._EN_SENTENCE_CASE,
    *(pattern for _, pattern in kinds._VERBS),
    kinds._WEAK_NEW,
    kinds._TAKES_EFFECT,
]
PLAIN = [_without_lookahead(pattern) for pattern in QUICK]

# The alternation _names_marked stands for.
BRACKETED = re.compile(
    r"《([^《》]{1,80})》|[「“\"【]([^「」“”\"【】\n]{2,60})[」”\"】]"
    r"|(?:^|(?<=\n))[ \t]*(?:\d{1,2}\s*[、.)）][ \t]*)?([^《》\n]{2,60}?)》"
)


def _bracketed(text: str) -> list[tuple[int, int, int, int, bool]]:
    found = []
    for match in BRACKETED.finditer(text):
        group = 1 if match.group(1) is not None else 3 if match.group(3) is not None else 2
        found.append((match.start(), match.end(), *match.span(group), group == 2))
    return found


def _compact_name(name: str) -> str:
    """compact_name without its shortcut for names with no space."""

    def keep(match: re.Match[str]) -> str:
        before = name[match.start() - 1] if match.start() > 0 else ""
        after = name[match.end()] if match.end() < len(name) else ""
        if re.match("[A-Za-z0-9]", before) and re.match("[A-Za-z0-9]", after):
            return "" if before.isdigit() and not after.isascii() else " "
        return ""

    return re.sub(r"\s+", keep, name).strip()


def _same(text: str) -> None:
    for quick, plain in zip(QUICK, PLAIN, strict=True):
        got = [(m.span(), m.groups()) for m in quick.finditer(text)]
        assert got == [(m.span(), m.groups()) for m in plain.finditer(text)], quick.pattern
    assert list(rules._names_marked(text)) == _bracketed(text)
    if not any(word in text for word in dates._EN_RELATIVE_WORDS):
        got = [(m.span(), m.groupdict()) for m in dates._DATE_NO_EN_RELATIVE.finditer(text)]
        assert got == [(m.span(), m.groupdict()) for m in dates._DATE.finditer(text)]
    assert normalize.compact_name(text) == _compact_name(text)
    pinyin = normalize._PINYIN.search(text) is not None
    assert not pinyin or normalize._TONE_MARK.search(text)
    bullets = rules._EN_BULLET_LABEL.search(text) is not None
    assert not bullets or rules._EN_BULLET_HINT.search(text)


def test_the_english_relative_days_are_one_branch_of_the_date_pattern():
    assert dates._DATE.pattern.count(dates._EN_RELATIVE) == 1
    assert "TtIi" not in dates._DATE_NO_EN_RELATIVE.pattern
    assert len(dates._DATE_NO_EN_RELATIVE.pattern) == len(dates._DATE.pattern) - len(
        dates._EN_RELATIVE
    ) - 2 * len("TtIi")


def test_quick_scans_change_no_match_on_the_seed():
    for item in seed_items():
        _same(f"{item['title']}\n{item['text']}")


WORDS = [
    *FRAGMENTS,
    "《商家规则》",
    "“淘宝汇吃”市场管理规范》",
    "「店铺规范」",
    "\n",
    "\n2、",
    " ",
    "》",
    "《",
    "Seller Rules",
    "the Unsuitable inventory investigations policy",
    "\n• VAT Agreement: ",
    "- Selling Policies: ",
    "the first of April",
    "twenty-first day of May",
    "生效时间另行通知",
    "effective date will be announced",
    "暂缓实施",
    "cancelled the planned fee",
    "scrapped",
    *(word for _, p in kinds._VERBS for word in p.pattern.split("|")),
    "征求 意见",
    "Amended",
    "reNEW",
    "re-launch",
    "发布",
    "Published",
    "takes effect",
    "拟对",
    "虚拟调整",
    "计划于",
    "plans to",
    "is expected to",
    "will not take effect",
    "called off",
    "today",
    "Immediately",
    "2024年3月1日",
    "March 5, 2024",
    "规(guī)则",
    "（zé）",
]
words = st.sampled_from(WORDS)


def test_quick_scans_change_no_match_on_each_word():
    for word in WORDS:
        for text in (word, f"x {word} x", f"《{word}》", f"\n{word}\n"):
            _same(text)
            _same(text.upper())


@settings(max_examples=400)
@given(text=st.lists(words | st.text(max_size=3), max_size=40).map("".join))
def test_quick_scans_change_no_match(text):
    _same(text)
    _same(text.upper())
