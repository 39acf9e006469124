"""What each date of a text is: a 公示 (announced) date, a 生效 (effective) date, the end of a
公示 period, or an old effective date a postponement moves away from.

Only the words around a date decide, never its position: the verb right after it (…公示,
…起生效, 于…生效, …起将享受), else a label right before it (生效时间：…, 公示期为…, effective
date: …, Starting …), else a bare 起 after it (X起 → effective). A date with none of these
(3月18日消息, 3月18日前) plays no role. A 公示 period given as a length (公示期7天) is read too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum

from alerts.extract.casing import for_lowered, lowered
from alerts.extract.clauses import CLAUSE_END, SENTENCE_END, Sentences
from alerts.extract.dates import DateMention, cn_int
from alerts.extract.platforms import leading_platform

__all__ = ["NoticeDays", "Reading", "Role", "notice_periods", "read_roles", "signature"]


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
    revised: bool = False  # 于X修订: this change's 公示, ahead of the rule's first 发布


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
    r"|当天|当日|零点|整|之后|止|首次|再次|第[\d一二三四五六七八九十]{1,3}次)*"
)
_SPAN = r"(?:\d{1,3}\s*(?:个)?\s*(?:自然日|工作日|天|日)的?)"  # 起进行7天公示
# "3月18日在规则中心公示", "3月18日通过商家后台发布": where or how, between the date and verb.
_PLACE = r"(?:(?:在|通过|于|经)[^，,。；;\d]{1,10}?)?"
_AFTER = re.compile(
    rf"^\s*{_BRACKET}(?:起|开始)?\s*{_PLACE}{_FILLER}\s*(?:{_SPAN}\s*)?"
    r"(?P<cue>开始生效|生效|施行|实施|执行|实行|启用|上线|落地|适用|起效|公示|发布|公布|"
    r"征求意见|征集意见|修订(?!于|时间|日期)|修改(?!于|时间|日期)|更新(?!为|成|至|于|时间|日期)|"
    r"onwards?\b|takes? effect|(?:comes?|goes?|enters?) into (?:effect|force))",
    _I,
)
# "2024年4月1日为新规生效日": the date is named as the day of something.
_AFTER_IS = re.compile(
    r"^\s*(?:为|是|即|作为)\s*[^，,。；;]{0,8}?(?P<cue>生效|施行|实施|公示)(?:日|日期|时间|之日|期)"
)
_ANNOUNCING = {"公示", "发布", "公布", "征求意见", "征集意见", "修订", "修改", "更新"}
_REVISING = {"修订", "修改", "更新"}
# "于X进行公示通知并正式生效": one day is both the 公示 and the 生效.
_AND_EFFECTIVE = re.compile(r"[^，,。；;]{0,12}?并(?:正式|同步|同时|即)?(?:生效|施行|实施)")
_AFTER_QI = re.compile(rf"^\s*{_BRACKET}(?:起|开始)")
_AFTER_CHANGE = re.compile(
    rf"^\s*{_BRACKET}(?:将|会|正式|起)*.{{0,24}}?(?:进行)?(?:调整|变更|更新|升级|修订|下线|废止)"
)
_BEFORE_IN = re.compile(r"(?:于|在)\s*$")
_BEFORE_OLD = re.compile(
    # The lookahead (the first characters of the branches) makes most positions fail at once,
    # here and in the patterns below.
    r"(?=[原本op])(?:原定|原计划|原本|原先|原|本应|originally\s+(?:scheduled|planned|set|due)?"
    r"|previously\s+(?:announced|scheduled|planned|set)(?:\s+to\s+take\s+effect)?)(?:的)?\s*"
    r"(?:将|会|要)?\s*(?:于|在|自|从|for|on|to\s+take\s+effect\s+on)?\s*$",
    _I,
)
_BEFORE_MOVED = re.compile(
    r"(?=[延推顺改暂调变更pdmrw])(?:(?:延期|推迟|延迟|顺延|延后|推后|改期|暂缓|调整|变更|改|更改"
    r"|postponed|delay(?:ed)?|deferred|pushed\s+back|moved|rescheduled)"
    r"\s*(?:生效)?\s*(?:日期|时间)?\s*"
    r"(?:为|至|到|to|until|till)\s*(?:于|在)?\s*$"
    # "previously announced for 15 November, will now take effect on 1 December"
    r"|will\s+now\s+(?:take\s+effect|apply|be\s+effective|start|begin)(?:\s+(?:on|from))?\s*$)",
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
    r"(?=[公发意征更修aprnlud])"
    r"(?:公示(?:开始)?的?(?:时间|日期|期)?|发布的?(?:时间|日期)|公布的?(?:时间|日期)|"
    r"(?:意见)?(?:征求|征集)(?:意见)?(?:时间|期)?|"
    r"announced|announcement\s+date|published|released|public\s+notice(?:\s+(?:period|date))?|"
    r"publicity\s+period|notice\s+period|publication\s+date|"
    # 更新于X / Posted on: X / Last updated: X label the day this version was published.
    r"(?:更新|修订|发布|公布|公告)(?:于|时间[:：]?)|posted"
    # "Last updated: X"; not "the agreement was last updated on X", a fact about the rule
    r"|(?<!was\s)(?<!were\s)last\s+updated|(?<!was\s)(?<!were\s)(?<!last\s)updated"
    r"|date\s+posted"
    r"|notice\s+date|date\s+of\s+(?:notice|announcement)"
    # "an update posted in Seller Central on X"; not "translations will be published on X"
    r"|(?<!be\s)(?:announced|posted|published)(?:\s+[\w-]+){0,4}\s+on)"
    r"(?:\s+(?:runs|lasts|will\s+run|will\s+last|starts|begins))?"
    r"(?:\s*(?:[:：]|为|是|自|从|于|on|from|of|is))*\s*$",
    _I,
)
_BEFORE_EFFECTIVE = re.compile(
    # The ^ branch may open with a space, a bullet or "from"; every other with a word.
    r"(?=[生施实执上启适etcgisbawovdf:：\s•*-])"
    r"(?:(?:生效|施行|实施|执行|实行|上线|启用|适用)的?(?:时间|日期|日)|effective\s+(?:date|time)|"
    r"(?:take|takes|taking|took)\s+effect|effective|(?:come|comes|go|goes)\s+into\s+(?:effect|force)|"
    r"enters?\s+into\s+(?:force|effect)|in\s+force|go(?:es)?\s+live|starting|starts?|beginning"
    r"|as\s+of|with\s+effect\s+from|w\.?e\.?f\.?|^\s*(?:[-•*]\s*)?from|(?:that|and|then|[:：])\s*from"
    r"|applies\s+from|apply\s+from|on\s+or\s+after"
    # "A partir del 2 de diciembre", "vigente desde el", "entra en vigor el"
    r"|a\s+partir\s+d(?:e|el|o|a)|(?:vigente|válid[oa]|valid[oa])\s+desde(?:\s+el)?"
    r"|entra(?:rá)?\s+em?\s+vigor(?:\s+(?:el|en|no|a))?|desde\s+el)"
    r"(?:\s*(?:[:：]|为|是|定为|定于|暂定为|约为|在|于|自|从|on|from|as\s+of|since))*"
    r"(?:\s+the)?\s*$",
    _I,
)
_TENTATIVE = re.compile(
    r"(?=[预拟计暂初有etp])(?:预计|预期|(?<![虚模])拟(?=于|在|将|自|从|定|对|\d|今|明|次|\s)"
    r"|计划(?=于|在|将|自|从|\d|今|明)|暂定|初定|有望|expected|tentative|plans?\s+to|planned|proposed)",
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
# Every form of _NOTICE_DAYS says 公示 or "period" (the flags are its own): most texts have
# neither, and a search for them is quicker than the scan of _NOTICE_DAYS, whose lookahead
# lets every digit through.
_PERIOD_WORD = re.compile("period", _I)
_WINDOW = 24
_SUBJECT_THEN_VERB = re.compile(r"\s*[,，]\s*[^，,。；;:：\d]{0,12}?(?:发布|公布|公示|宣布)")
# \s*+: what follows never needs the spaces back; with backtracking a long run of spaces
# between two dates cost its square (1 s for 20,000).
_DATE_LIST = re.compile(r"\s*+(?:和|及|与|、|以及|或|,?\s*and|or)\s*", _I)


# "will go into effect in 15 days (i.e., June 15, 2020)", "in 15 days, that is, April 24": the
# date restates a period given after the cue, which stands further back in the sentence.
_RESTATED = re.compile(
    r"(?:take|takes|go|goes|come|comes|enter|enters)\s+into\s+effect|take[sn]?\s+effect|effective"
    r"|生效|施行|实施",
    _I,
)
_RESTATING = re.compile(
    r"(?:in|within|after)\s+\d{1,3}\s+(?:calendar\s+|business\s+)?days?\s*[,(（]?\s*"
    r"(?:i\.?e\.?|that\s+is|namely|即)\s*[,，:：]?\s*$"
    r"|\d{1,3}\s*(?:个)?(?:自然日|工作日|天|日)后\s*[(（,，]?\s*(?:即)\s*$",
    _I,
)


_ON_DAY = re.compile(r"(?:^|[.:]\s+)(?:On|Beginning\s+on)\s+$")
_THEN_WILL = re.compile(r"[^.;\n]{0,40}?,?\s+(?:we|it|[A-Z][\w ]{0,30}?)\s+will\s+\w+")
_WILL_CHANGE_ON = re.compile(
    r"\b(?:will|shall|ultimately|then|are|is|plans?\s+to|intends?\s+to)\s+(?:\w+\s+){0,2}?"
    r"(?:increas|decreas|rais|climb|ris|chang|updat|introduc|launch|reduc|remov|requir|charg"
    r"|enforc|implement|lower|extend|replac|discontinu|retir|start|begin|stop|open|add|appl|reject"
    r"|suspend|block|restrict|ban|delist|deactivat|waiv|cap|phas|expand|roll)\w*\b"
    r"[^.;!?\n]{0,150}\b(?:on|from|starting(?:\s+(?:on|from))?|beginning|as\s+of)\s+(?:the\s+)?$",
    _I,
)


# "The standard fee will apply again from 1 November": the end of a temporary measure.
_AGAIN = re.compile(r"\bagain\s+(?:from|on|starting)\s+(?:the\s+)?$", _I)


# What a match of _RESTATING ends with, spaces aside: the last letter of "i.e.", "that is",
# "namely" (any case; ſ is an s to IGNORECASE), 即, or the comma or colon after them.
_RESTATING_ENDS = frozenset("eE.sSſyY即,，:：")


def _restates_effect(doc: str, mention: DateMention, floor: int) -> bool:
    left = max(floor, mention.start - 80)
    window = doc[left : mention.start]
    if window.rstrip()[-1:] not in _RESTATING_ENDS:
        return False  # most dates: the search of 80 characters is skipped
    period = _RESTATING.search(window)
    return period is not None and _RESTATED.search(window, 0, period.start()) is not None


def _prefix(doc: str, mention: DateMention, floor: int) -> str:
    # English takes about twice the letters to say what Chinese says before a date.
    reach = _WINDOW * 2 if doc[max(0, mention.start - 8) : mention.start].isascii() else _WINDOW
    left = max(floor, mention.start - reach)
    stops = list(CLAUSE_END.finditer(doc, left, mention.start))
    return doc[stops[-1].end() if stops else left : mention.start]


def _suffix(doc: str, mention: DateMention, ceiling: int) -> str:
    right = min(ceiling, mention.end + _WINDOW)
    stop = CLAUSE_END.search(doc, mention.end, right)
    return doc[mention.end : stop.start() if stop else right]


# Cues that lie further from the date than the window, read over the rest of its sentence.
_CLAUSE_REACH = 60
# "于8月7日起对《X》修订内容进行公示": the day the 公示 opens, not the day X applies; without 起,
# "于12月23日至12月29日对《X》…进行公示", the 公示 period from its first day to its last.
_THEN_NOTICE = re.compile(r"\s*(?P<qi>起|开始)?\s*(?:对|就)[^，,。；;]{1,40}?(?:进行|予以)?公示")
# "自2023年2月20日的惩罚周期（含2月10日之后的订单）起": 自X的…起, the start of a named cycle.
_FROM_THE = re.compile(r"\s*的[^，,。；;()（）\d]{1,12}?(?:[(（][^()（）]{0,40}[)）])?\s*起")
_BEFORE_FROM_ZI = re.compile(r"(?:自|从)\s*$")
# "2025年4月15日至5月30日期间，平台将…", "X至Y期间成交的订单，其发货时限…调整": a temporary
# measure that holds during the window, which therefore takes effect on its first day.
_WINDOW_ACTS = re.compile(
    r"\s*(?:期间|内)[^。；;]{0,40}?(?<![不停])(?:将|会|调整|延长|缩短|放宽|执行|实行|适用)"
)
# Page chrome: "发布日期：2024-10-28 08:58:38  来源：…  作者：…" dates the page, not the change.
_CHROME = re.compile(r"来源|作者|浏览|阅读|点击|字体|责编|编辑")
_CHROME_LABEL = re.compile(r"(?:发布|发表|更新)(?:时间|日期)\s*[:：]?\s*$")


def _clause_rest(doc: str, mention: DateMention) -> str:
    """What follows the date in its sentence, commas included, up to ``_CLAUSE_REACH``."""
    right = min(len(doc), mention.end + _CLAUSE_REACH)
    stop = SENTENCE_END.search(doc, mention.end, right)
    return doc[mention.end : stop.start() if stop else right]


_STEPS_UP = re.compile(r"[^。；;\n]{0,40}?(?:加强|加大|提高|提升)[^。；;\n]{0,12}?力度")


# "11月4日在规则中心上线《X（征求意见稿）》": a draft put online for comments is its 公示.
_DRAFT_ONLINE = re.compile(
    r"\s*(?:在|于|通过)?[^，,。；;]{0,12}?(?:上线|发布|公布)[^，,。；;]{0,40}?(?:征求意见稿|意见稿|公示稿|草案)"
)


# "Date: 2025-03-18" opening a line of a notice's header: the day it was issued.
_DATE_LINE = re.compile(r"(?:^|\n)[ \t]*(?:date|dated|日期)\s*[:：]\s*$", re.IGNORECASE)


def _long_cue(doc: str, mention: DateMention, before: str) -> list[Reading]:
    """The role of a date whose cue lies beyond the window or past the next date."""
    rest = _clause_rest(doc, mention)
    # The words each pattern ends with, looked for first (most dates have none of them).
    if ("稿" in rest or "草案" in rest) and _DRAFT_ONLINE.match(rest):
        return [Reading(mention, Role.announced)]
    notice = _THEN_NOTICE.match(rest) if "公示" in rest else None
    if notice is not None and notice["qi"]:
        return [Reading(mention, Role.announced)]
    if notice is not None and mention.until is not None and _BEFORE_IN.search(before):
        closing = DateMention(mention.end, mention.end, mention.until)
        return [Reading(mention, Role.announced), Reading(closing, Role.notice_ends)]
    if notice is not None and _BEFORE_IN.search(before):
        # "于12月22日对《X》的变更进行公示": the day the change was put to 公示.
        return [Reading(mention, Role.announced)]
    # The words of the patterns, looked for first here and below (most dates have none).
    if (
        ("自" in before or "从" in before)
        and _BEFORE_FROM_ZI.search(before)
        and _FROM_THE.match(rest)
    ):
        return [Reading(mention, Role.effective)]
    if mention.until is not None and _WINDOW_ACTS.match(rest):
        return [Reading(mention, Role.effective)]
    left = max(0, mention.start - 12)
    # The label's colon lies in the window _DATE_LINE searches: find() rules most dates out.
    labelled = doc.find(":", left, mention.start) >= 0 or doc.find("：", left, mention.start) >= 0
    if labelled and _DATE_LINE.search(doc, left, mention.start):
        return [Reading(mention, Role.announced)]
    return []


# "By Dana Pike | Published 2025-06-14": a news article's byline dates the article.
_BYLINE = re.compile(
    r"(?:^|\n)[ \t]*By\s+[^\n]{1,60}?(?:Published|Posted|Updated)(?:\s+on)?\s*:?\s*$"
)


def _chrome(doc: str, mention: DateMention, before: str) -> bool:
    """Whether the date is a news page's own header date: on its line of source and author, or
    in an article's byline."""
    left = max(0, mention.start - 80)
    # A byline says "By" (the pattern is case-sensitive): find() rules out most dates faster.
    if doc.find("By", left, mention.start) >= 0 and _BYLINE.search(doc, left, mention.start):
        return True
    if not ("时间" in before or "日期" in before) or not _CHROME_LABEL.search(before):
        return False
    line_end = doc.find("\n", mention.end)
    return _CHROME.search(doc, mention.end, len(doc) if line_end < 0 else line_end) is not None


_ITEM_NUMBER = re.compile(r"[ \t]*(?:\d{1,2}[.)、]|[(（]\d{1,2}[)）]|[①-⑳])[ \t]*")
_ITEM_SAYS_CHANGE = re.compile(
    r"[ \t]*[:：][^\n]{0,80}?(?:reduc|rais|increas|lower|chang|updat|adjust|introduc|下调|上调|调整"
    r"|降低|提高|变更|更新|新增|取消)",
    re.IGNORECASE,
)


def _heads_item(doc: str, mention: DateMention) -> bool:
    """Whether ``mention`` opens a numbered item, then a colon and what changes."""
    line_start = doc.rfind("\n", 0, mention.start) + 1
    return (
        _ITEM_NUMBER.fullmatch(doc, line_start, mention.start) is not None
        and _ITEM_SAYS_CHANGE.match(doc, mention.end) is not None
    )


def read_roles(doc: str, mentions: list[DateMention]) -> list[Reading]:
    """The role of each mention that has one, in text order.

    Dates listed together (X和Y生效, 生效时间分别为X、Y) share the role of the one that has it.
    """
    found: list[list[Reading]] = []
    # The lower-cased copy (see casing) that the twins of the longest scans read, when it can.
    low = lowered(doc)
    for index, mention in enumerate(mentions):
        floor = mentions[index - 1].end if index else 0
        ceiling = mentions[index + 1].start if index + 1 < len(mentions) else len(doc)
        before = _prefix(doc, mention, floor)
        after = _suffix(doc, mention, ceiling)
        tentative = bool(
            _TENTATIVE.search(before)
            or (("(" in after or "（" in after) and _TENTATIVE_AFTER.match(after))
        )
        immediate = mention.relative and "mmediate" in doc[mention.start : mention.end]
        if _chrome(doc, mention, before):
            found.append([])
            continue
        long_cue = _long_cue(doc, mention, before)
        if long_cue:
            found.append([replace(reading, tentative=tentative) for reading in long_cue])
            continue
        moving = mention.until is not None and (
            _MOVE_VERB.search(doc, max(floor, mention.start - 160), mention.start) is not None
        )
        readings = _roles(
            mention, before, after, tentative=tentative, immediate=immediate, moving=moving
        )
        if not readings and (mention.relative or not before.strip()):
            # "今天，抖音电商发布《…》", "2月11日，抖音电商发布《X》": a day opening its clause,
            # then who, then the verb.
            said = _SUBJECT_THEN_VERB.match(doc, mention.end)
            if said is not None:
                readings = [Reading(mention, Role.announced)]
        if not readings and _restates_effect(doc, mention, floor):
            readings = [Reading(mention, Role.effective, tentative=tentative)]
        if (
            not readings
            and ("On" in before or "Beginning" in before)
            and _ON_DAY.search(before)
            and _THEN_WILL.match(doc, mention.end)
        ):
            # "On April 15, 2025 at 12:00 AM PT, we will update the fee": the day it changes.
            readings = [Reading(mention, Role.effective, tentative=tentative)]
        if not readings and _heads_item(doc, mention):
            # "1. February 1st: Multiple fees reduced", "2、3月1日：佣金下调": a roundup item dated
            # by when what it lists changes.
            readings = [Reading(mention, Role.effective, tentative=tentative)]
        if (
            not readings
            and _will_change_on(doc, low, max(floor, mention.start - 220), mention.start)
            and not _AGAIN.search(before)
        ):
            # "will increase the referral fee from 2% to 6% on April 1": the day it changes.
            readings = [Reading(mention, Role.effective, tentative=tentative)]
        found.append(readings)
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
    # The end of a window the text gives ("from July 22 to August 18 will not be penalized")
    # is no effective day, even when restated as a start ("applied starting from August 18").
    ends = {m.until for m in mentions if m.until is not None}
    kept = [
        reading
        for readings in found
        for reading in readings
        if not (
            reading.role is Role.effective
            and not reading.moved_to
            and reading.mention.until is None  # a one-day window starts as it ends
            and reading.mention.on in ends
        )
    ]
    # "即日起启动专项治理…8月5日起加大处置力度": a later day when enforcement only tightens
    # is not when the change starts, unless the text gives no other.
    stepped: set[int] = set()
    if "力度" in doc:  # what _STEPS_UP ends with: a text without it has no such day
        stepped = {
            id(r)
            for r in kept
            if r.role is Role.effective and _STEPS_UP.match(_clause_rest(doc, r.mention))
        }
    if stepped and any(r.role is Role.effective and id(r) not in stepped for r in kept):
        kept = [r for r in kept if id(r) not in stepped]
    # _cancelled turns only effective days (not moved ones) into old ones: without any, the
    # search of the whole text for _CANCEL can change nothing.
    changeable = any(r.role is Role.effective and not r.moved_to for r in kept)
    if not changeable:
        return kept
    cancel, text = (_CANCEL, doc) if low is None else (_CANCEL_LOWER, low)
    return _cancelled(doc, text, cancel, kept) if cancel.search(text) else kept


# The twin of _WILL_CHANGE_ON for the lower-cased copy, where it is about twice as fast.
_WILL_CHANGE_ON_LOWER = for_lowered(_WILL_CHANGE_ON)


def _will_change_on(doc: str, low: str | None, start: int, end: int) -> bool:
    """Whether _WILL_CHANGE_ON matches ``doc`` from ``start`` up to ``end`` (a date), read in
    ``low`` (``lowered(doc)``) when there is one."""
    # Every match ends in a space (\s+ before $), so a date right after anything else, as
    # nearly every Chinese one is, has none: the scan of 220 characters is skipped.
    if end <= start or not doc[end - 1].isspace():
        return False
    if low is None:
        return _WILL_CHANGE_ON.search(doc, start, end) is not None
    return _WILL_CHANGE_ON_LOWER.search(low, start, end) is not None


# "原定于4月1日生效的《X》暂缓实施", "scrapped a fee due to take effect on May 1": the day the
# change would have taken effect, which it no longer does.
_CANCEL = re.compile(
    # The lookahead (the first characters of the branches) makes most positions fail at once.
    r"(?=[暂不取停scw])(?:"
    r"暂缓(?:实施|执行|施行|上线)|不再(?:实施|执行|施行|上线)|取消(?:实施|执行|上线)|停止(?:实施|执行)"
    # Orders are cancelled every day; a change is when the words say so ("cancelled the planned
    # fee increase").
    r"|\b(?:scrap(?:s|ped|ping)?|cancel(?:s|led|ed|ling)?|shelv(?:e|es|ed))\s+(?:the|its|their|our"
    r"|this|that|a|an|plans?)\b(?!\s+(?:order|buyer|customer|listing|shipment|request))"
    r"|\bscrap(?:s|ped)\b|called\s+off"
    r"|will\s+no\s+longer\s+take\s+effect|will\s+not\s+take\s+effect)",
    _I,
)
# Its twin for the lower-cased copy (see casing), written so that every branch opens with a
# literal, which the engine skips to: searched over the whole text, _CANCEL let the s, c and w
# of every English word through its lookahead to try its English forms one by one. The \b
# before a word is checked behind its first letter, (?<!\ws); the branches keep their order,
# so at each place the first that matches is _CANCEL's.
_CANCEL_THE = (
    r"\s+(?:the|its|their|our|this|that|a|an|plans?)\b"
    r"(?!\s+(?:order|buyer|customer|listing|shipment|request))"
)
_CANCEL_LOWER = re.compile(
    r"暂缓(?:实施|执行|施行|上线)|不再(?:实施|执行|施行|上线)|取消(?:实施|执行|上线)|停止(?:实施|执行)"
    rf"|s(?<!\ws)crap(?:s|ped|ping)?{_CANCEL_THE}"
    rf"|c(?<!\wc)ancel(?:s|led|ed|ling)?{_CANCEL_THE}"
    rf"|s(?<!\ws)helv(?:e|es|ed){_CANCEL_THE}"
    r"|s(?<!\ws)crap(?:s|ped)\b|called\s+off"
    r"|will\s+no\s+longer\s+take\s+effect|will\s+not\s+take\s+effect"
)


def _cancelled(
    doc: str, text: str, cancel: re.Pattern[str], readings: list[Reading]
) -> list[Reading]:
    """``readings`` with the effective days of sentences that call the change off turned into
    old ones; ``cancel`` is _CANCEL and ``text`` is ``doc``, or the twin and the lower-cased
    copy. The sentences are the text's own: a full stop ends one before a capital."""
    sentences = Sentences(doc)
    out = []
    for reading in readings:
        pos = reading.mention.start
        start, end = sentences.start(pos), sentences.end(pos) or len(doc)
        if (
            reading.role is Role.effective
            and not reading.moved_to
            and cancel.search(text, start, end)
        ):
            reading = Reading(reading.mention, Role.postponed_from)
        out.append(reading)
    return out


def _like(mention: DateMention, other: Reading) -> Reading:
    return Reading(
        mention, other.role, other.strong, other.tentative, other.moved_to, other.revised
    )


# "请于3月27日24:00前完成更新": a deadline for merchants, whatever verb follows it.
_DEADLINE = re.compile(r"\s*(?:点|时|整)?\s*(?:之前|以前|前|为止|截止)")


# "items stored for more than 120 days as of 31 August": the day a count is taken.
_COUNTED_AS_OF = re.compile(r"\d+\s+(?:calendar\s+)?(?:days?|months?)\s+as\s+of\s*$", _I)


def _roles(
    mention: DateMention,
    before: str,
    after: str,
    *,
    tentative: bool,
    immediate: bool,
    moving: bool = False,
) -> list[Reading]:
    """The role(s) of one date from the words right before and after it; ``moving`` says its
    sentence moves something (postponed, delayed …) somewhere before it."""
    # The words of the patterns, looked for first here and below (most dates have none).
    if ("前" in after or "为止" in after or "截止" in after) and _DEADLINE.match(after):
        return []
    if mention.until is not None and moving and _BEFORE_FROM.search(before):
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
    cue = _AFTER.match(after)
    if cue is None and ("生效" in after or "施行" in after or "实施" in after or "公示" in after):
        cue = _AFTER_IS.match(after)
    if cue is not None:
        role = Role.announced if cue["cue"] in _ANNOUNCING else Role.effective
        if role is Role.announced and _AND_EFFECTIVE.match(after, cue.end()):
            return [
                Reading(mention, role),
                Reading(mention, Role.effective, tentative=tentative),
            ]
        if cue["cue"] in _REVISING:
            # "于X修订" is when the revision was announced; "X起更新" is when it applies.
            if re.search("起|开始", after[: cue.start("cue")]):
                return [Reading(mention, Role.effective, tentative=tentative)]
            return [Reading(mention, role, revised=True)]
    elif "公示" in before and _BEFORE_NOTICE_END.search(before):
        return [Reading(mention, Role.notice_ends)]
    elif _BEFORE_ANNOUNCED.search(before):
        role = Role.announced
    elif _BEFORE_EFFECTIVE.search(before) and not _COUNTED_AS_OF.search(before):
        role = Role.effective
    elif (
        (("起" in after or "开始" in after) and _AFTER_QI.match(after))
        or immediate
        or (
            ("于" in before or "在" in before)
            and _BEFORE_IN.search(before)
            and _AFTER_CHANGE.match(after)
        )
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
    found: list[NoticeDays] = []
    if "公示" not in doc and not _PERIOD_WORD.search(doc):
        return found
    for match in _NOTICE_DAYS.finditer(doc):
        number = match["n"] or match["n2"] or match["n3"] or match["n4"] or match["n5"]
        unit = match["u"] or match["u2"] or match["u3"] or match["u4"] or match["u5"] or ""
        days = cn_int(number)
        if days:
            working = "工作日" in unit or "working" in unit or "business" in unit
            found.append(NoticeDays(match.start(), days, working))
    return found


# The signature of a notice: the issuer (淘宝网, 浙江天猫技术有限公司) and a full date, alone at
# its end. Its date is the 公示 when the notice gives no other.
# An issuer is an organisation: 淘宝网, 京东开放平台, 浙江天猫技术有限公司, 小红书电商运营团队.
_SIGNER = re.compile(
    r"(?:[^\s，,。；;：:！!？?（）()]{0,20}"
    r"(?:公司|网|平台|集团|中心|团队|小组|部|商城|小二|官方|运营|电商|委员会|Team|Inc\.?|Ltd\.?)"
    r"|[^\s，,。；;：:！!？?（）()]{0,12}(?:淘宝|天猫|京东|拼多多|抖音电商|抖店|快手|小红书|1688|闲鱼|饿了么|美团|微信小店))?"
)
_SIGNATURE_LINES = 3
_CLOSING = re.compile(r"[。！!？?]")


def signature(doc: str, mentions: list[DateMention]) -> DateMention | None:
    """The signature date at the end of ``doc``, if the notice is signed with one."""
    if not mentions or not mentions[-1].explicit_year or mentions[-1].relative:
        return None
    if mentions[-1].until is not None:
        return None  # a period (统计周期为X-Y) closes the text, not a signature
    last = mentions[-1]
    line_start = doc.rfind("\n", 0, last.start) + 1
    line_end = doc.find("\n", last.end)
    line_end = len(doc) if line_end < 0 else line_end
    if doc[last.end : line_end].strip(" \t。.") or doc[line_end:].count("\n") > _SIGNATURE_LINES:
        return None
    # The issuer may be glued to the closing words: "…感谢支持!浙江天猫技术有限公司2015年3月2日".
    closings = list(_CLOSING.finditer(doc, line_start, last.start))
    signer_start = closings[-1].end() if closings else line_start
    signer = doc[signer_start : last.start].strip()
    if _SIGNER.fullmatch(signer) is None and not (
        len(signer) <= 16 and leading_platform(signer)[1] == signer
    ):
        return None
    if len(mentions) > 1 and mentions[-2].end > signer_start:
        return None
    lines_after = [line for line in doc[line_end:].split("\n") if line.strip()]
    return last if not lines_after else None
