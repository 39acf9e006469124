"""What each date of a text is: a 公示 (announced) date, a 生效 (effective) date, the end of a
公示 period, or an old effective date a postponement moves away from.

Only the words around a date decide, never its position: the verb right after it (…公示,
…起生效, 于…生效, …起将享受), else a label right before it (生效时间：…, 公示期为…, effective
date: …, Starting …), else a bare 起 after it (X起 → effective). A date with none of these
(3月18日消息, 3月18日前) plays no role. A 公示 period given as a length (公示期7天) is read too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from alerts.extract.clauses import CLAUSE_END
from alerts.extract.dates import DateMention, cn_int

__all__ = ["NoticeDays", "Reading", "Role", "notice_periods", "read_roles"]


class Role(Enum):
    announced = "announced"
    effective = "effective"
    notice_ends = "notice_ends"  # last day of the 公示 period
    postponed_from = "postponed_from"  # the effective date being moved away from


@dataclass(frozen=True, slots=True)
class Reading:
    """A date mention with the role its words give it."""

    mention: DateMention
    role: Role
    strong: bool = True  # said with a verb or label, not just "X起"
    tentative: bool = False  # 预计/拟/计划 …
    moved_to: bool = False  # the new date of a postponement (延期至X)


@dataclass(frozen=True, slots=True)
class NoticeDays:
    """A 公示 period given as a number of days, at ``pos``."""

    pos: int
    days: int
    working_days: bool


_I = re.IGNORECASE
# "（星期一）起生效", and the close of "公示期满后（即3月25日）生效".
_BRACKET = r"(?:[)）]\s*)?(?:[(（][^()（）]{0,12}[)）]\s*)?"
_FILLER = (
    r"(?:将|会|已|正式|全面|统一|逐步|陆续|开始|进行|完成|予以|同步|变更|调整|更新|修订|升级|起|再|对外"
    r"|当天|当日|零点|整|之后|止)*"
)
_SPAN = r"(?:\d{1,3}\s*(?:个)?\s*(?:自然日|工作日|天|日)的?)"  # 起进行7天公示
# "3月18日在规则中心公示", "3月18日通过商家后台发布": where or how, between the date and verb.
_PLACE = r"(?:(?:在|通过|于|经)[^，,。；;\d]{1,10}?)?"
_AFTER = re.compile(
    rf"^\s*{_BRACKET}(?:起|开始)?\s*{_PLACE}{_FILLER}\s*(?:{_SPAN}\s*)?"
    r"(?P<cue>开始生效|生效|施行|实施|执行|实行|启用|上线|落地|适用|起效|公示|发布|公布|"
    r"征求意见|征集意见|onwards?\b|takes? effect|(?:comes?|goes?) into (?:effect|force))",
    _I,
)
# "2024年4月1日为新规生效日": the date is named as the day of something.
_AFTER_IS = re.compile(
    r"^\s*(?:为|是|即|作为)\s*[^，,。；;]{0,8}?(?P<cue>生效|施行|实施|公示)(?:日|日期|时间|之日)"
)
_ANNOUNCING = {"公示", "发布", "公布", "征求意见", "征集意见"}
_AFTER_QI = re.compile(rf"^\s*{_BRACKET}(?:起|开始)")
_AFTER_CHANGE = re.compile(
    rf"^\s*{_BRACKET}(?:将|会|正式|起)*.{{0,24}}?(?:进行)?(?:调整|变更|更新|升级|修订|下线|废止)"
)
_BEFORE_IN = re.compile(r"(?:于|在)\s*$")
_BEFORE_OLD = re.compile(
    r"(?:原定|原计划|原本|原先|原|本应|originally\s+(?:scheduled|planned|set|due)?)\s*"
    r"(?:将|会|要)?\s*(?:于|在|自|从|for|on|to\s+take\s+effect\s+on)?\s*$",
    _I,
)
_BEFORE_MOVED = re.compile(
    r"(?:延期|推迟|延迟|顺延|延后|推后|改期|暂缓|调整|变更|改|更改|postponed|delayed|deferred|"
    r"pushed\s+back|moved|rescheduled)\s*(?:生效)?\s*(?:日期|时间)?\s*"
    r"(?:为|至|到|to|until|till)\s*(?:于|在)?\s*$",
    _I,
)
_BEFORE_FROM = re.compile(r"(?:由|从|from)\s*$", _I)
_MOVE_VERB = re.compile(
    r"延期|推迟|延迟|顺延|延后|推后|改期|调整为|调整至|变更为|改为|更改为"
    r"|postpone|delay|defer|push",
    _I,
)
_BEFORE_NOTICE_END = re.compile(
    r"公示(?:期|时间)?\s*(?:[:：]|为)?\s*(?:截至|截止(?:到|至)?|至|到|结束于|until|ends?(?:\s+on)?)\s*$",
    _I,
)
_BEFORE_ANNOUNCED = re.compile(
    r"(?:公示(?:开始)?的?(?:时间|日期|期)?|发布的?(?:时间|日期)|公布的?(?:时间|日期)|"
    r"(?:意见)?(?:征求|征集)(?:意见)?(?:时间|期)?|"
    r"announced|announcement\s+date|published|released|public\s+notice(?:\s+(?:period|date))?|"
    r"publicity\s+period|notice\s+period|publication\s+date)"
    r"(?:\s+(?:runs|lasts|will\s+run|will\s+last|starts|begins))?"
    r"(?:\s*(?:[:：]|为|是|自|从|于|on|from|of|is))*\s*$",
    _I,
)
_BEFORE_EFFECTIVE = re.compile(
    r"(?:(?:生效|施行|实施|执行|实行|上线|启用|适用)的?(?:时间|日期|日)|effective\s+(?:date|time)|"
    r"(?:take|takes|taking|took)\s+effect|effective|(?:come|comes|go|goes)\s+into\s+(?:effect|force)|"
    r"enters?\s+into\s+force|in\s+force|go(?:es)?\s+live|starting|starts?|beginning|as\s+of)"
    r"(?:\s*(?:[:：]|为|是|定为|定于|暂定为|约为|在|于|自|从|on|from|as\s+of|since))*\s*$",
    _I,
)
_TENTATIVE = re.compile(
    r"预计|预期|(?<![虚模])拟(?=于|在|将|自|从|定|对|\d|今|明|次|\s)|计划(?=于|在|将|自|从|\d|今|明)|"
    r"暂定|初定|有望|expected|tentative|plans?\s+to|planned|proposed",
    _I,
)
_CONSULTING = re.compile(r"征求|征集|意见|comment|consultation", _I)
_TENTATIVE_AFTER = re.compile(r"^\s*[(（](?:暂定|待定|预计|tentative)[)）]", _I)
# The lookahead, the first characters of the branches, makes most positions fail at once.
_NOTICE_DAYS = re.compile(
    r"(?=[公为pn\d一二三四五六七八九十两])(?:"
    r"(?:公示期|公示时间|公示)(?:为|是|共|有)?\s*(?P<n>\d{1,3}|[一二三四五六七八九十两]{1,3})\s*"
    r"(?:个)?\s*(?P<u>自然日|工作日|天|日)"
    r"|为期\s*(?P<n2>\d{1,3}|[一二三四五六七八九十两]{1,3})\s*(?:个)?\s*(?P<u2>自然日|工作日|天|日)的公示"
    r"|(?:public\s+notice|publicity|notice)\s+period\s+(?:of|is)\s+(?P<n3>\d{1,3})\s+"
    r"(?P<u3>(?:calendar\s+|working\s+|business\s+)?days)"
    # 公示时间为3月18日，为期7天 / 7天公示期
    r"|公示[^。；;\n]{0,24}?为期\s*(?P<n4>\d{1,3}|[一二三四五六七八九十两]{1,3})\s*(?:个)?\s*"
    r"(?P<u4>自然日|工作日|天|日)"
    r"|(?<![\d月年号])(?P<n5>\d{1,3}|[一二三四五六七八九十两]{1,3})\s*(?:个)?\s*(?P<u5>自然日|工作日|天|日)的?公示)",
    _I,
)
_WINDOW = 24
# \s*+: what follows never needs the spaces back; with backtracking a long run of spaces
# between two dates cost its square (1 s for 20,000).
_DATE_LIST = re.compile(r"\s*+(?:和|及|与|、|以及|或|,?\s*and|or)\s*", _I)


def _prefix(doc: str, mention: DateMention, floor: int) -> str:
    left = max(floor, mention.start - _WINDOW)
    stops = list(CLAUSE_END.finditer(doc, left, mention.start))
    return doc[stops[-1].end() if stops else left : mention.start]


def _suffix(doc: str, mention: DateMention, ceiling: int) -> str:
    right = min(ceiling, mention.end + _WINDOW)
    stop = CLAUSE_END.search(doc, mention.end, right)
    return doc[mention.end : stop.start() if stop else right]


def read_roles(doc: str, mentions: list[DateMention]) -> list[Reading]:
    """The role of each mention that has one, in text order.

    Dates listed together (X和Y生效, 生效时间分别为X、Y) share the role of the one that has it.
    """
    found: list[list[Reading]] = []
    for index, mention in enumerate(mentions):
        floor = mentions[index - 1].end if index else 0
        ceiling = mentions[index + 1].start if index + 1 < len(mentions) else len(doc)
        before = _prefix(doc, mention, floor)
        after = _suffix(doc, mention, ceiling)
        tentative = bool(_TENTATIVE.search(before) or _TENTATIVE_AFTER.match(after))
        immediate = mention.relative and "mmediate" in doc[mention.start : mention.end]
        found.append(_roles(mention, before, after, tentative=tentative, immediate=immediate))
    listed = [
        index + 1 < len(mentions)
        and _DATE_LIST.fullmatch(doc, mentions[index].end, mentions[index + 1].start) is not None
        for index in range(len(mentions))
    ]
    for index in reversed(range(len(mentions) - 1)):
        if listed[index] and not found[index] and len(found[index + 1]) == 1:
            found[index] = [_like(mentions[index], found[index + 1][0])]
    for index in range(1, len(mentions)):
        if listed[index - 1] and not found[index] and len(found[index - 1]) == 1:
            found[index] = [_like(mentions[index], found[index - 1][0])]
    return [reading for readings in found for reading in readings]


def _like(mention: DateMention, other: Reading) -> Reading:
    return Reading(mention, other.role, other.strong, other.tentative, other.moved_to)


def _roles(
    mention: DateMention, before: str, after: str, *, tentative: bool, immediate: bool
) -> list[Reading]:
    if mention.until is not None and _MOVE_VERB.search(before) and _BEFORE_FROM.search(before):
        # "postponed from March 1 to April 1" was read as a range: it is an old and a new date.
        moved = DateMention(mention.end, mention.end, mention.until, mention.at)
        return [
            Reading(mention, Role.postponed_from),
            Reading(moved, Role.effective, tentative=tentative, moved_to=True),
        ]
    if _BEFORE_OLD.search(before) or (_BEFORE_FROM.search(before) and _MOVE_VERB.search(after)):
        return [Reading(mention, Role.postponed_from)]
    if _BEFORE_MOVED.search(before):
        return [Reading(mention, Role.effective, tentative=tentative, moved_to=True)]
    role: Role | None = None
    strong = True
    cue = _AFTER.match(after) or _AFTER_IS.match(after)
    if cue is not None:
        role = Role.announced if cue["cue"] in _ANNOUNCING else Role.effective
    elif _BEFORE_NOTICE_END.search(before):
        return [Reading(mention, Role.notice_ends)]
    elif _BEFORE_ANNOUNCED.search(before):
        role = Role.announced
    elif _BEFORE_EFFECTIVE.search(before):
        role = Role.effective
    elif (
        _AFTER_QI.match(after)
        or immediate
        or (_BEFORE_IN.search(before) and _AFTER_CHANGE.match(after))
    ):
        role, strong = Role.effective, False
    if role is None:
        return []
    if role is Role.announced and mention.until is not None and not _CONSULTING.search(before):
        # 公示期为X-Y: X opens the 公示 period, Y closes it (a comment period implies nothing).
        closing = DateMention(mention.end, mention.end, mention.until)
        return [Reading(mention, role), Reading(closing, Role.notice_ends)]
    return [Reading(mention, role, strong=strong, tentative=tentative)]


def notice_periods(doc: str) -> list[NoticeDays]:
    """Every 公示 period given as a length: 公示期7天, 为期5个工作日的公示, a 7-day period."""
    found = []
    for match in _NOTICE_DAYS.finditer(doc):
        number = match["n"] or match["n2"] or match["n3"] or match["n4"] or match["n5"]
        unit = match["u"] or match["u2"] or match["u3"] or match["u4"] or match["u5"] or ""
        days = cn_int(number)
        if days:
            working = "工作日" in unit or "working" in unit or "business" in unit
            found.append(NoticeDays(match.start(), days, working))
    return found
