"""Where a text names a calendar day, and which day it is.

Reads 2024年3月18日 (号 for 日, spaces, zero padding, 2-digit years), 2024-03-18 / 2024/3/18 /
2024.3.18, 3月18日 without a year, Chinese numerals (二〇二四年十二月五日), English dates
(August 2, 2016 / 9 January 2024), 今日/今天/明日/次日/即日/自发布之日 relative to the publish
date, a time of day after a date (10:00, 10点, 上午10时) and ranges (X至Y, X-Y, X至7日).

What a date *means* (公示 or 生效) is not decided here; see ``cues``. A mention whose day cannot
be known (no year anywhere and no publish date, 2月30日) is left out rather than guessed.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, time, timedelta

from alerts.extract.casing import lowered

__all__ = ["DateMention", "TextDates", "arabize", "cn_int", "find_dates", "headline_year"]

_CN_VALUE = {
    "〇": 0, "○": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip


def cn_int(numeral: str) -> int | None:
    """The value of a small Chinese numeral (十二, 二十五, 廿一, 二〇二四), or None."""
    if not numeral:
        return None
    if numeral.isdigit() and numeral.isascii():
        return int(numeral)
    text = numeral.replace("廿", "二十").replace("卅", "三十")
    if "十" not in text:
        # Digit by digit, as years are written: 二〇二四.
        digits = [_CN_VALUE.get(ch) for ch in text]
        if any(d is None for d in digits):
            return None
        return int("".join(str(d) for d in digits))
    tens, _, units = text.partition("十")
    if "十" in units or len(tens) > 1 or len(units) > 1:
        return None
    ten = _CN_VALUE.get(tens, -1) if tens else 1
    unit = _CN_VALUE.get(units, -1) if units else 0
    if ten < 0 or unit < 0:
        return None
    return ten * 10 + unit


_NUM = "〇○零一二三四五六七八九十廿卅两"
_ANY_NUM = re.compile(f"[{_NUM}]")
# Spelled so that the pattern opens with a character set, which lets the engine skip to the
# places that can start a match ({4} would have it try every position).
_CN_YEAR = re.compile(r"([〇○零一二三四五六七八九][〇○零一二三四五六七八九]{3})(?=\s*年)")
# The lookahead (what the month can start with) makes most positions fail at once.
_CN_MONTH_DAY = re.compile(
    rf"(?=[一二三四五六七八九十\d])(?<![{_NUM}])([一二三四五六七八九十]{{1,2}}|\d{{1,2}})(\s*月\s*)"
    rf"([一二三四五六七八九十廿卅]{{1,3}}|\d{{1,2}})(?=\s*[日号])"
)
_CN_TIME = re.compile(
    r"(?<=[日号])(\s*(?:上午|下午|晚上|凌晨|中午|早上)?\s*)([零〇一二三四五六七八九十两]{1,3})"
    r"(\s*[点时])([零〇一二三四五六七八九十]{1,3}(?=\s*分))?"
)
# What a text needs for _CN_MONTH_DAY to change it (a Chinese numeral beside 月) and for
# _CN_TIME to match: found by a fast scan, so the slower subs run only on the few texts that
# have it.
_CN_BEFORE_MONTH = re.compile(r"[一二三四五六七八九十]\s*月")
_CN_AFTER_MONTH = re.compile(r"月\s*[一二三四五六七八九十廿卅]")
_CN_TIME_HINT = re.compile(
    r"[日号]\s*(?:上午|下午|晚上|凌晨|中午|早上)?\s*[零〇一二三四五六七八九十两]"
)


def _arabic(match: re.Match[str], *groups: int) -> str:
    if all((match.group(index) or "").isascii() for index in groups):
        return match.group(0)
    parts = []
    for index in range(1, (match.lastindex or 0) + 1):
        piece = match.group(index) or ""
        if index in groups:
            value = cn_int(piece)
            piece = piece if value is None else str(value)
        parts.append(piece)
    return "".join(parts)


_ORDINALS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
]
_ORDINAL_VALUE = (
    {word: index for index, word in enumerate(_ORDINALS, start=1)}
    | {f"twenty-{word}": 20 + index for index, word in enumerate(_ORDINALS[:9], start=1)}
    | {"thirtieth": 30, "thirty-first": 31}
)
# The lookahead (what "the" and the ordinals start with) makes most positions fail at once;
# the second one (a word, then "of") most words, before the ordinals are tried one by one.
# An ordinal is such a word, and the possessive ++ stops at its end, where a space follows.
_OF_AHEAD = r"(?=(?:the\s+)?[\w-]++(?:\s+day)?\s+of\s)"
_ORDINAL_DAY = re.compile(
    r"(?=[tfsen])(?<![A-Za-z-])"
    + _OF_AHEAD
    + r"(?:the\s+)?("
    + "|".join(sorted(_ORDINAL_VALUE, key=len, reverse=True))
    + r")"
    r"(?:\s+day)?\s+of\s+(?=[A-Z][a-z]{2})",
    re.IGNORECASE,
)


# In every match of _ORDINAL_DAY, "of" follows an ordinal (each ends in st, nd, rd or th) or
# "day" and one whitespace character, or two whitespace characters. Searched for in the
# lower-cased copy (see casing), opening with the literal "of" that the engine skips to, that
# rules out nearly every English text in about 1 µs; the _ORDINAL_DAY scan of such a text,
# which has " of " and the letters of its lookahead everywhere, took 40-60 µs.
_ORDINAL_OF = re.compile(r"of\s(?:(?<=(?:st|nd|rd|th|ay)\sof\s)|(?<=\s\sof\s))")


def _may_name_ordinal_day(text: str) -> bool:
    """Whether ``text`` may have a match of _ORDINAL_DAY (False only when it has none)."""
    low = lowered(text)
    return low is None or _ORDINAL_OF.search(low) is not None


def arabize(text: str) -> str:
    """Rewrite the Chinese numerals of dates and times of day as ASCII digits, and English
    ordinal days ("the first of April") as numbers."""
    if " of " in text and _may_name_ordinal_day(text):
        text = _ORDINAL_DAY.sub(lambda m: f"{_ORDINAL_VALUE[m[1].lower()]} of ", text)
    if not _ANY_NUM.search(text):
        return text
    text = _CN_YEAR.sub(lambda m: _arabic(m, 1), text)
    if _CN_BEFORE_MONTH.search(text) or _CN_AFTER_MONTH.search(text):
        text = _CN_MONTH_DAY.sub(lambda m: _arabic(m, 1, 3), text)
    if _CN_TIME_HINT.search(text):
        text = _CN_TIME.sub(lambda m: _arabic(m, 2, 4), text)
    return text


@dataclass(frozen=True, slots=True)
class DateMention:
    """A day named in the text, at ``doc[start:end]`` (a range covers both of its ends)."""

    start: int
    end: int
    on: date
    at: time | None = None
    explicit_year: bool = True
    relative: bool = False  # 今日, 即日, 自发布之日, immediately …
    until: date | None = None  # the last day, when the mention is a range


_EN_MONTHS = {
    "Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
    "Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12,
}  # fmt: skip
_MONTH_NAME = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)"
)
_YEAR = r"(?:19|20)\d{2}"
_ROMANCE_MONTHS = {
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7,
    "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11,
    "diciembre": 12, "janeiro": 1, "fevereiro": 2, "março": 3, "maio": 5, "junho": 6,
    "julho": 7, "setembro": 9, "outubro": 10, "novembro": 11, "dezembro": 12,
}  # fmt: skip
_ROMANCE_MONTH = "(?:" + "|".join(sorted(_ROMANCE_MONTHS, key=len, reverse=True)) + ")"

# One alternation so that the leftmost form wins and forms never overlap. Each branch opens
# with something cheap to reject: the engine tries every branch at every position. The
# lookahead, the characters a date can start with, rejects most positions before any branch
# is tried (three times faster on the dev notices).
_DATE = re.compile(
    r"(?=[\dJFMASOND今明次翌昨即本公通规细协发颁印TtIi])(?:"
    # The forms that start with a digit, behind one test for it: elsewhere (公, 规, 发 …, which
    # mostly start no date) the five fail at once. No other form starts with a digit, so at
    # any position the first form to match is the one the flat alternation found.
    r"(?=\d)(?:"
    # 3月18日 (日 or 号); its year, if any, is read backwards by _YEAR_BEFORE
    r"(?<!\d)(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]"
    # 2024-03-18, 2024/3/18, 2024.3.18
    rf"|(?<![\d.:/-])(?P<ny>{_YEAR})\s*(?P<sep>[-/.])\s*(?P<nm>\d{{1,2}})\s*(?P=sep)\s*"
    r"(?P<nd>\d{1,2})(?![\d])(?:\s*[日号])?"
    # 13.05.2024 (day first, as dots are written); 13/05/2024 or 05/13/2024 only when the day
    # shows itself by being over 12 — 04/11/2020 is read by no one the same way everywhere
    rf"|(?<![\d.:/-])(?P<dd>\d{{1,2}})(?P<dsep>[./])(?P<dm>\d{{1,2}})(?P=dsep)(?P<dy>{_YEAR})"
    r"(?![\d.:/-]?\d)(?!\s*年)"  # not "1.1.2022年12月12日", a section number then a date
    # 2 de diciembre de 2024, 1º de outubro de 2024 (Mercado Libre writes Spanish and Portuguese)
    rf"|(?<![\dA-Za-z])(?P<sd>\d{{1,2}})(?:º|°)?\s+de\s+(?P<sm>{_ROMANCE_MONTH})(?![a-z])"
    rf"(?:\s+(?:de|del)\s+(?P<sy>{_YEAR})(?!\d))?"
    # 9 January 2024 / 9th of January
    rf"|(?<![\dA-Za-z])(?P<fd>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<fm>{_MONTH_NAME})"
    rf"(?![a-z])\.?(?:\s*,?\s*(?P<fy>{_YEAR})(?!\d))?)"
    # August 2, 2016 / Aug. 2nd
    rf"|(?=[JFMASOND])(?<![A-Za-z])(?P<em>{_MONTH_NAME})(?![a-z])\.?\s+(?P<ed>\d{{1,2}})(?:st|nd|rd|th)?"
    rf"(?![A-Za-z0-9])(?:\s*,?\s*(?P<ey>{_YEAR})(?!\d))?"
    # days named relative to the publish date
    r"|(?=[今明次翌昨即本公通规细协发颁印TtIi])(?P<rel>今日(?!头条)|今天|明日|明天|次日|翌日|昨日|昨天|即日"
    r"|(?:本)?(?:公告|通知|规则|规范|细则|协议)?(?:发布|公布|颁布|印发|公告|公示)之日"
    r"|(?<![A-Za-z])(?:[Tt]oday|[Tt]omorrow|[Ii]mmediately|immediate effect)(?![A-Za-z])))"
)
# The English relative days start with t or i, the commonest letters of English, which the
# lookaheads must then let through: a text without these words (nearly all) is scanned by
# _DATE without that branch and those letters, a third faster.
_EN_RELATIVE = r"|(?<![A-Za-z])(?:[Tt]oday|[Tt]omorrow|[Ii]mmediately|immediate effect)(?![A-Za-z])"
_EN_RELATIVE_WORDS = ("oday", "omorrow", "mmediate")
_DATE_NO_EN_RELATIVE = re.compile(_DATE.pattern.replace(_EN_RELATIVE, "").replace("TtIi", ""))
_YEAR_BEFORE = re.compile(
    rf"(?:(?P<y>{_YEAR})|(?<!\d)(?P<y2>\d{{2}})|(?P<ry>今|明|去|次|来))\s*年\s*$"
)
_REL_OFFSET = {"明日": 1, "明天": 1, "次日": 1, "翌日": 1, "昨日": -1, "昨天": -1, "tomorrow": 1}
# 次日 after 期满/结束 counts from the end of a period, not from the publish date.
_AFTER_EVENT = re.compile(r"(?:期满|结束|届满|到期|截止|后|之|的|当)\s*$")
# The leading \s*+ never gives back what it took (every piece after it starts with something
# else, or with a \s* that takes it as well): with backtracking, a run of n spaces after a
# date made these matches cost n² (_RANGE_LINK) and n³ (_TIME), 77 s for 5,000 spaces.
_TIME = re.compile(
    r"\s*+(?:[(（]\s*(?:北京时间|GMT\+8|UTC\+8|周.|星期.)\s*[)）])?\s*(?:,?\s*at\s+)?"
    r"(?:(?P<ap>上午|下午|晚上|凌晨|中午|早上|晚间|夜间|傍晚)\s*)?"
    r"(?P<h>\d{1,2})\s*(?:[:：]\s*(?P<mi>\d{2})(?:\s*[:：]\s*\d{2})?"
    r"|[点时](?:\s*(?P<mi2>\d{1,2})\s*分|(?P<half>半)|整)?)(?![\d:])"
    r"(?:\s*(?P<ampm>[AaPp]\.?[Mm]\b\.?))?"
)
_RANGE_LINK = re.compile(r"\s*+(?:起|开始)?\s*(?:-|~|～|—|–|至|到|\bto\b|\buntil\b|\bthrough\b)\s*")
_PERIOD = re.compile(r"\s*(?:期间|之间)")
_DAY_ONLY = re.compile(r"(?P<d>\d{1,2})\s*[日号]")

# A month-day without a year is read as the year that puts it within this window of the
# reference day: announcements look ahead (December news about 1月5日 means next January),
# while a 公示 date may lie a few months back.
_LOOK_BACK = timedelta(days=150)
_LOOK_AHEAD = timedelta(days=215)


@dataclass(slots=True)
class _Raw:
    start: int
    end: int
    year: int | None
    month: int
    day: int
    year_shift: int | None = None  # 今年/明年/去年, against the publish year
    relative: int | None = None  # days after the publish date
    at: time | None = None
    carry: int = 0  # 24:00 is the next day's 00:00
    until: tuple[int | None, int, int] | None = None


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _near(month: int, day: int, reference: date) -> date | None:
    for year in (reference.year, reference.year + 1, reference.year - 1):
        candidate = _valid(year, month, day)
        if candidate is not None and -_LOOK_BACK <= candidate - reference <= _LOOK_AHEAD:
            return candidate
    # Only 2月29日 can miss the window (no leap year inside it): keep it if the reference
    # year is a leap year, else drop it.
    return _valid(reference.year, month, day)


def _time_after(doc: str, pos: int) -> tuple[time | None, int, int]:
    """The time of day written right after a date, with the end position and a day carry."""
    match = _TIME.match(doc, pos)
    if match is None:
        return None, pos, 0
    hour = int(match["h"])
    minute = int(match["mi"] or match["mi2"] or (30 if match["half"] else 0))
    marker = match["ap"] or ""
    ampm = (match["ampm"] or "").lower().replace(".", "")
    if (marker in {"下午", "晚上", "晚间", "夜间", "傍晚"} or ampm == "pm") and hour < 12:
        hour += 12
    elif (marker == "凌晨" or ampm == "am") and hour == 12:
        hour = 0
    if hour == 24 and minute == 0:
        return time(0, 0), match.end(), 1
    if hour > 23 or minute > 59:
        return None, pos, 0
    return time(hour, minute), match.end(), 0


# An American notice writes 10/01/2024 month first; so does any text that writes 09/25/2024.
_AMERICAN = re.compile(r"\b(?:US|U\.S\.|USA|United\s+States)\b")
_SLASHED = re.compile(rf"(?<![\d/])(\d{{1,2}})/(\d{{1,2}})/{_YEAR}(?!\d)")


def _slash_order(doc: str) -> str:
    """How the ambiguous slashed dates of ``doc`` (04/11/2020) are written: as an unambiguous one
    shows (25/09 or 09/25), else month first in an American notice, else unknown ("")."""
    for match in _SLASHED.finditer(doc):
        if int(match[1]) > 12:
            return "day first"
        if int(match[2]) > 12:
            return "month first"
    return "month first" if _AMERICAN.search(doc) else ""


def _raw_mentions(doc: str) -> list[_Raw]:
    found: list[_Raw] = []
    order: str | None = None  # of slashed dates, worked out when one needs it
    english_relative = any(word in doc for word in _EN_RELATIVE_WORDS)
    for match in (_DATE if english_relative else _DATE_NO_EN_RELATIVE).finditer(doc):
        # Groups read one by one: groupdict() would build a dict of all 26 for each date.
        raw: _Raw | None
        if match["m"]:
            year: int | None = None
            shift: int | None = None
            start = match.start()
            before = _YEAR_BEFORE.search(doc, max(0, start - 12), start)
            if before is not None:
                start = before.start()
                if before["y"]:
                    year = int(before["y"])
                elif before["y2"]:
                    year = 2000 + int(before["y2"])
                else:
                    shift = {"今": 0, "明": 1, "来": 1, "次": 1, "去": -1}[before["ry"]]
            raw = _Raw(start, match.end(), year, int(match["m"]), int(match["d"]), shift)
        elif match["ny"]:
            raw = _Raw(
                match.start(),
                match.end(),
                int(match["ny"]),
                int(match["nm"]),
                int(match["nd"]),
            )
        elif match["dd"]:
            first, second = int(match["dd"]), int(match["dm"])
            if match["dsep"] == "/" and max(first, second) <= 12:
                if order is None:
                    order = _slash_order(doc)
                if not order:
                    continue  # ambiguous without the site's order
                day, month = (second, first) if order == "month first" else (first, second)
            else:
                day, month = (
                    (second, first) if match["dsep"] == "/" and second > 12 else (first, second)
                )
            raw = _Raw(match.start(), match.end(), int(match["dy"]), month, day)
        elif match["sd"]:
            sy = match["sy"]
            raw = _Raw(
                match.start(),
                match.end(),
                int(sy) if sy else None,
                _ROMANCE_MONTHS[match["sm"].lower()],
                int(match["sd"]),
            )
        elif match["em"] or match["fm"]:
            month = _EN_MONTHS[(match["em"] or match["fm"])[:3]]
            day = int(match["ed"] or match["fd"])
            ey = match["ey"] or match["fy"]
            raw = _Raw(match.start(), match.end(), int(ey) if ey else None, month, day)
        else:
            word = match["rel"]
            if word == "次日" and _AFTER_EVENT.search(
                doc, max(0, match.start() - 3), match.start()
            ):
                continue
            raw = _Raw(
                match.start(), match.end(), None, 0, 0, relative=_REL_OFFSET.get(word.lower(), 0)
            )
        at, end, carry = _time_after(doc, raw.end)
        if at is not None:
            raw.at, raw.end, raw.carry = at, end, carry
        found.append(raw)
    _join_ranges(doc, found)
    return [raw for raw in found if raw.month >= 0]


def _join_ranges(doc: str, found: list[_Raw]) -> None:
    """Fold "X至Y", "X-Y" and "X至7日" into one mention of X carrying Y as its last day."""
    for index, raw in enumerate(found):
        if raw.month < 0:
            continue
        nxt = found[index + 1] if index + 1 < len(found) else None
        if (
            nxt is not None
            and nxt.start == raw.end
            and raw.year
            and nxt.year
            and _PERIOD.match(doc, nxt.end)
        ):
            # "2025年4月15日2025年5月30日期间": a mirror dropped the 至 between the two ends.
            raw.until = (nxt.year, nxt.month, nxt.day)
            raw.end = nxt.end
            nxt.month = -1
            continue
        link = _RANGE_LINK.match(doc, raw.end)
        if link is None:
            continue
        if nxt is not None and nxt.start == link.end() and nxt.relative is None:
            raw.until = (nxt.year, nxt.month, nxt.day)
            raw.end = nxt.end
            nxt.month = -1  # consumed
            continue
        day_only = _DAY_ONLY.match(doc, link.end())
        if day_only is not None and raw.relative is None:
            raw.until = (raw.year, raw.month, int(day_only["d"]))
            raw.end = day_only.end()


# A news dateline: "4月11日消息", "3月2日讯", "10月9日电"; 今天 after it means that day.
_DATELINE = re.compile(r"\s*(?:电|讯|消息|报道)")
_DATELINE_REACH = 300
_PUBLISHED_LABEL = re.compile(
    r"(?:(?:发布|发表|公布|发文)(?:时间|日期)|(?:posted|published)(?:\s+on)?)\s*[:：]?\s*$",
    re.IGNORECASE,
)

# A year standing alone in a headline ("2017淘宝新规公布"), not the start of a date.
# A model year (2025款, 2025版) or a fiscal year (2024财年) says nothing about the notice's days.
_HEADLINE_YEAR = re.compile(
    rf"(?<!\d)({_YEAR})(?!\d)(?!\s*(?:年\s*)?[-/.月]?\s*\d)(?!\s*年?\s*(?:款|版|型|财年|财报|Q\d))"
)


# A month a headline names without a day ("2018年3月淘宝天猫新规速递").
_HEADLINE_MONTH = re.compile(rf"(?<!\d)({_YEAR})\s*年\s*(\d{{1,2}})\s*月(?!\s*\d)")


def headline_year(title: str) -> int | date | None:
    """What a headline says of its notice's month-days: the year it names on its own
    ("2017淘宝新规", they fall in it), or the month it names (about the 15th of which they lie,
    as they would about a publish date). A repost's page date then never drags them forward.
    """
    month = _HEADLINE_MONTH.search(title)
    if month is not None:
        return _valid(int(month[1]), int(month[2]), 15)
    match = _HEADLINE_YEAR.search(title)
    return int(match.group(1)) if match else None


def find_dates(
    doc: str, published: date | None, headline: int | date | None = None
) -> list[DateMention]:
    """Every day named in ``doc`` whose date can be known, in text order.

    A year-less month-day takes its year from ``headline`` (see ``headline_year``),
    else from the nearest date in the same text that has one, else from ``published``; without
    any it is left out. Never raises.
    """
    return TextDates(doc).resolved(published, headline)


class TextDates:
    """``find_dates`` for one text against more than one publish date, scanning it once.

    A notice with no publish time is read twice, the second time against its signature's day;
    the scan (``_raw_mentions``, most of the cost) does not depend on the day, and resolving
    only reads what it found.
    """

    def __init__(self, doc: str) -> None:
        self._doc = doc
        self._raws = _raw_mentions(doc)

    def resolved(
        self, published: date | None, headline: int | date | None = None
    ) -> list[DateMention]:
        """``find_dates(doc, published, headline)``."""
        return _resolve_all(self._doc, self._raws, published, headline)

    def unplaced(
        self, published: date | None, headline: int | date | None = None
    ) -> list[tuple[int, int]]:
        """Where the text names a day that ``resolved`` leaves out for want of a year (a
        month-day with no year anywhere to take, 今日 with no publish time), as spans."""
        anchors = [
            (raw.start, d)
            for raw in self._raws
            if raw.year and (d := _valid(raw.year, raw.month, raw.day))
        ]
        return [
            (raw.start, raw.end)
            for raw in self._raws
            if raw.year is None and _resolve(raw, anchors, published, headline) is None
        ]


def _resolve_all(
    doc: str, raws: list[_Raw], published: date | None, headline: int | date | None
) -> list[DateMention]:
    anchors = [
        (raw.start, d) for raw in raws if raw.year and (d := _valid(raw.year, raw.month, raw.day))
    ]
    if published is None:
        # "发布时间：2023年10月18日" in a page's header dates 本规范自发布之日起施行.
        published = next(
            (
                labelled
                for raw in raws
                if raw.year
                and _PUBLISHED_LABEL.search(doc, max(0, raw.start - 16), raw.start)
                and (labelled := _valid(raw.year, raw.month, raw.day))
            ),
            None,
        )
    mentions: list[DateMention] = []
    dateline: tuple[int, date] | None = None
    for raw in raws:
        base = published
        if raw.relative is not None and dateline and raw.start - dateline[0] < _DATELINE_REACH:
            base = dateline[1]  # "4月11日消息：今天，…" is the day of the dateline
        on = _resolve(raw, anchors, base, headline)
        if on is None:
            continue
        if raw.relative is None and _DATELINE.match(doc, raw.end):
            dateline = (raw.end, on)
        if raw.carry:
            on += timedelta(days=raw.carry)
        until = None
        if raw.until is not None:
            last_year, month, day = raw.until
            until = _valid(last_year, month, day) if last_year else _near(month, day, on)
            if until is not None and until < on:
                until = None
        mentions.append(
            DateMention(
                start=raw.start,
                end=raw.end,
                on=on,
                at=raw.at,
                explicit_year=raw.year is not None,
                relative=raw.relative is not None,
                until=until,
            )
        )
    return mentions


def _resolve(
    raw: _Raw, anchors: list[tuple[int, date]], published: date | None, headline: int | date | None
) -> date | None:
    if raw.relative is not None:
        return published + timedelta(days=raw.relative) if published else None
    if raw.year is not None:
        return _valid(raw.year, raw.month, raw.day)
    if raw.year_shift is not None:
        return _valid(published.year + raw.year_shift, raw.month, raw.day) if published else None
    if isinstance(headline, date):
        return _near(raw.month, raw.day, headline)
    if headline is not None:
        return _valid(headline, raw.month, raw.day)
    reference = _nearest_anchor(raw.start, anchors) or published
    return _near(raw.month, raw.day, reference) if reference else None


def _nearest_anchor(pos: int, anchors: list[tuple[int, date]]) -> date | None:
    """The date with a year written last before ``pos``, else the first one after it."""
    if not anchors:
        return None
    index = bisect_left(anchors, pos, key=lambda anchor: anchor[0]) - 1
    return anchors[max(index, 0)][1]
