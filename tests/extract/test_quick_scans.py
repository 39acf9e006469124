"""The shortcuts that make a scan faster must change no match.

A lookahead in front of a pattern (the characters a match can start with), a pattern chosen
because a fast search shows a branch cannot match, and two scans merged in place of one
alternation: each is compared with the plain pattern it stands for, on the seed and on
generated texts.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.extract import casing, core, cues, dates, kinds, normalize, platforms, rules

from .seed import seed_items
from .test_fuzz import FRAGMENTS


def _without_lookahead(pattern: re.Pattern[str]) -> re.Pattern[str]:
    bare = re.sub(r"^\(\?=\[[^\]]*\]\)", "", pattern.pattern, count=1)
    assert bare != pattern.pattern
    return re.compile(bare, pattern.flags)


QUICK = [
    cues._CANCEL,
    cues._BEFORE_OLD,
    cues._BEFORE_MOVED,
    cues._BEFORE_ANNOUNCED,
    cues._BEFORE_EFFECTIVE,
    cues._TENTATIVE,
    dates._ORDINAL_DAY,
    core._DAY_TO_FOLLOW,
    core._HEDGE,
    *(pattern for _, pattern in kinds._VERBS),
    kinds._WEAK_NEW,
    kinds._TAKES_EFFECT,
]
PLAIN = [_without_lookahead(pattern) for pattern in QUICK]

# What _EN_NAME stands for (its group 1 is the name).
EN_NAME = re.compile(
    r"(?=[A-Z0-9])(?<![A-Za-z])((?:[A-Z0-9][A-Za-z0-9&'.-]*[ \t]+"
    r"(?:(?:of|and|for|on|the|&|[a-z]{2,12})[ \t]+)?){1,8}"
    r"(?:Rules?|Policy|Policies|Standards?|Regulations?|Agreement|Guidelines?|Terms of Service"
    r"|Specifications?|Code of Conduct|Measures|Provisions|Terms"
    r"|policy|policies|rules|guidelines|terms|standards|agreement))(?![A-Za-z])"
)

# What _EN_SENTENCE_CASE stands for (its group 1 is the name).
EN_SENTENCE_CASE = re.compile(
    r"(?<=\bthe\s)((?:[A-Z][A-Za-z0-9-]+)(?:\s+[a-z][a-z-]+){1,4}\s+(?:policy|guidelines|terms))\b"
)

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


# Words every match of a pattern has, looked for before the pattern is.
EVERY_MATCH_HAS = [
    (rules._EN_CREATED, ("introducing", "adding", "launching")),
    (cues._BYLINE, ("By",)),
    (cues._DRAFT_ONLINE, ("稿", "草案")),
    (cues._THEN_NOTICE, ("公示",)),
    (cues._STEPS_UP, ("力度",)),
    (cues._DATE_LINE, (":", "：")),
    # Looked for before the short patterns read_roles tries on the words around each date.
    (cues._BEFORE_FROM_ZI, ("自", "从")),
    (cues._CHROME_LABEL, ("时间", "日期")),
    (cues._TENTATIVE_AFTER, ("(", "（")),
    (cues._ON_DAY, ("On", "Beginning")),
    (cues._DEADLINE, ("前", "为止", "截止")),
    (cues._AFTER_IS, ("生效", "施行", "实施", "公示")),
    (cues._BEFORE_NOTICE_END, ("公示",)),
    (cues._AFTER_QI, ("起", "开始")),
    (cues._BEFORE_IN, ("于", "在")),
]


def _flat_date(pattern: str) -> re.Pattern[str]:
    """_DATE (or a variant of it) without the one test for a digit in front of its numeric
    forms: one flat alternation, the month-name form (em) back between them, as it was."""
    head, digits = pattern.split("(?=\\d)(?:", 1)
    digits, em_and_rest = digits.split(")|(?=[JFMASOND])", 1)
    em, rest = ("|(?=[JFMASOND])" + em_and_rest).split("|(?=[今明", 1)
    before_sd, from_sd = digits.split("|(?<![\\dA-Za-z])(?P<sd>", 1)
    return re.compile(
        head + before_sd + em + "|(?<![\\dA-Za-z])(?P<sd>" + from_sd + "|(?=[今明" + rest
    )


# IGNORECASE patterns and their case-sensitive twins for the lower-cased copy (casing).
TWINS = [
    (cues._CANCEL, cues._CANCEL_LOWER),
    (cues._WILL_CHANGE_ON, cues._WILL_CHANGE_ON_LOWER),
    (rules._EN_SUFFIX_WORD, rules._EN_SUFFIX_WORD_LOWER),
    *zip([p for _, p in kinds._VERBS], [p for _, p in kinds._LOWER.ranked], strict=True),
    (kinds._WEAK_NEW, kinds._LOWER.weak_new),
    (kinds._TAKES_EFFECT, kinds._LOWER.takes_effect),
]


# _ORDINAL_DAY without its lookahead for a word and "of".
ORDINAL_DAY = re.compile(dates._ORDINAL_DAY.pattern.replace(dates._OF_AHEAD, ""), re.IGNORECASE)

FLAT_DATES = [
    (dates._DATE, _flat_date(dates._DATE.pattern)),
    (dates._DATE_NO_EN_RELATIVE, _flat_date(dates._DATE_NO_EN_RELATIVE.pattern)),
]


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
    got = [(m.span(), m.span(1)) for m in rules._EN_NAME.finditer(text)]
    assert got == [(m.span(), m.span(1)) for m in EN_NAME.finditer(text)]
    got = [(m.span(1), m[1]) for m in rules._EN_SENTENCE_CASE.finditer(text)]
    assert got == [(m.span(1), m[1]) for m in EN_SENTENCE_CASE.finditer(text)]
    if rules._LOST_FIRST_LINE.match(text) or rules._LOST_LINE.search(text):
        assert rules._may_have_lost_opening(text)
    got = [(m.span(), m.groups()) for m in dates._ORDINAL_DAY.finditer(text)]
    assert got == [(m.span(), m.groups()) for m in ORDINAL_DAY.finditer(text)]
    assert not got or dates._may_name_ordinal_day(text)
    for quick, plain in FLAT_DATES:
        got = [(m.span(), m.groupdict()) for m in quick.finditer(text)]
        assert got == [(m.span(), m.groupdict()) for m in plain.finditer(text)]
    if not any(word in text for word in dates._EN_RELATIVE_WORDS):
        got = [(m.span(), m.groupdict()) for m in dates._DATE_NO_EN_RELATIVE.finditer(text)]
        assert got == [(m.span(), m.groupdict()) for m in dates._DATE.finditer(text)]
    assert normalize.compact_name(text) == _compact_name(text)
    pinyin = normalize._PINYIN.search(text) is not None
    assert not pinyin or normalize._TONE_MARK.search(text)
    bullets = rules._EN_BULLET_LABEL.plain.search(text) is not None
    assert not bullets or rules._EN_BULLET_HINT.search(text)
    for at_line_start in (rules._EN_BULLET_LABEL, rules._EN_UPDATE_HEADING):
        got = [(m.span(1), m.groups()) for m in at_line_start.finditer(text)]
        assert got == [(m.span(1), m.groups()) for m in at_line_start.plain.finditer(text)]
    for match in cues._NOTICE_DAYS.finditer(text):
        assert "公示" in match[0] or cues._PERIOD_WORD.search(match[0])
    for pattern, words in EVERY_MATCH_HAS:
        for match in pattern.finditer(text):
            assert any(word in match[0] for word in words), pattern.pattern
    assert all(rules._EN_SUFFIX_WORD.search(match[0]) for match in rules._EN_NAME.finditer(text))
    low = casing.lowered(text)
    if low is not None:
        for plain, twin in TWINS:
            got = [(m.span(), m.groups()) for m in twin.finditer(low)]
            assert got == [
                (m.span(), tuple(g and g.lower() for g in m.groups())) for m in plain.finditer(text)
            ], plain.pattern
            for start in range(0, len(text), 7):  # windows, as read_roles searches them
                found = plain.search(text, start, start + 40)
                again = twin.search(low, start, start + 40)
                assert (found and found.span()) == (again and again.span()), plain.pattern
        assert [m.span() for m in platforms._ANY_LOWER.finditer(low)] == [
            m.span() for m in platforms._ANY.finditer(text)
        ]
        assert [m.span() for m in platforms._ANY_BY_FIRST.finditer(low)] == [
            m.span() for m in platforms._ANY.finditer(text)
        ]
        assert [m[0] for m in platforms._ANY_LOWER.finditer(low)] == [
            m[0].casefold() for m in platforms._ANY.finditer(text)
        ]
    for end in range(len(text) + 1):
        if cues._WILL_CHANGE_ON.search(text, 0, end):
            assert text[end - 1].isspace()  # what _will_change_on looks at first
        if cues._RESTATING.search(text, 0, end):
            assert text[:end].rstrip()[-1:] in cues._RESTATING_ENDS  # _restates_effect's
    if not text.isascii() and not normalize._traditional().search(text):
        assert normalize._t2s().convert(text) == text  # normalize skips t2s for such a text


def test_the_english_relative_days_are_one_branch_of_the_date_pattern():
    assert dates._DATE.pattern.count(dates._EN_RELATIVE) == 1
    assert "TtIi" not in dates._DATE_NO_EN_RELATIVE.pattern
    assert len(dates._DATE_NO_EN_RELATIVE.pattern) == len(dates._DATE.pattern) - len(
        dates._EN_RELATIVE
    ) - 2 * len("TtIi")


def test_the_numeric_date_forms_are_behind_one_digit_test():
    for quick, plain in FLAT_DATES:
        assert plain.pattern != quick.pattern
        assert len(plain.pattern) == len(quick.pattern) - len("(?=\\d)(?:)")
        assert set(plain.groupindex) == set(quick.groupindex)  # read by name only


def test_the_ordinal_day_has_one_lookahead_for_of():
    assert ORDINAL_DAY.pattern != dates._ORDINAL_DAY.pattern
    assert ORDINAL_DAY.flags == dates._ORDINAL_DAY.flags


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
    "The Thirty-First  OF December",
    "the\tsecond\nof March",
    "fifteenth of june",
    "the FIRST Day\tOF may",
    "twentieth \n of July",
    "third of\u00a0March",
    "the ſecond of June",
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
    "5 March 2024",
    "Aug. 2nd",
    "2 de diciembre de 2024",
    "13.05.2024",
    "2024-03-18",
    "3月18日",
    "规(guī)则",
    "公示期7天",
    "原定于",
    "originally scheduled for ",
    "previously announced ",
    "延期至",
    "postponed to ",
    "will now take effect on ",
    "公示时间：",
    "更新于",
    "Posted on: ",
    "last updated ",
    "was updated ",
    "published in Seller Central on ",
    "生效时间为",
    "effective date: ",
    "- from ",
    "from ",
    " and from ",
    "a partir del ",
    "válido desde el ",
    "entra em vigor ",
    "on or after ",
    "w.e.f. ",
    "预计于",
    "拟于",
    "tentative",
    "在规则中心上线《X（征求意见稿）》",
    "发布草案",
    "起对《X》修订内容进行公示",
    "加大处置力度",
    "\nDate: ",
    "日期：",
    "为期5个工作日的公示",
    "3天公示",
    "a notice period of 10 days",
    "PUBLICITY PERIOD IS 7 DAYS",
    "\nUpdate on New SLA Processing Time\n",
    "Changes to the Seller Fee Schedule",
    "introducing fee category guidelines",
    "adding the returns reimbursement policy",
    "\nBy Dana Pike | Published ",
    "（zé）",
    "回覆",
    "深沈",
    "找藉口",
    "國家規則",
    "乾隆",
    "\U00020000",
    "TAOBAO",
    "AliExpress",
    "JD.COM",
    "Tiktok Shop",
    "İ",
    "ſhopee",
    "\u212aUAISHOU",
    "ı",
    "WILL INCREASE the fee on ",
    "will increase the referral fee from 2% to 6% on\tMarch 1",
    "will raise fees beginning the ",
    "CANCELLED THE fee increase",
    "will no\nlonger take effect",
    "SCRAPPED",
    "DISCONTINUED",
    "Consultation",
    "PUBLISHED",
    "Takes Effect",
    "the Unsuitable inventory policy the Late shipment rate policy",
    "bathe Seller fee policy",
    "the the Amazon fee terms",
    "the\nReturn shipping guidelines",
    " RULES",
    "\tPolicies",
    "VAT Calculation Services methodology Program Policy",
    "aSeller Rules",
    "2024 Seller Code of Conduct",
    "A B C D E F G H I J Rules",
    "FBA  Storage\tand Fee Policies",
    "公示期至",
    "（暂定）",
    "(TENTATIVE)",
    "On ",
    "Beginning on ",
    "为止",
    "截止",
    "in 15 days (I.E., ",
    "in 15 days, that is, ",
    "within 3 days, NAMELY ",
    "7天后（即",
    "为新规生效日",
    "\uf900",
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


def test_t2s_is_skipped_only_for_texts_it_leaves_as_they_are():
    # The characters t2s changes only inside a phrase: alone, t2s leaves each as it is.
    for char in normalize._PHRASE_ONLY:
        assert normalize._t2s().convert(char) == char
        assert normalize._traditional().search(char)
    for phrase, simplified in [("回覆", "回复"), ("深沈", "深沉"), ("找藉口", "找借口")]:
        assert normalize.normalize(phrase) == simplified
    assert normalize.normalize("國家規則") == "国家规则"
    with pytest.raises(UnicodeError):  # as before the shortcut: convert() raises on them
        normalize.normalize("规则\ud800")


def test_every_phrase_t2s_changes_has_a_character_that_lets_it_run():
    """Every key of the t2s dictionaries that t2s changes holds a character of
    ``_traditional``: dumped with the opencc_dict tool the OpenCC package ships."""
    import opencc

    clib = Path(opencc.__file__).parent / "clib"
    tool = clib / "bin" / "opencc_dict"
    if not tool.exists():
        pytest.skip("opencc_dict is not shipped with this OpenCC")
    env = {**os.environ, "LD_LIBRARY_PATH": str(clib / "lib64")}
    keys = 0
    for name in ("TSPhrases", "TSCharacters", "TSCharactersExt", "CJK_Compatibility_Ideographs"):
        dumped = Path(os.environ.get("TMPDIR", "/tmp")) / f"rulewatch-{os.getpid()}-{name}.txt"
        source = clib / "share" / "opencc" / f"{name}.ocd2"
        done = subprocess.run(
            [str(tool), "-i", str(source), "-o", str(dumped), "-f", "ocd2", "-t", "text"],
            env=env,
            capture_output=True,
        )
        if done.returncode != 0:
            pytest.skip(f"opencc_dict failed: {done.stderr[-200:]!r}")
        try:
            for line in dumped.read_text(encoding="utf-8").splitlines():
                key = line.split("\t", 1)[0]
                keys += 1
                if not normalize._traditional().search(key):
                    assert normalize._t2s().convert(key) == key, (name, key)
        finally:
            dumped.unlink(missing_ok=True)
    assert keys > 5000


def test_the_characters_that_stop_a_lower_cased_search_are_all_there_are():
    """casing.UNSAFE holds every character besides A-Z and a-z that an IGNORECASE ASCII letter
    matches, and lower() makes no other character an ASCII one or two characters."""
    every = "".join(chr(code) for code in range(0x80, 0x110000) if not 0xD800 <= code <= 0xDFFF)
    matched = set(re.findall("(?i)[a-z]", every))
    for letter in "abcdefghijklmnopqrstuvwxyz":
        matched |= set(re.findall(f"(?i){letter}", every))
    assert matched == set(casing.UNSAFE)
    assert {c for c in every if len(c.lower()) != 1 or c.lower().isascii()} <= matched
    assert casing.lowered("Seller RULES 淘宝") == "seller rules 淘宝"
    for char in casing.UNSAFE:
        assert casing.lowered(f"Shopee {char}") is None


def test_platforms_are_found_alike_in_the_lower_cased_copy():
    for text in (
        "TAOBAO与Tmall、AliExpress，JD.COM和 jd 及 SHOPEE，Amazonian 1688.com。TikTok Shop Seller",
        "淘宝网与天猫国际、阿里巴巴1688和1688.com，获得物流，得物，京东POP及抖音电商和TEMU",
        "ſhopee与Taobao、\u212auaishou",  # not lowered: _ANY reads ſ as s and \u212a as k
    ):
        near = platforms.PlatformsNear(text, 6)
        plain = platforms.PlatformsNear(text, 6)
        plain._any, plain._text = platforms._ANY, text
        for pos in range(len(text) + 1):
            assert near.near(pos, 0, len(text)) == plain.near(pos, 0, len(text))
        assert platforms.most_named(text) == platforms._most_named(platforms._ANY, text, 0)
    assert platforms.most_named("ſhopee") == "Shopee"
    assert platforms.leading_platform("TAOBAO规则") == platforms.leading_platform.__wrapped__(
        "TAOBAO规则"
    )


def test_every_ordinal_ends_as_the_search_before_the_ordinal_days_expects():
    assert all(word.endswith(("st", "nd", "rd", "th")) for word in dates._ORDINAL_VALUE)
    for text in ("the first of May", "the 1st of May", "sixth  of June", "fifth day of July"):
        assert dates._may_name_ordinal_day(text)
        assert dates._may_name_ordinal_day(text.upper())
    assert not dates._may_name_ordinal_day("one of them, none of those, a piece of cake")


def test_for_lowered_refuses_patterns_it_cannot_twin():
    for pattern in (r"The\s+rule", r"válido", r"(?i:x)y", r"[A-Z]", r"a\\S"):
        with pytest.raises(ValueError):
            casing.for_lowered(re.compile(pattern, re.IGNORECASE))
    with pytest.raises(ValueError):
        casing.for_lowered(re.compile("rule"))  # not IGNORECASE
    assert casing.for_lowered(re.compile(r"\bsee\s+\S+", re.I)).flags & re.I == 0


def test_lowering_keeps_what_the_classes_and_boundaries_see():
    every = "".join(chr(code) for code in range(0, 0x110000) if not 0xD800 <= code <= 0xDFFF)
    kept = "".join(c for c in every if c not in casing.UNSAFE)
    low = kept.lower()
    assert len(low) == len(kept)
    for cls in (r"\w", r"\s", r"\d"):
        assert [m.start() for m in re.finditer(cls, kept)] == [
            m.start() for m in re.finditer(cls, low)
        ]


def test_memoised_helpers_give_what_they_compute():
    names = [
        *WORDS,
        "淘宝网商品发布规范（征求意见稿）",
        "Seller  Code of\nConduct",
        "1688 商家规则",
    ]
    for name in names:
        assert rules._undrafted(name) == rules._undrafted.__wrapped__(name)
        assert rules._preference(name) == rules._preference.__wrapped__(name)
        for platform in (None, "淘宝", "Amazon"):
            assert rules.rule_key(name, platform) == rules.rule_key.__wrapped__(name, platform)
        assert platforms.leading_platform(name) == platforms.leading_platform.__wrapped__(name)
        assert normalize.compact_name(name) == _compact_name(name)


def test_long_texts_are_not_lowered_and_short_ones_not_kept():
    assert casing.lowered("A" * (casing.LONGEST + 1)) is None
    assert casing.lowered("A" * casing.LONGEST) == "a" * casing.LONGEST
    assert casing.lowered("Seller RULES") == "seller rules"
