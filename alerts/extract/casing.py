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

__all__ = ["lowered"]

# The characters other than A-Z and a-z that an IGNORECASE ASCII letter matches.
UNSAFE = "\u0130\u0131\u017f\u212a"


def lowered(text: str) -> str | None:
    """``text.lower()`` when a case-sensitive search of it for lower-case ASCII words finds
    what an IGNORECASE search of ``text`` finds, at the same places; else None."""
    for char in UNSAFE:
        if char in text:
            return None
    low = text.lower()
    return low if len(low) == len(text) else None
