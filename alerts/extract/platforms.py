"""The platforms rulewatch knows, the names they go by, and which one a text is about.

Each platform has one canonical name, used in ``ChangeCandidate.platform`` and as the prefix of
rule keys. 淘宝 and 天猫 stay separate (their rule books are separate); 抖音, 抖店 and 抖音电商 are
one platform, 抖音. An unknown spelling such as a typo ("1666发布公告称") matches nothing, so it
cannot change the platform read from the rest of the text.
"""

from __future__ import annotations

import re
from collections import Counter

__all__ = ["PLATFORMS", "canonical_platform", "leading_platform", "platform_near"]

# canonical name -> the spellings it goes by. 得物 is left out: it hides inside 获得物流.
PLATFORMS: dict[str, tuple[str, ...]] = {
    "1688": ("1688", "阿里巴巴1688", "1688.com"),
    "淘宝": ("淘宝", "淘宝网", "手机淘宝", "Taobao"),
    "天猫": ("天猫", "天猫国际", "天猫超市", "Tmall"),
    "京东": ("京东", "京东商城", "京东国际", "京东到家", "JD.com", "JD"),
    "拼多多": ("拼多多", "多多买菜", "Pinduoduo", "PDD"),
    "抖音": ("抖音", "抖店", "抖音电商", "抖音小店", "Douyin"),
    "快手": ("快手", "快手电商", "快手小店", "Kuaishou"),
    "小红书": ("小红书", "Xiaohongshu", "RedNote"),
    "速卖通": ("速卖通", "全球速卖通", "AliExpress"),
    "阿里巴巴国际站": ("阿里巴巴国际站", "Alibaba.com"),
    "闲鱼": ("闲鱼",),
    # Plain 微信 is left out: 微信支付/微信客服 appear in every platform's texts.
    "微信": ("微信小店", "视频号小店", "视频号"),
    "唯品会": ("唯品会",),
    "苏宁易购": ("苏宁易购", "苏宁"),
    "美团": ("美团",),
    "饿了么": ("饿了么",),
    "亚马逊": ("亚马逊", "Amazon"),
    "Shopee": ("Shopee", "虾皮"),
    "Lazada": ("Lazada", "来赞达"),
    "TikTok": ("TikTok Shop", "TikTok"),
    "Temu": ("Temu",),
    "SHEIN": ("SHEIN", "Shein", "希音"),
}

_CANONICAL = {alias.casefold(): name for name, aliases in PLATFORMS.items() for alias in aliases}
_ALIASES = sorted(_CANONICAL, key=len, reverse=True)


def _alias_pattern(alias: str) -> str:
    escaped = re.escape(alias)
    if alias.isascii():
        # Latin names and 1688 must stand alone: not "JDK", not "16888", not "Amazonian".
        return rf"(?<![A-Za-z0-9]){escaped}(?![A-Za-z0-9])"
    return escaped


_ANY = re.compile("|".join(_alias_pattern(a) for a in _ALIASES), re.IGNORECASE)


def canonical_platform(name: str | None) -> str | None:
    """The canonical name for a spelling of a platform (抖店 → 抖音), or None if unknown."""
    if not name:
        return None
    return _CANONICAL.get(name.strip().casefold())


def leading_platform(name: str) -> tuple[str | None, str]:
    """The platform a rule name starts with, and the length of that prefix (0 if none)."""
    match = _ANY.match(name)
    if match is None:
        return None, ""
    return _CANONICAL[match.group(0).casefold()], match.group(0)


def platform_near(doc: str, pos: int, sentence_start: int, title_end: int) -> str | None:
    """The platform a rule at ``pos`` belongs to when its name does not say.

    The last platform named before it in its sentence, else the first one in the title, else
    the one the text names most often (first named on a tie).
    """
    before = [m for m in _ANY.finditer(doc, sentence_start, pos)]
    if before:
        return _CANONICAL[before[-1].group(0).casefold()]
    title = _ANY.search(doc, 0, title_end)
    if title is not None:
        return _CANONICAL[title.group(0).casefold()]
    counts: Counter[str] = Counter()
    order: dict[str, int] = {}
    for match in _ANY.finditer(doc, title_end):
        platform = _CANONICAL[match.group(0).casefold()]
        counts[platform] += 1
        order.setdefault(platform, match.start())
    if not counts:
        return None
    return max(counts, key=lambda p: (counts[p], -order[p]))
