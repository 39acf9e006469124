"""Notice text to change candidates: the rule, its platform, the kind of change, and the
公示 (announced) and 生效 (effective) dates. Pure: no I/O, no clock, no database.

    read_notices(text, format=...)  ->  list[Notice]      (listing, article, html, jsonl)
    extract(notice)                 ->  list[ChangeCandidate]
    unplaced_days(notice)           ->  list[str]   (days it names but cannot give a year)
"""

from __future__ import annotations

from alerts.extract.core import extract, unplaced_days
from alerts.extract.model import ChangeCandidate, ChangeKind, Notice
from alerts.extract.readers import read_notices

__all__ = ["ChangeCandidate", "ChangeKind", "Notice", "extract", "read_notices", "unplaced_days"]
