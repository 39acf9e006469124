"""One spelling for every text before matching: simplified characters, ASCII digits, plain spaces.

Matching runs on the normalized text only, so every pattern elsewhere in the package can be
written once, in simplified Chinese with ASCII digits. Line breaks survive: the readers and
the sentence splitter still need them.
"""

from __future__ import annotations

import html
import re
from functools import cache, lru_cache
from typing import Protocol

__all__ = ["compact_name", "from_headline", "normalize", "rejoin_lines", "strip_noise"]


class _Converter(Protocol):
    def convert(self, text: str) -> str: ...


@cache
def _t2s() -> _Converter:
    # Building the converter loads dictionaries (~5 ms): once per process, and only when the
    # first text is read, so importing the package stays cheap for the CLI.
    import opencc

    converter: _Converter = opencc.OpenCC("t2s")
    return converter


# Characters t2s changes only inside a phrase of its dictionary (TSPhrases: 回覆 → 回复, 深沈 →
# 深沉, 藉口 → 借口), though alone each stays as it is. The phrase dictionary ships only as a
# binary .ocd2, so these are listed here, read from OpenCC 1.4.2's TSPhrases; a test dumps the
# installed dictionary and checks that every phrase t2s changes holds one of them or a
# character that t2s changes alone.
_PHRASE_ONLY = "哩坏沈甦瞭藉衹覆"


@cache
def _traditional() -> re.Pattern[str]:
    """The characters whose presence lets t2s change a text: every character of the Basic
    Multilingual Plane that t2s changes alone (found by converting them all once, about 10
    ms), those it changes inside a phrase, any character beyond that plane (not converted one
    by one: there are a million), and lone surrogates (convert() raises on them, and must go
    on raising). A text without any is returned by t2s as it is; converting it costs 35-40 µs
    a notice, this search about 1."""
    changed: list[str] = []
    for block in range(0, 0x10000, 0x1000):  # in blocks, to keep the memory it takes small
        codes = [
            code
            for code in range(max(block, 1), block + 0x1000)
            if code != 0x0A and not 0xD800 <= code <= 0xDFFF
        ]
        converted = _t2s().convert("\n".join(map(chr, codes))).split("\n")
        if len(converted) != len(codes):  # not a line per character: trust none, convert all
            return re.compile("", re.DOTALL)
        changed += [
            chr(code) for code, out in zip(codes, converted, strict=True) if out != chr(code)
        ]
    chars = "".join(re.escape(char) for char in changed + list(_PHRASE_ONLY))
    return re.compile(f"[{chars}\ud800-\udfff\U00010000-\U0010ffff]")


def _width_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    # Full-width ASCII (digits, letters, the date separators) maps onto ASCII one to one.
    for code in range(0xFF01, 0xFF5F):
        table[code] = chr(code - 0xFEE0)
    # Keep the Chinese punctuation a name is written with; only date/number shapes are folded.
    for keep in "（）《》，。；：！？":
        table.pop(ord(keep), None)
    for space in "\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u3000":
        table[ord(space)] = " "
    for invisible in "\u200b\u200c\u200d\u2060\ufeff\u00ad":
        table[ord(invisible)] = None
    table[ord("\r")] = None
    return table


_WIDTH = _width_table()
# Any character _WIDTH changes: str.translate looks every character up in the table (about
# 25 µs for a notice of 600 characters), and most texts have none of them.
_WIDE = re.compile("[" + "".join(re.escape(chr(code)) for code in sorted(_WIDTH)) + "]")
_CJK = "\u3400-\u9fff\uf900-\ufaff"
# A space inside a name is a scrape artefact unless it separates two words of Latin script.
_SPACE_IN_NAME = re.compile(r"\s+")


def _ascii_word(char: str) -> bool:
    """Whether ``char`` (one character, or none) is [A-Za-z0-9]: isalnum() alone would take
    the letters and digits of every script."""
    return char.isascii() and char.isalnum()


# Mirrors inject the reading of a character after it: 规(guī)则. Tone marks make it pinyin, not
# an English word in brackets.
_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ"
_PINYIN = re.compile(rf"(?<=[{_CJK}])\s?[(（]\s?[a-zü]*[{_TONED}][a-zü]*\s?[)）]")
# _PINYIN opens with a lookbehind, so it tries every position; a fast scan for a tone mark,
# which every reading has, skips it for the texts without one (nearly all).
_TONE_MARK = re.compile(f"[{_TONED}]")
# Tags and entities that a copy from a page carried into the text.
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)(?:\s[^<>]{0,300})?/?>")
_BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "table", "ul", "ol"})
# Templates fill dates in as 2025年【01】月【08】日.
_BRACKETED_NUMBER = re.compile(r"【\s*([0-9０-９]{1,4})\s*】")
_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9A-Fa-f]{1,6}|[A-Za-z]{2,8});")


def normalize(text: str) -> str:
    """Return ``text`` in simplified characters with ASCII digits and letters and plain spaces.

    Traditional characters go through OpenCC ``t2s``; full-width digits, letters and
    separators become ASCII; exotic spaces become a plain space; zero-width characters and
    carriage returns are dropped. Never raises.
    """
    if not text:
        return ""
    if "【" in text:
        text = _BRACKETED_NUMBER.sub(r"\1", text)
    folded = text.translate(_WIDTH) if _WIDE.search(text) else text
    if folded.isascii() or not _traditional().search(folded):
        return folded
    return _t2s().convert(folded)


def strip_noise(text: str) -> str:
    """``text`` without what a copied page carries besides its words: HTML tags and entities,
    and the pinyin that mirrors inject after characters (规(guī)则). For notice texts only: a
    name typed by hand is kept as typed."""
    if "<" in text or "&" in text:
        text = _TAG.sub(lambda m: "\n" if m[2].lower() in _BREAKS else "", text)
        text = _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
    has_bracket = "(" in text or "（" in text
    return _PINYIN.sub("", text) if has_bracket and _TONE_MARK.search(text) else text


def compact_name(name: str) -> str:
    """Remove the spaces and line breaks a name picked up, keeping those between Latin words."""
    # str.split() splits at what \s matches (str.isspace), and strip() removes it: a name it
    # leaves whole (most names) has nothing to remove. Quicker than a search for a short name.
    if name.split() == [name]:
        return name
    # The same name is compacted several times per notice (found, keyed, compared): a short
    # one is memoised, a long text (a headline, a cell) is not kept alive by a cache.
    return _compact_short(name) if len(name) <= _SHORT_NAME else _compact(name)


_SHORT_NAME = 120


def _compact(name: str) -> str:
    """``compact_name`` for a name with spaces or line breaks."""

    def _keep(match: re.Match[str]) -> str:
        before = name[match.start() - 1] if match.start() > 0 else ""
        after = name[match.end()] if match.end() < len(name) else ""
        if _ascii_word(before) and _ascii_word(after):
            # "1688 商家" loses its space, "Seller Rules" keeps it.
            if before.isdigit() and not after.isascii():
                return ""
            return " "
        return ""

    return _SPACE_IN_NAME.sub(_keep, name).strip()


_compact_short = lru_cache(maxsize=4096)(_compact)


# A scrape that highlighted keywords put each on a line of its own: "1688\n修订\n《X》". Such a
# break is joined when a line beside it is a short fragment and the break falls inside a
# sentence of Chinese text; timestamps, list items and table cells keep their lines.
_FRAGMENT = 10
_ENDS_LINE = tuple("。！？!?；;：:|｜")
_STARTS_LINE = re.compile(
    r"^\s*(?:[-•·*>●■◆▪]|\d{1,2}\s*[.、)）]|[(（]\d{1,2}[)）]|[一二三四五六七八九十]+、|第.{1,4}[条章]|\d{4}-\d{2}-\d{2})"
)
_STAMP_LINE = re.compile(r"^\s*\d{4}[-/]\d{2}[-/]\d{2}[ T]\d{2}:\d{2}")
_CJK_CHAR = re.compile(f"[{_CJK}]")


def _joins(before: str, after: str) -> bool:
    head, tail = before.strip(), after.strip()
    if not head or not tail:
        return False
    if min(len(head), len(tail)) > _FRAGMENT:
        return False
    if head.endswith(_ENDS_LINE) or _STARTS_LINE.match(after):
        return False
    if _STARTS_LINE.match(before):
        return False  # a numbered heading ("三、公示及生效") stands on its own line
    if _STAMP_LINE.match(before) or _STAMP_LINE.match(after):
        return False
    if "|" in before or "|" in after:
        return False  # table cells keep their lines
    return _CJK_CHAR.search(before + after) is not None


def rejoin_lines(text: str) -> str:
    """``text`` with the line breaks a keyword highlighter inserted inside sentences removed."""
    if "\n" not in text:
        return text
    lines = text.split("\n")
    out = [lines[0]]
    for line in lines[1:]:
        if _joins(out[-1], line):
            out[-1] = out[-1].rstrip() + line.strip()
        else:
            out.append(line)
    return "\n".join(out)


# How far into a text a page's own headline is looked for: navigation runs to a few lines.
_HEADLINE_WITHIN = 1500


def from_headline(title: str, text: str) -> str:
    """``text`` from the line that repeats ``title``, when a scraped page has lines before it.

    What comes before a page's own headline is its navigation (breadcrumbs, links to other
    articles with their dates), not the notice.
    """
    headline = title.strip()
    if len(headline) < 6:
        return text
    at = text.find(headline, 0, _HEADLINE_WITHIN + len(headline))
    while at > 0:
        line_start = text.rfind("\n", 0, at) + 1
        line_end = text.find("\n", at)
        line = text[line_start : len(text) if line_end < 0 else line_end]
        if line_start > 0 and line.strip() == headline:
            return text[line_start:]
        at = text.find(headline, at + 1, _HEADLINE_WITHIN + len(headline))
    return text
