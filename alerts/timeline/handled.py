"""Changes marked handled (已处理) for a watch or a tag: the values the faces, the planner
and the feed share, which watch a mark speaks for, and the one write path (mark, undo) the
API, the page and ``rulewatch handled`` go through.

A mark for a watch speaks for that watch; a mark for a tag speaks for every watch carrying
the tag. Marking needs a watch or tag that covers the change (a mark nobody's reminders or
feed would read is a mistake to say so); undo needs only the mark.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlmodel import Session

from alerts.errors import Refused
from alerts.watches import covering, facts_of
from store import handled as stored
from store import queries

if TYPE_CHECKING:
    from alerts.config import Watch
    from store.models import HandledMark

NOTE_CAP = 2000  # a note is a line or two for the team, not a report


class ScopeKind(StrEnum):
    """What a mark is for."""

    watch = "watch"
    tag = "tag"


SCOPE_NAMES = {ScopeKind.watch: "关注项", ScopeKind.tag: "标签"}


@dataclass(frozen=True)
class Mark:
    """A change handled for ``scope`` (a watch's name or a tag), by whom, when, why."""

    kind: ScopeKind
    scope: str
    by: str
    at: datetime  # aware
    note: str = ""

    @property
    def label(self) -> str:
        """How a page names the scope: 关注项 X or 标签 X."""
        return f"{SCOPE_NAMES[self.kind]} {self.scope}"

    def as_json(self) -> dict[str, object]:
        return {
            "watch": self.scope if self.kind is ScopeKind.watch else None,
            "tag": self.scope if self.kind is ScopeKind.tag else None,
            "by": self.by,
            "at": self.at.isoformat(),
            "note": self.note,
        }


def mark_of(row: HandledMark) -> Mark:
    """A stored mark as a value."""
    return Mark(
        kind=ScopeKind(row.scope_kind), scope=row.scope, by=row.by, at=row.at, note=row.note
    )


def marked_for(watch: Watch, marks: Iterable[Mark]) -> Mark | None:
    """The mark that says ``watch``'s team handled the change: for the watch, else for one
    of its tags; None when there is none."""
    for mark in marks:
        if mark.kind is ScopeKind.watch and mark.scope == watch.name:
            return mark
    return next((m for m in marks if m.kind is ScopeKind.tag and m.scope in watch.tags), None)


def handled_by_all(watches: Sequence[Watch], marks: Sequence[Mark]) -> bool:
    """Whether every one of ``watches`` (those covering a change) has it handled."""
    return bool(watches) and all(marked_for(watch, marks) is not None for watch in watches)


# The longest watch name or tag a mark keeps (its column's width).
SCOPE_MAX = 200


def set_handled(
    session: Session,
    watches: Sequence[Watch],
    *,
    uid: str,
    kind: ScopeKind,
    scope: str,
    by: str,
    note: str = "",
    undo: bool = False,
    now: datetime,
) -> Mark | None:
    """Mark change ``uid`` handled for the watch or tag ``scope`` (one of ``watches`` that
    covers it; marking again replaces the note, who and when), or with ``undo`` remove
    that mark (None). The caller commits. Raises Refused: no such change, or no
    mark to undo (404); no such watch or tag, or one that does not cover the change (422)."""
    # PostgreSQL cannot store NUL in text; a form's field may carry one (the API drops it).
    scope, note = scope.replace("\x00", ""), note.replace("\x00", "")
    if len(scope) > SCOPE_MAX:
        raise Refused(f"名称最长 {SCOPE_MAX} 字（{kind.value} name too long）", status=422)
    found = queries.get_change(session, uid=uid) if _uid_like(uid) else None
    if found is None:
        raise Refused(f"没有 uid 为 {uid!r} 的变更（no change has uid {uid!r}）", status=404)
    change, rule = found
    what = SCOPE_NAMES[kind]
    if undo:
        if not stored.unmark(session, change_id=change.id or 0, scope_kind=kind.value, scope=scope):
            raise Refused(
                f"变更 {uid} 没有为{what} {scope!r} 标记已处理"
                f"（no mark for {kind.value} {scope!r}）",
                status=404,
            )
        return None
    covered = covering(watches, facts_of(change, rule))
    if scope not in _names(watches, kind):
        raise Refused(
            f"没有名为 {scope!r} 的{what}（no {kind.value} {scope!r}）",
            status=422,
            field=kind.value,
        )
    if scope not in _names(covered, kind):
        raise Refused(
            f"{what} {scope!r} 不覆盖变更 {uid}（{kind.value} {scope!r} does not cover it）",
            status=422,
            field=kind.value,
        )
    note = note.strip()[:NOTE_CAP]
    row = stored.mark(
        session,
        change_id=change.id or 0,
        scope_kind=kind.value,
        scope=scope,
        by=by,
        note=note,
        now=now,
    )
    return mark_of(row)


def _names(watches: Iterable[Watch], kind: ScopeKind) -> list[str]:
    if kind is ScopeKind.watch:
        return [watch.name for watch in watches]
    return [tag for watch in watches for tag in watch.tags]


def _uid_like(uid: str) -> bool:
    # Only printable text up to the column's width can be a uid; PostgreSQL refuses NUL.
    return len(uid) <= 64 and uid.isprintable()
