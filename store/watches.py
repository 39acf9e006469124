"""Reads and writes of the watches added through the API."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from store import handled
from store.models import StoredWatch


def list_watches(session: Session) -> list[tuple[str, dict[str, Any]]]:
    """Every stored watch as (name, definition), by name."""
    rows = session.exec(select(StoredWatch).order_by(col(StoredWatch.name))).all()
    return [(row.name, json.loads(row.definition)) for row in rows]


def add_watch(session: Session, *, name: str, definition: dict[str, Any], now: datetime) -> bool:
    """Store a watch; False (and nothing written) when one with that name exists."""
    if session.exec(select(StoredWatch).where(StoredWatch.name == name)).first() is not None:
        return False
    text = json.dumps(definition, ensure_ascii=False, sort_keys=True, default=str)
    session.add(StoredWatch(name=name, definition=text, created_at=now))
    session.flush()
    return True


def remove_watch(session: Session, *, name: str) -> bool:
    """Delete the stored watch called ``name`` and the handled marks made for it (a watch
    added later under the name starts with none); False when there is none."""
    row = session.exec(select(StoredWatch).where(StoredWatch.name == name)).first()
    if row is None:
        return False
    session.delete(row)
    handled.unmark_scope(session, scope_kind="watch", scope=name)
    session.flush()
    return True
