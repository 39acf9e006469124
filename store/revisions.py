"""The corrections people made to changes, oldest first: what the change page and the API
show as its history. Written in the same transaction as the correction itself."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from store.models import ChangeRevision


def record(
    session: Session,
    *,
    change_id: int,
    actor: str,
    action: str,
    reason: str,
    detail: Mapping[str, Any] | None = None,
    now: datetime,
) -> None:
    """Add the revision to the session's transaction (the correction's commit keeps it)."""
    session.add(
        ChangeRevision(
            change_id=change_id,
            at=now,
            actor=actor[:64],
            action=action,
            reason=reason,
            detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str),
        )
    )


def of_change(session: Session, *, change_id: int) -> Sequence[ChangeRevision]:
    """The change's revisions, oldest first."""
    query = (
        select(ChangeRevision)
        .where(ChangeRevision.change_id == change_id)
        .order_by(col(ChangeRevision.at), col(ChangeRevision.id))
    )
    return session.exec(query).all()
