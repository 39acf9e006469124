"""The audit log: each write someone made, kept in the same transaction as the write, so a
write that is stored is logged and one that is rolled back is not."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlmodel import Session, col, select

from store.db import committed
from store.models import AuditEntry

T = TypeVar("T")


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str = "",
    detail: Mapping[str, Any] | None = None,
    now: datetime,
) -> None:
    """Add the entry to the session's transaction (the caller's write commits it)."""
    session.add(
        AuditEntry(
            at=now,
            actor=actor[:64],
            action=action,
            target=target[:500],
            detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str),
        )
    )


def entries(
    session: Session, *, limit: int = 100, actor: str | None = None
) -> Sequence[AuditEntry]:
    """The latest entries, newest first."""
    query = select(AuditEntry).order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    return session.exec(query.limit(limit)).all()


def logged(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str,
    detail: Mapping[str, Any],
    write: Callable[[], T],
    now: datetime,
) -> T:
    """``write`` committed with its entry in one transaction (run again if it collided with
    a concurrent write), so that what is stored is logged and what is not is not; a write
    that did nothing (False, None) is not logged."""

    def both() -> T:
        done = write()
        if done is not None and done is not False:
            record(session, actor=actor, action=action, target=target, detail=detail, now=now)
        return done

    return committed(session, both)
