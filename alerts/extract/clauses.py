"""Sentence and clause boundaries of a normalized text.

Which rule a date is said about is decided within a sentence (。；！？, a line break, or an
English full stop); which role a date plays is read within its clause (also ，and ,).
"""

from __future__ import annotations

import re
from bisect import bisect_right

__all__ = ["CLAUSE_END", "SENTENCE_END", "Sentences"]

# A full stop counts when a capital or the end follows. Written as one character set first,
# so that the engine skips to the candidates instead of trying both branches everywhere.
SENTENCE_END = re.compile(r"[。；;！？!?\n.](?:(?<!\.)|(?=\s+[A-Z\"“]|\s*$))")
CLAUSE_END = re.compile(r"[，,。；;！？!?\n]")


class Sentences:
    """Sentence numbers of the positions of one text."""

    def __init__(self, doc: str) -> None:
        self._starts = [0] + [m.end() for m in SENTENCE_END.finditer(doc)]

    def index(self, pos: int) -> int:
        """The number of the sentence ``pos`` falls in."""
        return bisect_right(self._starts, pos) - 1

    def start(self, pos: int) -> int:
        """Where the sentence holding ``pos`` begins."""
        return self._starts[self.index(pos)]

    def end(self, pos: int) -> int | None:
        """Where the sentence holding ``pos`` ends (None for the last one)."""
        index = self.index(pos) + 1
        return self._starts[index] if index < len(self._starts) else None
