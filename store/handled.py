"""Reads and writes of the marks that say a change was handled for a watch or a tag."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from store.models import HandledMark
from store.queries import of_changes


def marks_of_changes(
    session: Session, *, change_ids: Sequence[int]
) -> dict[int, list[HandledMark]]:
    """The marks of each change of ``change_ids`` that has any, by scope kind and scope
    (a change with none is not in the mapping: most have none, and a whole feed asks for
    every change)."""
    wanted = set(change_ids)
    found: dict[int, list[HandledMark]] = {}
    statement = select(HandledMark).order_by(
        col(HandledMark.scope_kind).desc(), col(HandledMark.scope)
    )
    for each in of_changes(statement, col(HandledMark.change_id), change_ids):
        for row in session.exec(each).all():
            if row.change_id in wanted:
                found.setdefault(row.change_id, []).append(row)
    return found


def mark(
    session: Session,
    *,
    change_id: int,
    scope_kind: str,
    scope: str,
    by: str,
    note: str,
    now: datetime,
) -> HandledMark:
    """Mark the change handled for the scope; a mark there already takes the new note, who
    and when."""
    row = _find(session, change_id, scope_kind, scope)
    if row is None:
        row = HandledMark(change_id=change_id, scope_kind=scope_kind, scope=scope, by=by, at=now)
    row.by, row.at, row.note = by[:64], now, note
    session.add(row)
    session.flush()
    return row


def unmark(session: Session, *, change_id: int, scope_kind: str, scope: str) -> bool:
    """Remove the change's mark for the scope; False when there was none."""
    row = _find(session, change_id, scope_kind, scope)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def unmark_scope(session: Session, *, scope_kind: str, scope: str) -> int:
    """Remove every change's mark for the scope (its watch is gone); how many there were."""
    rows = session.exec(
        select(HandledMark).where(HandledMark.scope_kind == scope_kind, HandledMark.scope == scope)
    ).all()
    for row in rows:
        session.delete(row)
    return len(rows)


def move_marks(session: Session, *, from_change: int, to_change: int) -> int:
    """Give ``to_change`` the marks of ``from_change`` for scopes it has none for (a merge);
    how many moved."""
    have = {
        (row.scope_kind, row.scope)
        for row in session.exec(select(HandledMark).where(HandledMark.change_id == to_change))
    }
    moved = 0
    for row in session.exec(select(HandledMark).where(HandledMark.change_id == from_change)):
        if (row.scope_kind, row.scope) not in have:
            row.change_id = to_change
            session.add(row)
            moved += 1
    session.flush()
    return moved


def _find(session: Session, change_id: int, scope_kind: str, scope: str) -> HandledMark | None:
    return session.exec(
        select(HandledMark).where(
            HandledMark.change_id == change_id,
            HandledMark.scope_kind == scope_kind,
            HandledMark.scope == scope,
        )
    ).first()
