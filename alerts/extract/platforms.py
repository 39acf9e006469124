"""The platforms rulewatch knows, the names they go by, and which one a text is about.

This is the one table of platform names: extraction, rule keys, watches and every filter (CLI,
API, page, feed) go through ``canonical_platform``, so ``--platform 抖店`` and 《抖音电商…》 find
the same changes. Each platform has one canonical name, used in ``ChangeCandidate.platform``
and as the prefix of rule keys. 淘宝 and 天猫 stay separate (their rule books are separate).
An unknown spelling such as a typo ("1666发布公告称") matches nothing, so it cannot change the
platform read from the rest of the text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from functools import lru_cache

from alerts.extract.casing import lowered

__all__ = [
    "PLATFORMS",
    "PlatformsNear",
    "canonical_platform",
    "key_prefix",
    "leading_platform",
    "most_named",
    "platform_near",
    "without_platforms",
]

# canonical name -> the spellings it goes by (the canonical name first).
PLATFORMS: dict[str, tuple[str, ...]] = {
    "1688": ("1688", "1688.com", "阿里巴巴1688", "阿里1688", "阿里巴巴"),
    "淘宝": ("淘宝", "淘宝网", "手机淘宝", "淘宝平台", "Taobao"),
    "天猫": ("天猫", "天猫国际", "天猫超市", "天猫商城", "Tmall"),
    "淘特": ("淘特", "淘宝特价版"),
    "京东": ("京东", "京东开放平台", "京东商城", "京东国际", "京东到家", "京东POP", "JD.com", "JD"),
    "拼多多": ("拼多多", "多多买菜", "Pinduoduo", "PDD"),
    "抖音电商": ("抖音电商", "抖音", "抖店", "抖音小店", "抖音商城", "Douyin"),
    "快手": ("快手", "快手电商", "快手小店", "Kuaishou"),
    "小红书": ("小红书", "Xiaohongshu", "RedNote"),
    "微信小店": ("微信小店", "视频号小店", "视频号", "微信视频号"),
    "闲鱼": ("闲鱼", "Xianyu"),
    "得物": ("得物",),
    "唯品会": ("唯品会",),
    "苏宁易购": ("苏宁易购", "苏宁"),
    "美团": ("美团", "美团外卖", "美团闪购"),
    "饿了么": ("饿了么",),
    "速卖通": ("速卖通", "全球速卖通", "AliExpress"),
    "阿里巴巴国际站": ("阿里巴巴国际站", "Alibaba.com"),
    "敦煌网": ("敦煌网", "DHgate"),
    "Amazon": ("Amazon", "亚马逊", "亚马逊全球开店", "Amazon.com", "FBA"),
    "TikTok Shop": ("TikTok Shop", "TikTok", "TikTok Shop Seller Center"),
    "Shopee": ("Shopee", "虾皮"),
    "Lazada": ("Lazada", "来赞达"),
    "Temu": ("Temu",),
    "SHEIN": ("SHEIN", "Shein", "希音"),
    "Ozon": ("Ozon", "OZON"),
    "Mercado Libre": ("Mercado Libre", "MercadoLibre", "Mercado Livre", "美客多"),
    "eBay": ("eBay",),
    "Walmart": ("Walmart", "沃尔玛"),
}

# Sub-markets read as their platform but keep their own name in a rule key: 《天猫国际商家规则》
# and 《天猫商家规则》 are different rule books.
_OWN_BOOK = frozenset({"天猫国际", "天猫超市", "京东国际", "京东到家", "多多买菜", "美团闪购"})

_CANONICAL = {alias.casefold(): name for name, aliases in PLATFORMS.items() for alias in aliases}
_ALIASES = sorted(_CANONICAL, key=len, reverse=True)
# Names a person types for a platform that are too common in notice texts to be read there:
# 微信 is in every platform's 微信支付 and 微信客服, but `--platform 微信` means 微信小店.
_TYPED_ONLY = {"微信": "微信小店"}


# What a Latin alias must not touch; on a lower-cased copy (see casing) [a-z0-9] is enough.
_WORD = "[A-Za-z0-9]"
_WORD_LOWER = "[a-z0-9]"


def _alias_pattern(alias: str, word: str = _WORD) -> str:
    escaped = re.escape(alias)
    if alias.isascii():
        # Latin names and 1688 must stand alone: not "JDK", not "16888", not "Amazonian".
        return rf"(?<!{word}){escaped}(?!{word})"
    if alias == "得物":
        # 得物 hides inside 获得物流 and 取得物品.
        return r"(?<![获取赢习所求懂记])得物(?![流品资料理件])"
    return escaped


def _first_chars(aliases: list[str]) -> str:
    return "".join(sorted({re.escape(alias[0]) for alias in aliases}))


def _any_pattern(word: str = _WORD) -> str:
    """All aliases, longest first, as one alternation that is quick to reject.

    Every alias starts with one of ``_FIRST``: a lookahead for those rejects most places of a
    text at once, where the engine would otherwise try each alias there. The Latin aliases
    share one test that no letter or digit (``word``) is before them, so that inside an
    English word they fail in one step rather than one per alias. Where no character can
    start both a Latin alias and another one, a place matches aliases of one group only, so
    the first alias that matches is the one the plain alternation finds; otherwise the plain
    alternation is used.

    ``_WORD_LOWER`` for ``word`` gives the pattern for a lower-cased copy.
    """
    alone = f"(?<!{word})"
    patterns = [_alias_pattern(alias, word) for alias in _ALIASES]
    latin = [a for a, p in zip(_ALIASES, patterns, strict=True) if p.startswith(alone)]
    others = [a for a, p in zip(_ALIASES, patterns, strict=True) if not p.startswith(alone)]
    latin_first = re.compile(f"[{_first_chars(latin)}]", re.IGNORECASE) if latin else None
    if latin_first is None or not others or any(latin_first.match(a[0]) for a in others):
        return f"(?=[{_FIRST}])(?:" + "|".join(patterns) + ")"
    latin_part = "|".join(p[len(alone) :] for p in patterns if p.startswith(alone))
    rest = "|".join(p for p in patterns if not p.startswith(alone))
    return f"(?=[{_FIRST}])(?:{alone}(?:{latin_part})|(?=[{_first_chars(others)}])(?:{rest}))"


_FIRST = _first_chars(_ALIASES)
_ANY = re.compile(_any_pattern(), re.IGNORECASE)
# _ANY for a lower-cased copy of a text (casing.lowered), case-sensitive: about 1.5 times
# as fast on Chinese text and twice on English, where IGNORECASE tried the Latin aliases one
# by one at every word start. The aliases are casefolded, so lower case already.
_ANY_LOWER = re.compile(_any_pattern(_WORD_LOWER))


def _by_first_char() -> str:
    """_ANY_LOWER as an alternation of the aliases grouped by their first character, each
    group opening with that character (a Latin one then checks, behind it, that no letter or
    digit comes before): every branch opens with a literal, so the engine skips to the
    characters an alias starts with. The aliases keep their order within a group, and two
    groups never match at one place, so the match is the one _ANY_LOWER finds. Where Chinese
    text has few such characters it is 1.7 times as fast; in English, where most letters
    start an alias, the lookahead of _ANY_LOWER is quicker."""
    groups: dict[str, list[str]] = {}
    for alias in _ALIASES:  # longest first, as _ANY_LOWER tries them
        groups.setdefault(alias[0], []).append(alias)
    branches = []
    for first, aliases in groups.items():
        rests = []
        for alias in aliases:
            rest = re.escape(alias[1:])
            if alias == "得物":
                rests.append(r"(?<![获取赢习所求懂记]得)物(?![流品资料理件])")
            else:
                rests.append(f"{rest}(?!{_WORD_LOWER})" if alias.isascii() else rest)
        char = re.escape(first)
        alone = f"(?<!{_WORD_LOWER}{char})" if first.isascii() else ""
        branches.append(f"{char}{alone}(?:{'|'.join(rests)})")
    return "|".join(branches)


_ANY_BY_FIRST = re.compile(_by_first_char())


def _scanner(text: str) -> tuple[re.Pattern[str], str]:
    """The pattern to search for aliases in ``text`` with, and the text to search: on the
    lower-cased copy, when it finds the same matches in the same places, _ANY_BY_FIRST for a
    text that is mostly not ASCII (Chinese) and _ANY_LOWER for the others; else _ANY."""
    low = lowered(text)
    if low is None:
        return _ANY, text
    # How many characters are not ASCII, counted in C: only the speed depends on it.
    foreign = len(text) - len(text.encode("ascii", "ignore"))
    return (_ANY_BY_FIRST if 2 * foreign > len(text) else _ANY_LOWER), low


def canonical_platform(name: str | None) -> str | None:
    """The canonical name for a spelling of a platform (抖店 → 抖音电商), or None if unknown."""
    if not name:
        return None
    typed = name.strip().casefold()
    return _CANONICAL.get(typed) or _TYPED_ONLY.get(typed)


# Asked several times for each name of a notice (finding, keying and splitting its rules).
@lru_cache(maxsize=4096)
def leading_platform(name: str) -> tuple[str | None, str]:
    """The platform a rule name starts with, and that prefix as written ("" if none)."""
    match = _ANY.match(name)
    if match is None:
        return None, ""
    return _CANONICAL[match.group(0).casefold()], match.group(0)


def key_prefix(written: str) -> str:
    """How a platform written at the start of a rule name is spelled in the rule's key.

    淘宝网 and 淘宝 are one prefix (淘宝), so 《淘宝网商品发布规范》 and 《淘宝商品发布规范》
    share a key; a sub-market with a rule book of its own (天猫国际) keeps its name.
    """
    if written in _OWN_BOOK:
        return written
    return _CANONICAL.get(written.casefold(), written)


def without_platforms(text: str) -> str:
    """``text`` with every platform name blanked to a space."""
    return _ANY.sub(" ", text)


def platform_near(doc: str, pos: int, sentence_start: int, title_end: int) -> str | None:
    """The platform a rule at ``pos`` belongs to when its name does not say.

    The last platform named before it in its sentence, else the first one in the title, else
    the one the text names most often (first named on a tie).
    """
    return PlatformsNear(doc, title_end).near(pos, sentence_start, pos)


# Whether _ANY matches at p depends on doc[p : p + _REACH] only (the longest alias and one
# character of lookahead): two scans from one start that end at or after E agree on every
# match (and every failed try) at positions up to E - _REACH.
_REACH = max(map(len, _ALIASES)) + 1


class PlatformsNear:
    """``platform_near`` for many positions of one text, in time linear in the text.

    Asked once per rule mention, ``platform_near`` scanned the mention's sentence up to it and,
    failing that, the whole text (``most_named``): quadratic in a notice naming thousands of
    rules. Here each sentence is scanned once, up to its end, and the fallback (title, most
    named) is found once; a position then needs only the last match starting at or before
    ``pos - _REACH`` in the sentence's scan and a rescan of the few characters after it, which
    gives what scanning ``doc[sentence_start:pos]`` gives.
    """

    def __init__(self, doc: str, title_end: int) -> None:
        self._doc = doc
        # Scanned in its lower-cased copy when that finds the same (see _scanner).
        self._any, self._text = _scanner(doc)
        self._title_end = title_end
        self._scans: dict[int, tuple[list[int], list[int], list[str]]] = {}
        self._fallback: list[str | None] = []

    def near(self, pos: int, sentence_start: int, sentence_end: int) -> str | None:
        """``platform_near(doc, pos, sentence_start, title_end)``; ``sentence_end`` (at or after
        ``pos``) is where the sentence holding ``pos`` ends, the same for all its positions."""
        doc, any_alias = self._text, self._any
        scan = self._scans.get(sentence_start)
        if scan is None:
            matches = list(any_alias.finditer(doc, sentence_start, sentence_end))
            scan = (
                [m.start() for m in matches],
                [m.end() for m in matches],
                [_CANONICAL[m.group(0).casefold()] for m in matches],
            )
            self._scans[sentence_start] = scan
        starts, ends, names = scan
        safe = bisect_right(starts, pos - _REACH) - 1
        last = names[safe] if safe >= 0 else None
        resume = max(ends[safe] if safe >= 0 else sentence_start, pos - _REACH + 1)
        for match in any_alias.finditer(doc, resume, pos):
            last = _CANONICAL[match.group(0).casefold()]
        if last is not None:
            return last
        if not self._fallback:
            title = any_alias.search(doc, 0, self._title_end)
            self._fallback.append(
                _CANONICAL[title.group(0).casefold()]
                if title is not None
                else _most_named(any_alias, doc, self._title_end)
            )
        return self._fallback[0]


def most_named(doc: str, start: int = 0) -> str | None:
    """The platform ``doc[start:]`` names most often (first named on a tie), or None."""
    return _most_named(*_scanner(doc), start)


def _most_named(any_alias: re.Pattern[str], doc: str, start: int) -> str | None:
    """``most_named`` scanning ``doc`` (the text or its lower-cased copy) with ``any_alias``."""
    counts: Counter[str] = Counter()
    order: dict[str, int] = {}
    for match in any_alias.finditer(doc, start):
        platform = _CANONICAL[match.group(0).casefold()]
        counts[platform] += 1
        order.setdefault(platform, match.start())
    if not counts:
        return None
    return max(counts, key=lambda p: (counts[p], -order[p]))
