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
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from alerts.extract.casing import for_lowered, lowered
from alerts.extract.clauses import Sentences
from alerts.extract.normalize import compact_name, normalize
from alerts.extract.platforms import (
    PlatformsNear,
    canonical_platform,
    key_prefix,
    leading_platform,
    without_platforms,
)

__all__ = [
    "Rule",
    "RuleMention",
    "canonical_rule",
    "find_rules",
    "row_rule_name",
    "rule_key",
    "subject_of",
]


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


# A name in 《》 (group 1), or in quotes (group 2): 《([^《》]{1,80})》|[「“"【](…)[」”"】], with
# the opening mark taken first and each form checked by a lookbehind for its own marks. A
# pattern that opens with a character set lets the engine skip to the marks; the alternation
# (its second form opens with a set, not a character) made it try both forms everywhere,
# twice as slow. At a mark only the form it opens can match, so the match is the same.
_MARKED = re.compile(
    r"[《「“\"【](?:(?<=《)([^《》]{1,80})》|(?<=[「“\"【])([^「」“”\"【】\n]{2,60})[」”\"】])"
)
# A line that lost its opening mark: "2、“淘宝汇吃”市场管理规范》变更公示通知". Searched for from
# the line break before it: a pattern that opens with a line start tries every position of
# the text, one that opens with "\n" skips to the breaks.
_LOST_OPENING = r"[ \t]*(?:\d{1,2}\s*[、.)）][ \t]*)?([^《》\n]{2,60}+)》"
_LOST_FIRST_LINE = re.compile(_LOST_OPENING)
_LOST_LINE = re.compile("\n" + _LOST_OPENING)
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
_NOTICE_DOC = re.compile(r"(?:公告|通知|通告|公示|报告|白皮书|(?<!规则)解读|答疑|问答)$")
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
    r"(?=的?(?:变更|修订|调整|更新|修改|升级|废止|下线|公示|正式|将|于|自|生效|施行|实施|征求|\d)"
    r"|\s*$)"  # or the headline is the name itself
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
# One word of an English name, then at most one lower-case word joining it to the next.
_EN_WORD = r"[A-Za-z0-9&'.-]*[ \t]+(?:(?:of|and|for|on|the|&|[a-z]{2,12})[ \t]+)?"
_EN_NAME = re.compile(
    # Title-case words, joined by at most one lower-case word ("VAT Calculation Services
    # methodology Program Policy"): (?<![A-Za-z])((?:[A-Z0-9]WORD){1,8}SUFFIX), with the first
    # word taken out of the repeat, (?:…){1,8} being …(?:…){0,7}. Group 1 opens with the set of
    # a name's first characters, which lets the engine skip to them (a lookahead for them made
    # it stop at every character); the test for a letter before it is made behind it.
    rf"([A-Z0-9](?<![A-Za-z][A-Z0-9]){_EN_WORD}(?:[A-Z0-9]{_EN_WORD}){{0,7}}"
    r"(?:Rules?|Policy|Policies|Standards?|Regulations?|Agreement|Guidelines?|Terms of Service"
    r"|Specifications?|Code of Conduct|Measures|Provisions|Terms"
    # "the Late Shipment Rate policy": a name in title case with a lower-case last word.
    r"|policy|policies|rules|guidelines|terms|standards|agreement))(?![A-Za-z])"
)
# "the Unsuitable inventory investigations policy": a capitalised name in sentence case.
# Group 1 is the name. The pattern opens with the literal "the", which the engine skips to
# (then "the" must start a word): as (?=[A-Z])(?<=\bthe\s)(…), which tried every capital of an
# English text, it cost 7 ns a character. A match starts at the name's "the", which lies
# after the end of the match before (a name ends in policy, guidelines or terms).
_EN_SENTENCE_CASE = re.compile(
    r"the\s(?<!\wthe\s)((?:[A-Z][A-Za-z0-9-]+)(?:\s+[a-z][a-z-]+){1,4}\s+(?:policy|guidelines|terms))\b"
)
# "we are introducing fee category guidelines", "adding the returns reimbursement policy": a
# document that a notice creates may be named all in lower case.
_EN_CREATED = re.compile(
    r"\b(?:introducing|adding|launching)\s+(?:the\s+|a\s+new\s+|new\s+)?"
    # Its words are a name's (no "updates to the safety policy").
    r"((?:(?!(?:to|the|of|for|and|on|our|your|updates?|changes?)\s)[a-z][a-z-]+\s+){1,4}"
    r"(?:policy|guidelines))\b"
)


class _AtLineStart:
    r"""A pattern ``body`` that never matches a line break, tried at the start of the text and
    of each line: what ``(?:^|(?<=\n))body`` finds (``plain``, kept for the tests), found
    faster. That opening makes the engine try every position of a text; "\n" + ``body``
    skips to the line breaks. A match after the first starts at its line break, one
    character early; its groups are where the plain pattern has them.
    """

    def __init__(self, body: str) -> None:
        self.plain = re.compile(r"(?:^|(?<=\n))" + body)
        self._first = re.compile(body)
        self._after_break = re.compile("\n" + body)

    def finditer(self, doc: str) -> Iterator[re.Match[str]]:
        # No match spans a line break, so none overlaps the next line's.
        first = self._first.match(doc)
        if first is not None:
            yield first
        yield from self._after_break.finditer(doc)


# "• VAT Agreement: We are making …": a bulleted list of the policies a notice changes.
_EN_BULLET_LABEL = _AtLineStart(
    r"[ \t]*[•·●▪*-][ \t]*([A-Z][A-Za-z0-9&'’.-]*(?:[ \t]+[A-Za-z0-9&'’.-]+){0,7})"
    r"[ \t]*(?:\([^()\n]{0,80}\))?[ \t]*:(?=\s)"
)
# What every bullet label starts with, found by a fast scan: most texts have none.
_EN_BULLET_HINT = re.compile(r"[•·●▪*-][ \t]*[A-Z]")
# "Update on New SLA Processing Time" on a line of its own: a section about one policy, named
# in title case after the word for an update.
_EN_UPDATE_HEADING = _AtLineStart(
    r"[ \t]*(?=[UC])(?:Updates?|Changes?)[ \t]+(?:on|to)[ \t]+(?:(?:the|New)[ \t]+)?"
    r"([A-Z][A-Za-z0-9&'’-]*(?:[ \t]+[A-Z][A-Za-z0-9&'’-]*){1,6})[ \t]*(?=\n|$)"
)
_EN_FUNCTION_WORDS = frozenset(
    [
        "this",
        "that",
        "these",
        "our",
        "its",
        "their",
        "your",
        "new",
        "updated",
        "current",
        "following",
    ]
)
_EN_GENERIC = frozenset(
    [
        "upcoming",
        "important",
        "recent",
        "latest",
        "new",
        "updated",
        "key",
        "general",
        "our",
        "the",
        "this",
        "these",
        "program",
        "programme",
    ]
)
# Every English name ends with one of these words, after a space or tab (_EN_NAME's words
# before it end with one), which a fast scan finds: a text without any (most Chinese ones) is
# not searched for names at all. Opening with a character set of no letters, the scan skips
# to the spaces and tabs; a lookahead of the words' first letters let a third of English
# letters through.
_EN_SUFFIX_WORD = re.compile(
    r"[ \t](?:rule|polic|standard|regulation|agreement|guideline|terms|specification|conduct"
    r"|measures|provisions)",
    re.IGNORECASE,
)
# Its twin for the lower-cased copy (see casing): IGNORECASE, its words were tried one by one
# after every space of an English text.
_EN_SUFFIX_WORD_LOWER = for_lowered(_EN_SUFFIX_WORD)
_EN_LEAD = re.compile(
    r"^(?:(?:The|New|Updated|Revised|Amended|Draft|Our|Its|A|An|Latest)\s+)+", re.IGNORECASE
)


# The helpers below are pure and asked several times for each name of a notice (to find its
# rule, key it, prefer one spelling): memoised. Names are short (60 characters at most in
# 《》), so the caches stay small.
@lru_cache(maxsize=4096)
def _undrafted(name: str) -> str:
    return _DRAFT.sub("", unicodedata.normalize("NFKC", compact_name(name)))


def _stem(name: str) -> str:
    """What two spellings of one rule share: no platform prefix, no draft mark, NFKC."""
    return _bare(_undrafted(name))


@lru_cache(maxsize=4096)
def _preference(name: str) -> tuple[bool, int]:
    return _DRAFT.search(unicodedata.normalize("NFKC", name)) is None, len(name)


@lru_cache(maxsize=4096)
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


def _lost_opening(doc: str, pos: int) -> tuple[int, re.Match[str]] | None:
    """The first line starting at or after ``pos`` that lost its opening mark: where the line
    starts, and the match."""
    if pos == 0:
        first = _LOST_FIRST_LINE.match(doc)
        if first is not None:
            return 0, first
    match = _LOST_LINE.search(doc, max(pos - 1, 0))
    return (match.start() + 1, match) if match is not None else None


def _may_have_lost_opening(doc: str) -> bool:
    """Whether the first 》 of some line has no 《 before it on that line, as a line that lost
    its opening mark has (_LOST_OPENING holds neither mark between the line's start and its
    》): most texts have no such line, and this check is quicker than the pattern at every
    line. Each stretch between two 》 is read once, so it stays linear in the text."""
    previous = -1
    at = doc.find("》")
    while at >= 0:
        line = doc.rfind("\n", previous + 1, at)
        # The first 》 of the text or of a line: is there a 《 between the line's start and it?
        if (line >= 0 or previous < 0) and doc.find("《", line + 1, at) < 0:
            return True
        previous = at
        at = doc.find("》", at + 1)
    return False


def _names_marked(doc: str) -> Iterator[tuple[int, int, int, int, bool]]:
    """Where names are marked, in text order: the match's start and end, the name's start and
    end, and whether quotes mark it (not 《》).

    What one alternation of _MARKED's forms and a line start before _LOST_OPENING would find
    with finditer: at each position the leftmost match, 《》 and quotes before a lost opening
    where both start; the next one after its end.
    """
    pos = 0
    marked = _MARKED.search(doc)
    lost = _lost_opening(doc, 0) if _may_have_lost_opening(doc) else None
    while marked is not None or lost is not None:
        if marked is not None and (lost is None or marked.start() <= lost[0]):
            group = 1 if marked.group(1) is not None else 2
            yield marked.start(), marked.end(), *marked.span(group), group == 2
            pos = marked.end()
        elif lost is not None:
            line_start, match = lost
            yield line_start, match.end(), *match.span(1), False
            pos = match.end()
        if marked is not None and marked.start() < pos:
            marked = _MARKED.search(doc, pos)
        if lost is not None and lost[0] < pos:
            lost = _lost_opening(doc, pos)


def _bracketed(doc: str) -> tuple[list[RuleMention], list[RuleMention]]:
    """The rules named in 《》 (or quotes), and the notices so named (《关于…的公告》)."""
    found: list[RuleMention] = []
    notices: list[RuleMention] = []
    cited_until = -1
    for match_start, match_end, start, end, quoted in _names_marked(doc):
        raw = doc[start:end]
        inner = _INNER.search(raw)
        if inner is not None and _NOTICE_DOC.search(compact_name(raw)):
            # 《关于修订〈X规则〉的公告》: the rule is X.
            raw, start, end = inner.group(1), start + inner.start(1), start + inner.end(1)
        name = compact_name(raw)
        if not quoted and 4 <= len(name) <= 60 and _NOTICE_DOC.search(name):
            notices.append(RuleMention(start, end, name))
        if not 2 <= len(name) <= 60 or _LAW.search(name) or _NOTICE_DOC.search(name):
            continue
        if quoted and not (
            _ENDS_LIKE_RULE.search(name) and _specific(name) and not _QUOTED_CLAUSE.search(name)
        ):
            continue
        before = doc[max(0, match_start - 8) : match_start]
        if _CITED.search(before) or (
            cited_until >= 0 and _LIST_GAP.match(doc[cited_until:match_start])
        ):
            cited_until = match_end
            continue
        cited_until = -1
        found.append(RuleMention(start, end, name))
    ruleish = [m for m in found if _RULEISH.search(m.name)]
    return ruleish or found, notices


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


def _generic_word(word: str) -> bool:
    bare = re.sub(r"['’]s$", "", word)
    return bare.lower() in _EN_GENERIC or canonical_platform(bare) is not None


def _english_names(doc: str) -> list[RuleMention]:
    # A bullet's label is the whole name, though a part of it may look like one (Selling
    # Policies and Seller Code of Conduct).
    labels = _EN_BULLET_LABEL.finditer(doc) if _EN_BULLET_HINT.search(doc) else ()
    found = [
        RuleMention(match.start(1), match.end(1), compact_name(match.group(1)))
        for match in [*labels, *_EN_UPDATE_HEADING.finditer(doc)]
    ]
    low = lowered(doc)
    if not (_EN_SUFFIX_WORD.search(doc) if low is None else _EN_SUFFIX_WORD_LOWER.search(low)):
        return found
    for match in _EN_NAME.finditer(doc):
        # A name starts after the last full stop it runs over ("2024. The Listing Policy").
        stops = list(re.finditer(r"\.\s*(?=[A-Z])", match.group(1)))
        head = stops[-1].end() if stops else 0
        lead = _EN_LEAD.match(match.group(1)[head:])
        start = match.start(1) + head + (lead.end() if lead else 0)
        name = compact_name(doc[start : match.end(1)])
        words = name.split()
        if all(_generic_word(w) for w in words[:-1]) or (
            words[-1].islower() and len(_bare(name).split()) < 3
        ):
            continue  # "Program Policy", "Amazon's New Rules", "Notable policy updates"
        if " " in name and not any(m.start < match.end(1) and start < m.end for m in found):
            found.append(RuleMention(start, match.end(1), name))
    # What _EN_CREATED opens with, found by find() (it opens with \b, tried everywhere).
    creating = any(word in doc for word in ("introducing", "adding", "launching"))
    created = _EN_CREATED.finditer(doc) if creating else ()
    for match in [*_EN_SENTENCE_CASE.finditer(doc), *created]:
        words = match.group(1).lower().split()
        if not _EN_FUNCTION_WORDS.intersection(words) and not any(
            m.start <= match.start(1) < m.end for m in found
        ):
            found.append(RuleMention(match.start(1), match.end(1), match.group(1)))
    return sorted(found, key=_pos)


def _mentions(doc: str, title_end: int) -> list[RuleMention]:
    bracketed, notices = _bracketed(doc)
    in_title = any(m.start < title_end for m in bracketed)
    title_names = [] if in_title else _verb_names(doc, 0, title_end) or _name_first(doc, title_end)
    if bracketed:
        bare = {_bare(m.name) for m in bracketed}
        # A title name that is not one of the text's 《》 names is more likely a paraphrase.
        return sorted(bracketed + [m for m in title_names if _bare(m.name) in bare], key=_pos)
    if title_names:
        return title_names + _verb_names(doc, title_end, len(doc))
    # A notice that names no rule but itself (《关于…的专项治理公告》) is the rule it sets.
    return _verb_names(doc, title_end, len(doc)) or _english_names(doc) or notices[:1]


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


# What a headline says besides its subject: dates, timing words, news and notice words.
_NOT_SUBJECT = re.compile(
    r"(?:\d{2,4}\s*年)?\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?|\d{4}[-/.]\d{1,2}(?:[-/.]\d{1,2})?"
    r"|(?<!\d)(?:19|20)\d{2}(?!\d)\s*年?|即日起|今日起|起|将于|将|于|即将|正式|或将|拟|预计|近日|重磅|快讯|最新"
    r"|关于|的|通知|公告|公示|解读|一文读懂|来了|[【\[][^】\]]{0,12}[】\]]"
    r"|[\s，,。:：;；!?！？“”\"'、（）()《》<>|｜\-–—_]+",
    re.IGNORECASE,
)


def subject_of(title: str) -> str:
    """What a headline is about, without its dates, platform names and news words.

    Two headlines that differ only in those words name one subject, so the changes of a notice
    that names no rule get one key across reposts.
    """
    return compact_name(_NOT_SUBJECT.sub(" ", without_platforms(title)))[:40]


_ROW_CHANGE_WORDS = re.compile(
    r"(?:的)?(?:内容)?(?:修订|变更|调整|更新|升级|新增|上线|下线|废止|说明)+$"
)


def row_rule_name(cell: str) -> str:
    """The rule a table cell names: the one in 《》, else the cell without its change words
    ("商品品质抽检规则变更" names 商品品质抽检规则)."""
    bracketed = re.search(r"《([^《》]{2,60})》", cell)
    if bracketed is not None:
        return compact_name(bracketed.group(1))
    name = compact_name(cell)
    stripped = _ROW_CHANGE_WORDS.sub("", name)
    return stripped if _SUFFIX_CN.search(stripped) else name
