"""Notice text to change candidates: the rule, its platform, the kind of change, and the
公示 (announced) and 生效 (effective) dates. Pure: no I/O, no clock, no database.

    read_notices(text, format=...)  ->  list[Notice]      (listing, article, html, jsonl)
    extract(notice)                 ->  list[ChangeCandidate]
    unplaced_days(notice)           ->  list[str]   (days it names but cannot give a year)

The names are loaded on first use: compiling the extractor's patterns takes a fifth of a
second, which a command that only reads the config (or a source that only builds a
``Notice``, from ``alerts.extract.model``) should not pay.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alerts.extract.core import extract, unplaced_days
    from alerts.extract.model import ChangeCandidate, ChangeKind, Notice
    from alerts.extract.readers import read_notices

__all__ = ["ChangeCandidate", "ChangeKind", "Notice", "extract", "read_notices", "unplaced_days"]

_HOMES = {
    "extract": "core",
    "unplaced_days": "core",
    "ChangeCandidate": "model",
    "ChangeKind": "model",
    "Notice": "model",
    "read_notices": "readers",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
