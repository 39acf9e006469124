"""Case-insensitive search for ASCII words by case-sensitive patterns on a lower-cased copy.

An IGNORECASE pattern is slow to reject a place: the engine cannot skip ahead to the
characters a match starts with, nor reject a branch of an alternation by its first
character, so a list of words is tried word by word at every place that passes. The same
words in lower case, searched case-sensitively in ``text.lower()``, are rejected at once.

That finds the same matches at the same places when lowering keeps every character where it
was (one character for one: only U+0130 İ becomes two) and no character matches an ASCII
letter under IGNORECASE other than the ASCII letters themselves (ſ matches s, the Kelvin sign
K matches k, and İ and ı match i; a test derives that list from the engine). ``lowered``
gives the copy only then; otherwise the caller keeps its IGNORECASE pattern.

A pattern used on the copy must hold no cased character other than lower-case ASCII letters
(Chinese characters are uncased), and write a class of letters as [a-z].
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["for_lowered", "lowered"]

# The characters other than A-Z and a-z that an IGNORECASE ASCII letter matches.
UNSAFE = "\u0130\u0131\u017f\u212a"


def lowered(text: str) -> str | None:
    """``text.lower()`` when a case-sensitive search of it for lower-case ASCII words finds
    what an IGNORECASE search of ``text`` finds, at the same places; else None.

    Also None for a text longer than a long notice (``LONGEST``): the copies, held while
    they are read, would add some 60 MB to the peak of a 20 MB article, whose time is spent
    elsewhere; such a text is read with the IGNORECASE patterns, as before.
    """
    if len(text) <= _SHORT:
        return _lower(text)  # a name, a clause: lowered again sooner than looked up
    # One notice's text is lowered for its platforms, its dates' roles and its verbs: the
    # last few are kept.
    return _lowered_kept(text) if len(text) <= LONGEST else None


LONGEST = 100_000
_SHORT = 256


def _lower(text: str) -> str | None:
    for char in UNSAFE:
        if char in text:
            return None
    low = text.lower()
    return low if len(low) == len(text) else None


_lowered_kept = lru_cache(maxsize=4)(_lower)


# What for_lowered reads past: escapes (\s, \S, \b, \d …) and group names, whose letters say
# nothing about the case of the text; an escaped backslash first, so that in \\S the S is a
# letter of the text.
_NOT_LETTERS = re.compile(r"\\\\|\\[A-Za-z]|\(\?P<\w+>|\(\?P=\w+\)")


def for_lowered(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """The case-sensitive twin of the IGNORECASE ``pattern``, to search ``lowered`` copies
    with: there it finds what ``pattern`` finds in the text, at the same places (its groups
    hold the lower-cased words).

    Raises ValueError unless every cased character ``pattern`` holds (escapes and group names
    aside) is a lower-case ASCII letter, which is what makes the twin find the same.
    """
    if not pattern.flags & re.IGNORECASE or "(?i" in pattern.pattern or "(?-i" in pattern.pattern:
        raise ValueError(f"not a plain IGNORECASE pattern: {pattern.pattern!r}")
    letters = _NOT_LETTERS.sub("", pattern.pattern)
    cased = {char for char in letters if char.lower() != char.upper()}
    if any(not (char.isascii() and char.islower()) for char in cased):
        raise ValueError(f"cased characters other than a-z in {pattern.pattern!r}")
    return re.compile(pattern.pattern, pattern.flags & ~re.IGNORECASE)
