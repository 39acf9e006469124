"""Notice text to change candidates: the rule, its platform, the kind of change, and the
公示 (announced) and 生效 (effective) dates. Pure: no I/O, no clock, no database.

    read_notices(text, format=...)  ->  list[Notice]      (listing, article, html, jsonl)
    extract(notice)                 ->  list[ChangeCandidate]
"""

from __future__ import annotations

from alerts.extract.core import extract
from alerts.extract.model import ChangeCandidate, ChangeKind, Notice
from alerts.extract.readers import read_notices

__all__ = ["ChangeCandidate", "ChangeKind", "Notice", "extract", "read_notices"]
