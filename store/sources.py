"""What the store keeps of polled sources: each source's state, the items it found (so a
poll knows what is new), and the sources added through the API.

Items are known by the digest of their key (a link may be thousands of characters); a source
is known by its configured name, so renaming a source starts it afresh.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, delete, select

from store.db import dialect_insert
from store.models import SourceItem, SourceState, StoredSource


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def state_of(session: Session, name: str) -> SourceState:
    """The state of the source ``name``, a fresh one (not yet added) when it has none."""
    return session.get(SourceState, name) or SourceState(name=name)


def states(session: Session) -> dict[str, SourceState]:
    return {state.name: state for state in session.exec(select(SourceState))}


def save_state(session: Session, state: SourceState) -> None:
    session.add(state)
    session.flush()


def claim(session: Session, name: str, *, now: datetime, polled_before: datetime) -> bool:
    """Take the source's next poll for this instance: True when no instance polled it since
    ``polled_before`` (and none is backing off), and then ``last_polled_at`` is ``now``.

    One conditional UPDATE, so that of several instances polling on one store exactly one
    wins each round, on PostgreSQL and on SQLite alike. The caller commits.
    """
    insert = dialect_insert(session, SourceState).values(name=name)
    session.connection().execute(insert.on_conflict_do_nothing(index_elements=["name"]))
    last, until = col(SourceState.last_polled_at), col(SourceState.not_before)
    taken = session.connection().execute(
        update(SourceState)
        .where(
            col(SourceState.name) == name,
            or_(last.is_(None), last < polled_before),
            or_(until.is_(None), until <= now),
        )
        .values(last_polled_at=now)
    )
    session.expire_all()  # the state read before is stale now
    return bool(taken.rowcount)


def seen_digests(session: Session, source: str) -> set[str]:
    """The digests of every item key the source has kept (not those it reads again)."""
    query = select(SourceItem.key_digest).where(
        SourceItem.source == source, col(SourceItem.pending).is_(False)
    )
    return set(session.exec(query))


def put_off(session: Session, *, source: str, key: str, problem: str, now: datetime) -> int:
    """Note that the item could not be read this time, for a reason that may pass; it stays
    to be read again. Returns how many polls have tried it."""
    digest = key_digest(key)
    row = session.exec(
        select(SourceItem).where(SourceItem.source == source, SourceItem.key_digest == digest)
    ).first()
    if row is None:
        row = SourceItem(source=source, key_digest=digest, key=key, pending=True, seen_at=now)
    row.problem = problem
    row.tries += 1
    session.add(row)
    session.flush()
    return row.tries


def add_item(
    session: Session,
    *,
    source: str,
    key: str,
    notice_id: int | None,
    problem: str | None,
    now: datetime,
) -> bool:
    """Keep an item as seen (one being read again, too); False when the source had kept it
    already (another poll was first)."""
    digest = key_digest(key)
    row = session.exec(
        select(SourceItem).where(SourceItem.source == source, SourceItem.key_digest == digest)
    ).first()
    if row is not None and not row.pending:
        return False
    row = row or SourceItem(source=source, key_digest=digest, key=key, seen_at=now)
    row.notice_id, row.problem, row.pending, row.seen_at = notice_id, problem, False, now
    session.add(row)
    session.flush()
    return True


def items_of(session: Session, source: str, *, limit: int = 20) -> list[SourceItem]:
    """The source's latest items, newest first."""
    query = (
        select(SourceItem)
        .where(SourceItem.source == source)
        .order_by(col(SourceItem.seen_at).desc(), col(SourceItem.id).desc())
        .limit(limit)
    )
    return list(session.exec(query))


def problem_counts(session: Session) -> dict[str, int]:
    """How many items each source kept that could not be read."""
    query = (
        select(SourceItem.source, func.count())
        .where(col(SourceItem.problem).is_not(None), col(SourceItem.pending).is_(False))
        .group_by(SourceItem.source)
    )
    return {source: int(count) for source, count in session.exec(query)}


def pending_counts(session: Session) -> dict[str, int]:
    """How many items each source is reading again (their problem may pass)."""
    query = (
        select(SourceItem.source, func.count())
        .where(col(SourceItem.pending).is_(True))
        .group_by(SourceItem.source)
    )
    return {source: int(count) for source, count in session.exec(query)}


# --- sources added through the API -----------------------------------------------------------


def stored_sources(session: Session) -> Sequence[StoredSource]:
    return session.exec(select(StoredSource).order_by(col(StoredSource.id))).all()


def find_stored_source(session: Session, name: str) -> StoredSource | None:
    return session.exec(select(StoredSource).where(StoredSource.name == name)).first()


def add_stored_source(
    session: Session, *, name: str, definition: str, now: datetime
) -> StoredSource:
    row = StoredSource(name=name, definition=definition, created_at=now)
    session.add(row)
    session.flush()
    return row


def delete_stored_source(session: Session, name: str) -> bool:
    row = find_stored_source(session, name)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def forget(session: Session, names: Iterable[str]) -> None:
    """Drop the state and items of sources (a source deleted through the API)."""
    wanted = list(names)
    session.exec(delete(SourceItem).where(col(SourceItem.source).in_(wanted)))
    session.exec(delete(SourceState).where(col(SourceState.name).in_(wanted)))
