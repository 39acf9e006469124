"""The scraped listing: items of a title, a ``YYYY-MM-DD HH:MM:SS`` line and a summary.

The scrape broke highlighted keywords onto lines of their own, so an item's lines are joined
back without separators, and the boundary between one item's summary and the next item's
title has to be found: it is after the last line that ends a sentence (。！？), else after the
last line that closes a name (》」”), else just before the last line. Page chrome before the
first item (首页, 快讯, Toggle theme …) and the pager after the last (‹‹ ‹ 1 2 › ››) are dropped.
"""

from __future__ import annotations

import re
from datetime import datetime
from itertools import pairwise

from alerts.extract.model import Notice

__all__ = ["looks_like_listing", "read_listing"]

_STAMP = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2})?)\s*$")
_CHROME = frozenset(
    {
        "首页", "快讯", "观察", "资讯", "新闻", "专题", "更多", "搜索", "登录", "注册", "菜单",
        "导航", "返回", "返回顶部", "分享", "订阅", "关于我们", "联系我们", "Toggle theme",
        "Toggle navigation", "Skip to content", "Home", "Menu", "Search", "Login", "Sign in",
    }
)  # fmt: skip
# Page numbers stop at three digits so that a summary ending in "1688" keeps its last line.
_PAGER = re.compile(
    r"^(?:‹‹|‹|››|›|«|»|<<|<|>>|>|…|\.\.\.|\d{1,3}|上一页|下一页|首页|尾页|末页"
    r"|Prev(?:ious)?|Next|First|Last)$"
)
_SENTENCE_END = ("。", "！", "？", "!", "?", "…", ".")
_CLOSER = ("》", "」", "”", "』", "）", ")")
_CONTINUES = ("，", ",", "。", "、", "；", ";", "：", ":", "）", ")", "》")


def looks_like_listing(text: str) -> bool:
    """Whether ``text`` has at least one listing timestamp line."""
    return any(_STAMP.match(line) for line in text.splitlines())


def _stamp(line: str) -> datetime | None:
    match = _STAMP.match(line)
    if match is None:
        return None
    try:
        return datetime.fromisoformat(f"{match[1]}T{match[2]}")
    except ValueError:
        return None


def _split(lines: list[str]) -> int:
    """Where a block between two timestamps stops being a summary and becomes a title."""
    count = len(lines)
    for j in range(count - 1, 0, -1):
        if lines[j - 1].endswith(_SENTENCE_END):
            return j
    for j in range(count - 1, 0, -1):
        if lines[j - 1].endswith(_CLOSER) and not lines[j].startswith(_CONTINUES):
            return j
    return max(count - 1, 0)


def _trim_pager(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and (_PAGER.match(lines[end - 1]) or lines[end - 1] in _CHROME):
        end -= 1
    tail = lines[end:]
    # Numbers alone may be the end of a summary; only a tail with arrows or words is a pager.
    if any(not line.isdigit() for line in tail):
        return lines[:end]
    return lines


def read_listing(text: str) -> list[Notice]:
    """Every item of a scraped listing, title and summary rejoined; publish times are naive."""
    lines = [line.rstrip() for line in text.splitlines()]
    lines = [line for line in lines if line.strip()]
    stamps = [(i, at) for i, line in enumerate(lines) if (at := _stamp(line)) is not None]
    if not stamps:
        return []
    head = lines[: stamps[0][0]]
    while head and head[0].strip() in _CHROME:
        head = head[1:]
    titles = [head]
    texts: list[list[str]] = []
    for (here, _), (there, _) in pairwise(stamps):
        block = lines[here + 1 : there]
        cut = _split(block)
        texts.append(block[:cut])
        titles.append(block[cut:])
    texts.append(_trim_pager(lines[stamps[-1][0] + 1 :]))
    return [
        Notice(title="".join(title).strip(), text="".join(body).strip(), published_at=at)
        for title, body, (_, at) in zip(titles, texts, stamps, strict=True)
    ]
