"""Rule names in a text, the platform each belongs to, and the key that makes them one rule.

Names come from 《》 (or 「」/“” around a name that ends like a rule), else from a title such as
"1688调整商家发货行为管理规范" (the words after the verb up to 规范/规则/规定/办法/…), else from
English title-case names ("AliExpress Seller Rules"). Laws and rules only cited as a basis
(根据《电子商务法》) are not the subject of a change and are skipped.

A name keeps its spelling after normalization (simplified characters, ASCII digits), without
spaces or line breaks; its key adds the platform where the name lacks it, so
《商家发货行为管理规范》 in a 1688 notice and 《1688商家发货行为管理规范》 are one rule.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from alerts.extract.clauses import Sentences
from alerts.extract.normalize import compact_name, normalize
from alerts.extract.platforms import (
    PlatformsNear,
    canonical_platform,
    key_prefix,
    leading_platform,
)

__all__ = ["Rule", "RuleMention", "canonical_rule", "find_rules", "rule_key"]


@dataclass(frozen=True, slots=True)
class RuleMention:
    """A rule named at ``doc[start:end]``."""

    start: int
    end: int
    name: str


@dataclass(slots=True)
class Rule:
    """One distinct rule of a notice and every place it is named."""

    name: str
    key: str
    platform: str | None
    mentions: list[RuleMention] = field(default_factory=list)


_BRACKETED = re.compile(r"《([^《》]{1,80})》|[「“\"]([^「」“”\"\n]{2,60})[」”\"]")
_INNER = re.compile(r"[〈<]([^〈〉<>]{2,60})[〉>]")
_SUFFIX = (
    r"(?:规范|规则|规定|办法|细则|标准|协议|公约|总则|准则|条款|须知|制度|政策|指引|守则|通则"
    r"|条例|Rules?|Policy|Policies|Standards?|Regulations?|Agreement|Guidelines?|Terms)"
)
_ENDS_LIKE_RULE = re.compile(_SUFFIX + r"(?:[(（][^()（）]{1,12}[)）])?$")
_RULEISH = re.compile(
    r"规|则|办法|标准|协议|公约|条款|须知|政策|指引|指南|要求|制度|管理|说明"
    r"|rule|polic|terms|agreement|standard|guideline|regulation",
    re.IGNORECASE,
)
# Names cited as the ground of a change, or laws, are not what changes.
_CITED = re.compile(
    r"(?:根据|依据|按照|依照|遵照|参照|遵循|遵守|符合|违反|违背|参考|详见|参见|参阅|查阅|"
    r"according to|under|pursuant to|in line with)\s*$",
    re.IGNORECASE,
)
_LAW = re.compile(
    r"^中华人民共和国|(?<![办方做玩打算说])法$|法律|条例$|司法解释|^关于.*(?:意见|决定)$"
)
_NOTICE_DOC = re.compile(r"(?:公告|通知|通告|公示|报告|白皮书|解读|答疑|问答)$")
# Quotes also mark emphasis: “违规将按照平台规则处理” is a clause, not a name.
_QUOTED_CLAUSE = re.compile(r"[，,。;；:：!?！？]|将|按照|需要|须|应当|可以|会被|请|如果|若")
_LIST_GAP = re.compile(r"^[\s、,，/&]*(?:和|及|与|以及|或|and|or)?[\s、,，]*$")

# 关于 is no verb, but "关于评价规范变更的公告" names the rule right after it.
_VERB = re.compile(
    r"修订|修改|调整|制定|发布|变更|更新|出台|升级|推出|颁布|印发|优化|完善|新增|新设|废止|下线"
    r"|实施|施行|公示|起草|更改|迭代|上线|重申|明确|关于"
)
# "淘宝网评价规范变更公示": a title that opens with the name, then says what happens to it.
_NAME_FIRST = re.compile(
    r"^\s*(?:【[^】]{0,12}】|\[[^\]]{0,12}\])?\s*(?P<name>[^\s，,。:：;；!?！？“”\"'、（）()《》【】]{2,40}?"
    r"(?:规范|规则|规定|办法|细则|标准|协议|公约|总则|准则|条款|须知|制度|政策|指引|守则|通则))"
    r"(?=的?(?:变更|修订|调整|更新|修改|升级|废止|下线|公示|正式|将|于|自|生效|施行|实施|征求|\d))"
)
# Where a title's name ends at the latest: punctuation, a date, or the words about timing.
_TAIL_STOP = re.compile(
    r"[\s，,。:：;；!?！？“”\"'、（）()《》<>【】\[\]|｜]|\d{1,4}\s*[年月日号]|\d{4}[-/.]"
    r"|预计|将于|于\d|拟|起|正式|生效|施行|即将|自\d|即日|的|公告|通知|征求|征集|向|意见|相关|部分"
)
_SUFFIX_CN = re.compile(
    r"规范|规则|规定|办法|细则|标准|协议|公约|总则|准则|条款|须知|制度|政策|指引|守则|通则"
)
_GENERIC = re.compile(
    r"^(?:平台|相关|部分|多项|两项|几项|各项|该|本|新|现行|以下|上述|系列)\w{0,2}$"
)
_DRAFT = re.compile(r"\((?:征求意见稿|意见稿|草案|修订稿|草稿|讨论稿|draft)\)$", re.IGNORECASE)
_LEAD_FILLER = re.compile(r"^(?:了|关于|对于|对)")
_EN_SUFFIX = (
    r"(?:Rules?|Policy|Policies|Standards?|Regulations?|Agreement|Guidelines?|Terms of Service"
    r"|Specifications?|Code of Conduct|Measures|Provisions)"
)
_EN_NAME = re.compile(
    # The lookahead (a name starts with a capital or a digit) makes most positions fail at once.
    r"(?=[A-Z0-9])(?<![A-Za-z])((?:[A-Z0-9][A-Za-z0-9&'.-]*\s+(?:(?:of|and|for|on|the|&)\s+)?){1,8}"
    rf"{_EN_SUFFIX})(?![A-Za-z])"
)
# Every English name ends with one of the _EN_SUFFIX words, which a fast scan finds: a text
# without any (most Chinese ones) is not searched for names at all.
_EN_SUFFIX_WORD = re.compile(_EN_SUFFIX)
_EN_LEAD = re.compile(r"^(?:(?:The|New|Updated|Revised|Amended|Draft|Our|Its|A|An|Latest)\s+)+")


def _undrafted(name: str) -> str:
    return _DRAFT.sub("", unicodedata.normalize("NFKC", compact_name(name)))


def _stem(name: str) -> str:
    """What two spellings of one rule share: no platform prefix, no draft mark, NFKC."""
    return _bare(_undrafted(name))


def _preference(name: str) -> tuple[bool, int]:
    return _DRAFT.search(unicodedata.normalize("NFKC", name)) is None, len(name)


def rule_key(name: str, platform: str | None) -> str:
    """The canonical key of a rule: its name, prefixed by its platform unless it starts with one.

    The key is NFKC-normalized and drops a draft mark, so a consultation draft and the rule it
    becomes share one key.
    """
    key = _undrafted(name)
    lead, written = leading_platform(key)
    if lead is not None:
        key, platform = key[len(written) :].lstrip(), key_prefix(written)
    elif not platform:
        return key
    return _join(platform, key) if key else platform


def _join(prefix: str, rest: str) -> str:
    # 抖音电商 + 电商创作者管理规则 is 抖音电商创作者管理规则, not 抖音电商电商….
    for size in range(min(len(prefix), len(rest)), 1, -1):
        if prefix.endswith(rest[:size]) and not rest[:size].isascii():
            return prefix + rest[size:]
    spaced = rest[:1].isascii() and rest[:1].isalnum() and prefix[-1:].isascii()
    return f"{prefix}{' ' if spaced else ''}{rest}"


def canonical_rule(name: str, platform: str | None = None) -> tuple[str, str, str | None]:
    """Name, key and canonical platform for a rule entered by hand (``rulewatch add``).

    The platform is read from ``platform`` (any known spelling; an unknown one is kept as
    given) or else from the start of the name.
    """
    written = compact_name(normalize(name).strip("《》 "))
    canonical = canonical_platform(platform) or (platform.strip() if platform else None)
    if not canonical:
        canonical, _ = leading_platform(written)
    return written, rule_key(written, canonical), canonical


def _bracketed(doc: str) -> list[RuleMention]:
    found: list[RuleMention] = []
    cited_until = -1
    for match in _BRACKETED.finditer(doc):
        quoted = match.group(1) is None
        raw = match.group(1) if not quoted else match.group(2)
        start, end = match.span(1 if not quoted else 2)
        inner = _INNER.search(raw)
        if inner is not None and _NOTICE_DOC.search(compact_name(raw)):
            # 《关于修订〈X规则〉的公告》: the rule is X.
            raw, start, end = inner.group(1), start + inner.start(1), start + inner.end(1)
        name = compact_name(raw)
        if not 2 <= len(name) <= 60 or _LAW.search(name) or _NOTICE_DOC.search(name):
            continue
        if quoted and not (
            _ENDS_LIKE_RULE.search(name) and _specific(name) and not _QUOTED_CLAUSE.search(name)
        ):
            continue
        before = doc[max(0, match.start() - 8) : match.start()]
        if _CITED.search(before) or (
            cited_until >= 0 and _LIST_GAP.match(doc[cited_until : match.start()])
        ):
            cited_until = match.end()
            continue
        cited_until = -1
        found.append(RuleMention(start, end, name))
    ruleish = [m for m in found if _RULEISH.search(m.name)]
    return ruleish or found


def _verb_names(doc: str, start: int, end: int) -> list[RuleMention]:
    found: list[RuleMention] = []
    taken = start
    for verb in _VERB.finditer(doc, start, end):
        if verb.start() < taken:
            continue
        stop = _TAIL_STOP.search(doc, verb.end(), end)
        tail_end = stop.start() if stop else end
        last = None
        for last in _SUFFIX_CN.finditer(doc, verb.end(), tail_end):  # noqa: B007
            pass
        if last is None:
            continue
        name_start = verb.end()
        filler = _LEAD_FILLER.match(doc[name_start : last.end()])
        if filler:
            name_start += filler.end()
        name = compact_name(doc[name_start : last.end()])
        if not _specific(name) or _VERB.fullmatch(name[:2]):
            continue
        found.append(RuleMention(name_start, last.end(), name))
        taken = last.end()
    return found


def _specific(name: str) -> bool:
    """Whether an unbracketed name names one rule, not rules in general (天猫规则, 相关规则)."""
    bare = _bare(name)
    return len(bare) >= 4 and not _GENERIC.match(bare)


def _name_first(doc: str, title_end: int) -> list[RuleMention]:
    match = _NAME_FIRST.match(doc, 0, title_end)
    if match is None or not _specific(compact_name(match["name"])):
        return []
    name = compact_name(match["name"])
    return [RuleMention(match.start("name"), match.end("name"), name)]


def _english_names(doc: str) -> list[RuleMention]:
    if not _EN_SUFFIX_WORD.search(doc):
        return []
    found = []
    for match in _EN_NAME.finditer(doc):
        lead = _EN_LEAD.match(match.group(1))
        start = match.start(1) + (lead.end() if lead else 0)
        name = compact_name(doc[start : match.end(1)])
        if " " in name:
            found.append(RuleMention(start, match.end(1), name))
    return found


def _mentions(doc: str, title_end: int) -> list[RuleMention]:
    bracketed = _bracketed(doc)
    in_title = any(m.start < title_end for m in bracketed)
    title_names = [] if in_title else _verb_names(doc, 0, title_end) or _name_first(doc, title_end)
    if bracketed:
        bare = {_bare(m.name) for m in bracketed}
        # A title name that is not one of the text's 《》 names is more likely a paraphrase.
        return sorted(bracketed + [m for m in title_names if _bare(m.name) in bare], key=_pos)
    if title_names:
        return title_names + _verb_names(doc, title_end, len(doc))
    return _verb_names(doc, title_end, len(doc)) or _english_names(doc)


def _pos(mention: RuleMention) -> int:
    return mention.start


def _bare(name: str) -> str:
    _, prefix = leading_platform(name)
    return name[len(prefix) :].lstrip() or name


def find_rules(doc: str, title_end: int, sentences: Sentences) -> list[Rule]:
    """The distinct rules named in ``doc`` (title first, then text), in order of first mention.

    Names that differ only by a platform prefix or a draft mark (（征求意见稿）) are one rule;
    the fuller name is kept, a name without the draft mark before one with it.
    """
    rules: list[Rule] = []
    by_bare: dict[tuple[str, str | None], Rule] = {}
    # The first rule of each stem in by_bare, so that a mention finds it without a scan of
    # all rules (quadratic with thousands of rules).
    first_of_stem: dict[str, Rule] = {}
    unprefixed: list[tuple[RuleMention, str]] = []
    for mention in _mentions(doc, title_end):
        platform, _ = leading_platform(mention.name)
        if platform is None:
            unprefixed.append((mention, _stem(mention.name)))
            continue
        key = (_stem(mention.name), platform)
        rule = by_bare.get(key)
        if rule is None:
            rule = by_bare[key] = Rule(mention.name, rule_key(mention.name, platform), platform)
            first_of_stem.setdefault(key[0], rule)
            rules.append(rule)
        elif _preference(mention.name) > _preference(rule.name):
            rule.name = mention.name
        rule.mentions.append(mention)
    platforms = PlatformsNear(doc, title_end)
    for mention, bare in unprefixed:
        sentence_end = sentences.end(mention.start) or len(doc)
        near = platforms.near(mention.start, sentences.start(mention.start), sentence_end)
        rule = by_bare.get((bare, near)) or first_of_stem.get(bare)
        if rule is None:
            rule = by_bare[(bare, near)] = Rule(mention.name, rule_key(mention.name, near), near)
            first_of_stem.setdefault(bare, rule)
            rules.append(rule)
        elif _preference(mention.name) > _preference(rule.name):
            rule.name = mention.name
        rule.mentions.append(mention)
    for rule in rules:
        rule.mentions.sort(key=_pos)
    rules.sort(key=lambda r: r.mentions[0].start)
    return rules
