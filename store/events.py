"""The calendar feed's serialized events, kept in the store so that a restarted service
reads them instead of serializing every event again (alerts/calendar/render.py's
:class:`EventCache` asks; the keys are its digests), and the whole feeds a service held
when it stopped, for the next start to serve as they are (alerts/calendar/feed.py's
``Feeds`` keeps and asks).

A row is never stale (its key digests everything it was made of) but may go unused: each
change keeps the rows of its newest :data:`KEPT_PER_CHANGE` events, and each stop replaces
the kept feeds. Losing a row costs a build, so a failing store is logged here and never
fails a feed.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from store.commits import UNCOUNTED
from store.db import dialect_insert
from store.models import CalendarEvent, CalendarFeed

log = logging.getLogger(__name__)

# Two kinds of event a change, each in a few forms (handled for one feed's watch and not
# for another's): enough that feeds asking for either never push each other out.
KEPT_PER_CHANGE = 8
_BATCH = 1000  # keys or rows a statement, far below every backend's parameter limit


class StoredEvents:
    """The ``calendar_event`` table of ``engine``, each call in a session of its own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def load(self, keys: Collection[str]) -> dict[str, bytes]:
        """The blocks stored under ``keys``, those there are."""
        wanted = list(keys)
        found: dict[str, bytes] = {}
        try:
            with Session(self.engine) as session:
                for start in range(0, len(wanted), _BATCH):
                    statement = select(col(CalendarEvent.key), col(CalendarEvent.block)).where(
                        col(CalendarEvent.key).in_(wanted[start : start + _BATCH])
                    )
                    rows = session.connection().execute(statement).all()
                    found.update((key, block) for key, block in rows)
        except SQLAlchemyError as exc:
            log.warning("could not read the stored calendar events: %s", _first_line(exc))
        return found

    def save(self, events: Sequence[tuple[str, str, bytes]]) -> None:
        """Store ``(key, change uid, block)`` rows, then drop the oldest rows of those
        changes beyond :data:`KEPT_PER_CHANGE`."""
        if not events:
            return
        try:
            # Its commit changes nothing a feed shows: no reader need read the version again.
            with Session(self.engine, info={UNCOUNTED: True}) as session:
                insert = dialect_insert(session, CalendarEvent)
                rows = [
                    {"key": key, "change_uid": uid, "block": block} for key, uid, block in events
                ]
                for start in range(0, len(rows), _BATCH):
                    session.connection().execute(
                        insert.on_conflict_do_nothing(index_elements=["key"]),
                        rows[start : start + _BATCH],
                    )
                uids = sorted({uid for _, uid, _ in events})
                for start in range(0, len(uids), _BATCH):
                    _prune(session, uids[start : start + _BATCH])
                session.commit()
        except SQLAlchemyError as exc:
            log.warning("could not store calendar events: %s", _first_line(exc))


class StoredFeeds:
    """The ``calendar_feed`` table of ``engine``: whole feeds by key, each call in a session
    of its own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def load(self, key: str) -> tuple[bytes, datetime] | None:
        """The body and Last-Modified of the feed kept under ``key``, if one is."""
        try:
            with Session(self.engine) as session:
                statement = select(col(CalendarFeed.body), col(CalendarFeed.last_modified))
                row = session.connection().execute(statement.where(col(CalendarFeed.key) == key))
                found = row.first()
        except SQLAlchemyError as exc:
            log.warning("could not read the kept calendar feeds: %s", _first_line(exc))
            return None
        if found is None:
            return None
        return found[0], datetime.fromtimestamp(found[1], UTC)

    def replace(self, feeds: Sequence[tuple[str, bytes, datetime]]) -> bool:
        """Keep ``(key, body, last modified)`` of each feed instead of those kept before;
        whether it was stored."""
        try:
            with Session(self.engine, info={UNCOUNTED: True}) as session:
                session.connection().execute(delete(CalendarFeed))
                insert = dialect_insert(session, CalendarFeed)
                # Another instance stopping at the same moment may write the same keys: the
                # last to commit keeps its rows.
                upsert = insert.on_conflict_do_update(
                    index_elements=["key"],
                    set_={
                        "body": insert.excluded.body,
                        "last_modified": insert.excluded.last_modified,
                    },
                )
                for key, body, modified in feeds:  # one at a time: a row may be megabytes
                    row = {"key": key, "body": body, "last_modified": int(modified.timestamp())}
                    session.connection().execute(upsert, row)
                session.commit()
        except SQLAlchemyError as exc:
            log.warning("could not keep the calendar feeds: %s", _first_line(exc))
            return False
        return True


def _prune(session: Session, uids: Sequence[str]) -> None:
    newest = (
        select(
            col(CalendarEvent.id),
            func.row_number()
            .over(partition_by=col(CalendarEvent.change_uid), order_by=col(CalendarEvent.id).desc())
            .label("n"),
        )
        .where(col(CalendarEvent.change_uid).in_(uids))
        .subquery()
    )
    old = select(newest.c.id).where(newest.c.n > KEPT_PER_CHANGE)
    session.connection().execute(delete(CalendarEvent).where(col(CalendarEvent.id).in_(old)))


def _first_line(exc: SQLAlchemyError) -> str:
    # The statement and its parameters (blocks of bytes) are no use in a log line.
    cause = getattr(exc, "orig", None)
    return (str(cause if cause is not None else exc).splitlines() or [type(exc).__name__])[0]
