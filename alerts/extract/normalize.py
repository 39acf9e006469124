"""One spelling for every text before matching: simplified characters, ASCII digits, plain spaces.

Matching runs on the normalized text only, so every pattern elsewhere in the package can be
written once, in simplified Chinese with ASCII digits. Line breaks survive: the readers and
the sentence splitter still need them.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Protocol

__all__ = ["compact_name", "normalize"]


class _Converter(Protocol):
    def convert(self, text: str) -> str: ...


@cache
def _t2s() -> _Converter:
    # Building the converter loads dictionaries (~5 ms): once per process, and only when the
    # first text is read, so importing the package stays cheap for the CLI.
    import opencc

    converter: _Converter = opencc.OpenCC("t2s")
    return converter


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
_ASCII_WORD = re.compile(r"[A-Za-z0-9]")


def normalize(text: str) -> str:
    """Return ``text`` in simplified characters with ASCII digits and letters and plain spaces.

    Traditional characters go through OpenCC ``t2s``; full-width digits, letters and
    separators become ASCII; exotic spaces become a plain space; zero-width characters and
    carriage returns are dropped. Never raises.
    """
    if not text:
        return ""
    folded = text.translate(_WIDTH) if _WIDE.search(text) else text
    if folded.isascii():
        return folded
    return _t2s().convert(folded)


def compact_name(name: str) -> str:
    """Remove the spaces and line breaks a name picked up, keeping those between Latin words."""

    def _keep(match: re.Match[str]) -> str:
        before = name[match.start() - 1] if match.start() > 0 else ""
        after = name[match.end()] if match.end() < len(name) else ""
        if _ASCII_WORD.match(before) and _ASCII_WORD.match(after):
            # "1688 商家" loses its space, "Seller Rules" keeps it.
            if before.isdigit() and not after.isascii():
                return ""
            return " "
        return ""

    return _SPACE_IN_NAME.sub(_keep, name).strip()
