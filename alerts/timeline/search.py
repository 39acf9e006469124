"""What a search looks in and for: the folded document of a change, and the terms of a query.

Both sides are folded alike, so 發貨, ＳＥＬＬＥＲ and seller find what 发货 and Seller find:
NFKC (full-width to half-width), then the extractor's normalization (OpenCC t2s, its
digits and spaces), then casefold. Migration 0011 folds the documents of stores that
existed before search the same way, from its own copy of the rule. The store keeps and
matches the folded text (store/search.py).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Protocol

from alerts.errors import RulewatchError

# A query is a few words typed into a box; past this it is a pasted text, not a search.
MAX_QUERY = 200
# How the faces describe the parameter (API, exports, feed).
SEARCH = (
    "Search: words (separated by spaces) that the rule, title, summary or source texts "
    f"must all hold; any case, full- or half-width, simplified or traditional; at most "
    f"{MAX_QUERY} characters."
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class QueryTooLong(RulewatchError):
    """A search query longer than :data:`MAX_QUERY` characters."""


def fold(text: str) -> str:
    """``text`` in the one spelling documents and queries are compared in."""
    from alerts.extract.normalize import normalize  # not loaded by a listing without a search

    plain = _CONTROL.sub(" ", text)  # PostgreSQL refuses NUL; no control character is a word
    return normalize(unicodedata.normalize("NFKC", plain)).casefold()


def terms(query: str | None) -> tuple[str, ...]:
    """The folded words of ``query`` (separated by spaces), each of which a change must hold;
    none for an empty query. Raises QueryTooLong past :data:`MAX_QUERY` characters."""
    if not query:
        return ()
    if len(query) > MAX_QUERY:
        raise QueryTooLong(f"a search is at most {MAX_QUERY} characters, this one is {len(query)}")
    return tuple(dict.fromkeys(fold(query).split()))


class _Rule(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def name(self) -> str: ...


class _Change(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def summary(self) -> str: ...


class _Source(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def text(self) -> str: ...


def document(rule: _Rule, change: _Change, notices: Iterable[_Source]) -> str:
    """What a search of ``change`` looks in: its rule's key and name, its title and summary,
    and the title and text of each of its ``notices``, folded."""
    parts = [rule.key, rule.name, change.title, change.summary]
    for notice in notices:
        parts += [notice.title, notice.text]
    return fold("\n".join(parts))
