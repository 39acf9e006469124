"""Notices read for the store, the part of an import no store work can speed up: each
cleaned as it is stored, known by its content hash, its changes extracted. Pure.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace

from alerts.extract import extract, unplaced_days
from alerts.extract.model import ChangeCandidate, Notice
from alerts.extract.rules import rule_key
from alerts.timeline.batch import Item


@dataclass(eq=False)
class Pending:
    """A notice on its way into the store: cleaned, known by its hash, read when first needed."""

    notice: Notice
    digest: str
    platform: str | None
    item: Item | None = None


def pending(notice: Notice, platform: str | None) -> Pending:
    notice = cleaned(notice)
    return Pending(notice=notice, digest=content_hash(notice), platform=platform)


def read(entry: Pending, origin: str) -> Item:
    """The notice as the store takes it."""
    candidates = changes_in(entry.notice, platform=entry.platform)
    # Days without a year matter only where they leave a change without a date.
    undated = not candidates or any(
        c.effective_on is None or c.announced_on is None for c in candidates
    )
    without_year = unplaced_days(entry.notice) if undated else []
    return Item(_capped(entry.notice), entry.digest, origin, candidates, without_year)


def cleaned(notice: Notice) -> Notice:
    """The notice as it is stored and known by its content hash."""
    # PostgreSQL cannot store NUL in text, and no reader needs it.
    # A byte-order mark pasted into a title is no part of it.
    return replace(
        notice,
        title=notice.title.replace("\x00", "").removeprefix("\ufeff"),
        text=notice.text.replace("\x00", "").removeprefix("\ufeff"),
    )


def changes_in(notice: Notice, *, platform: str | None = None) -> list[ChangeCandidate]:
    """The changes read from ``notice``, those naming no platform under ``platform``: what
    an import stores, and what `rulewatch sources try` shows a poll would."""
    return [_on_platform(c, platform) for c in extract(notice)]


def _on_platform(candidate: ChangeCandidate, platform: str | None) -> ChangeCandidate:
    """The candidate with ``platform`` when its notice named none, keyed under it."""
    if platform is None or candidate.platform is not None:
        return candidate
    key = rule_key(candidate.rule or candidate.rule_key, platform)
    return replace(candidate, platform=platform, rule_key=key)


# The most of a notice's text that is stored (and so shown on its pages): the changes are
# read from the whole text first. The API takes no more than this in one notice.
TEXT_CAP = 200_000


def _capped(notice: Notice) -> Notice:
    if len(notice.text) <= TEXT_CAP:
        return notice
    note = f"\n……（原文共 {len(notice.text):,} 字，此处只保存前 {TEXT_CAP:,} 字）"
    return replace(notice, text=notice.text[:TEXT_CAP] + note)


def content_hash(notice: Notice) -> str:
    """The identity of a notice's content: the same text from the same time is the same notice."""
    published = notice.published_at.isoformat() if notice.published_at else None
    return digest([notice.title, notice.text, published, notice.url])


def digest(parts: list[str | None]) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()
