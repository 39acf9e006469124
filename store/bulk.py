"""Reads and writes of the timeline tables for a batch of notices, a few statements each.

An import reads what a batch needs at once (the hashes it knows, the rules named, their
changes with the publish times of their notices), places the batch's changes in memory
(alerts/timeline/batch.py) and writes the rows here with executemany, in the order they
were made, so ids run as they would one notice at a time. The rows are plain records: none
is an ORM object, so nothing is flushed behind the caller's back.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col

from store import search as search_index
from store.models import ChangeNotice, Notice, Rule, RuleChange

# Values per IN list: far below every backend's parameter limit.
CHUNK = 1000
T = TypeVar("T")


@dataclass(eq=False)
class RuleRow:
    key: str
    name: str
    platform: str | None
    id: int | None = None  # None until inserted
    created_at: datetime | None = None


@dataclass(eq=False)
class NoticeRow:
    content_hash: str
    title: str
    text: str
    published_at: datetime | None
    url: str | None
    origin: str
    problem: str | None
    created_at: datetime
    id: int | None = None


@dataclass(eq=False)
class ChangeRow:
    """A change as the batch holds it: read from the store or made by the batch."""

    uid: str
    rule: RuleRow
    platform: str | None
    kind: str
    # None for a stored change until a notice retitles it: the store's are kept as they are.
    title: str | None
    summary: str | None
    announced_on: date | None
    effective_on: date | None
    effective_at: time | None
    tentative: bool
    status: str
    revision: int
    postponed_from: date | None
    dated_by: datetime | None
    merged_into_id: int | None
    created_at: datetime | None  # None for a stored change: never written again
    updated_at: datetime | None  # None for a stored change until it is updated
    id: int | None = None  # None until inserted
    # The publish times of its notices: what the timeline's published_days are made of.
    published: list[datetime | None] = field(default_factory=list)


# The columns a batch may set on a stored change (and its title and summary, with them).
UPDATED = (
    "kind",
    "announced_on",
    "effective_on",
    "effective_at",
    "tentative",
    "revision",
    "postponed_from",
    "dated_by",
    "updated_at",
)


def _table(model: Any) -> sa.Table:
    table = model.__table__
    assert isinstance(table, sa.Table)
    return table


def _chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def version(session: Session) -> tuple[int, int] | None:
    """What tells whether another writer has written since: on SQLite, the connection and
    its ``PRAGMA data_version``, which another connection's commit moves (the connection's
    own do not); None on PostgreSQL, where nothing as cheap tells it."""
    if session.get_bind().dialect.name != "sqlite":
        return None
    connection = session.connection()
    moved = connection.exec_driver_sql("PRAGMA data_version").scalar()
    return id(connection.connection.dbapi_connection), int(moved or 0)


def known_hashes(session: Session, hashes: Iterable[str]) -> set[str]:
    """Those of ``hashes`` a stored notice has."""
    found: set[str] = set()
    for chunk in _chunks(sorted(set(hashes))):
        statement = sa.select(col(Notice.content_hash)).where(col(Notice.content_hash).in_(chunk))
        found.update(session.connection().execute(statement).scalars())
    return found


def rules_by_key(session: Session, keys: Iterable[str]) -> dict[str, RuleRow]:
    """The stored rules of ``keys``, by key."""
    found: dict[str, RuleRow] = {}
    table = _table(Rule)
    for chunk in _chunks(sorted(set(keys))):
        statement = sa.select(table.c.id, table.c.key, table.c.name, table.c.platform).where(
            table.c.key.in_(chunk)
        )
        for id_, key, name, platform in session.connection().execute(statement):
            found[key] = RuleRow(key=key, name=name, platform=platform, id=id_)
    return found


def _change(values: Any, rule: RuleRow) -> ChangeRow:
    return ChangeRow(
        id=values.id,
        uid=values.uid,
        rule=rule,
        platform=values.platform,
        kind=values.kind,
        title=None,
        summary=None,
        announced_on=values.announced_on,
        effective_on=values.effective_on,
        effective_at=values.effective_at,
        tentative=values.tentative,
        status=values.status,
        revision=values.revision,
        postponed_from=values.postponed_from,
        dated_by=values.dated_by,
        merged_into_id=values.merged_into_id,
        created_at=None,
        updated_at=None,
    )


# What placing needs of a stored change: not its title, summary or times.
_READ = ("id", "uid", "rule_id", "platform", "kind", "status", "merged_into_id", *UPDATED[:-1])


def _changes_where(session: Session, condition: Any, *, lock: bool = False) -> list[Any]:
    table = _table(RuleChange)
    statement = sa.select(*(table.c[name] for name in _READ)).where(condition)
    if lock and session.get_bind().dialect.name == "postgresql":
        # Held to the commit: a correction of one of them meanwhile waits, and is not lost.
        statement = statement.with_for_update()
    return list(session.connection().execute(statement.order_by(table.c.id)))


def changes_of_rules(session: Session, rules: Sequence[RuleRow]) -> list[ChangeRow]:
    """The changes of ``rules``, oldest first, with the publish times of their notices;
    locked until the transaction ends on PostgreSQL."""
    by_id = {rule.id: rule for rule in rules if rule.id is not None}
    found: dict[int, ChangeRow] = {}
    for chunk in _chunks(list(by_id)):
        for values in _changes_where(session, col(RuleChange.rule_id).in_(chunk), lock=True):
            found[values.id] = _change(values, by_id[values.rule_id])
    for chunk_ids in _chunks(list(found)):
        statement = (
            sa.select(col(ChangeNotice.change_id), col(Notice.published_at))
            .join(Notice, col(Notice.id) == col(ChangeNotice.notice_id))
            .where(col(ChangeNotice.change_id).in_(chunk_ids))
        )
        for change_id, published_at in session.connection().execute(statement):
            found[change_id].published.append(published_at)
    return sorted(found.values(), key=lambda change: change.id or 0)


def changes_by(
    session: Session, *, uids: Sequence[str] = (), ids: Sequence[int] = ()
) -> list[ChangeRow]:
    """The stored changes of ``uids`` or ``ids`` with their rules (without the publish times
    of their notices: only a rule's own changes need those, see :func:`changes_of_rules`)."""
    rows: list[Any] = []
    for chunk in _chunks(list(uids)):
        rows += _changes_where(session, col(RuleChange.uid).in_(chunk))
    for chunk_ids in _chunks(list(ids)):
        rows += _changes_where(session, col(RuleChange.id).in_(chunk_ids))
    rule_ids = sorted({row.rule_id for row in rows})
    rules: dict[int, RuleRow] = {}
    table = _table(Rule)
    for chunk_ids in _chunks(rule_ids):
        statement = sa.select(table.c.id, table.c.key, table.c.name, table.c.platform).where(
            table.c.id.in_(chunk_ids)
        )
        for id_, key, name, platform in session.connection().execute(statement):
            rules[id_] = RuleRow(key=key, name=name, platform=platform, id=id_)
    return [_change(row, rules[row.rule_id]) for row in rows]


def _inserted(session: Session, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` with executemany; their ids, in their order."""
    if not rows:
        return []
    table = _table(model)
    statement = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(session.connection().execute(statement, rows).scalars())


@dataclass
class Writes:
    """What a batch stores: rows in the order they were made."""

    rules: list[RuleRow] = field(default_factory=list)
    notices: list[NoticeRow] = field(default_factory=list)
    changes: list[ChangeRow] = field(default_factory=list)  # new ones
    updated: dict[int, ChangeRow] = field(default_factory=dict)  # stored ones, by id
    links: dict[tuple[int, int], tuple[ChangeRow, NoticeRow]] = field(default_factory=dict)

    def link(self, change: ChangeRow, notice: NoticeRow) -> None:
        self.links.setdefault((id(change), id(notice)), (change, notice))


def write(session: Session, writes: Writes) -> None:
    """Insert the batch's rules, notices, changes and links and update its stored changes."""
    rule_rows = [
        {"key": r.key, "name": r.name, "platform": r.platform, "created_at": r.created_at}
        for r in writes.rules
    ]
    for rule, rule_id in zip(writes.rules, _inserted(session, Rule, rule_rows), strict=True):
        rule.id = rule_id
    notice_rows = [
        {
            "content_hash": n.content_hash,
            "title": n.title,
            "text": n.text,
            "published_at": n.published_at,
            "url": n.url,
            "origin": n.origin,
            "problem": n.problem,
            "created_at": n.created_at,
        }
        for n in writes.notices
    ]
    for notice, notice_id in zip(
        writes.notices, _inserted(session, Notice, notice_rows), strict=True
    ):
        notice.id = notice_id
    change_rows = [
        {"uid": c.uid, "rule_id": c.rule.id, "platform": c.platform, "status": c.status}
        | {"merged_into_id": c.merged_into_id, "created_at": c.created_at}
        | {"title": c.title, "summary": c.summary}
        | {name: getattr(c, name) for name in UPDATED}
        for c in writes.changes
    ]
    for change, change_id in zip(
        writes.changes, _inserted(session, RuleChange, change_rows), strict=True
    ):
        change.id = change_id
    retitled = [c for c in writes.updated.values() if c.title is not None]
    kept = [c for c in writes.updated.values() if c.title is None]
    for changes, columns in ((retitled, (*UPDATED, "title", "summary")), (kept, UPDATED)):
        if not changes:
            continue
        table = _table(RuleChange)
        statement = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("changed_id"))
            .values({name: sa.bindparam(name) for name in columns})
        )
        session.connection().execute(
            statement,
            [
                {"changed_id": change.id} | {name: getattr(change, name) for name in columns}
                for change in changes
            ],
        )
    if writes.links:
        session.connection().execute(
            sa.insert(_table(ChangeNotice)),
            [{"change_id": c.id, "notice_id": n.id} for c, n in writes.links.values()],
        )


@dataclass(frozen=True)
class Described:
    """What a change's search document is made of: its rule's key and name, its title and
    summary, and the titles and texts of its notices in order of publication."""

    key: str
    name: str
    title: str
    summary: str
    notices: list[Source]


@dataclass(frozen=True)
class Source:
    title: str
    text: str


def described(session: Session, ids: Sequence[int]) -> dict[int, Described]:
    """What the search documents of the changes ``ids`` are made of, as stored now."""
    found: dict[int, Described] = {}
    changes, rules = _table(RuleChange), _table(Rule)
    for chunk in _chunks(sorted(set(ids))):
        statement = (
            sa.select(changes.c.id, rules.c.key, rules.c.name, changes.c.title, changes.c.summary)
            .join(rules, rules.c.id == changes.c.rule_id)
            .where(changes.c.id.in_(chunk))
        )
        for id_, key, name, title, summary in session.connection().execute(statement):
            found[id_] = Described(key, name, title, summary, [])
        # In the order queries.notices_of_change gives them.
        sources = (
            sa.select(col(ChangeNotice.change_id), col(Notice.title), col(Notice.text))
            .join(Notice, col(Notice.id) == col(ChangeNotice.notice_id))
            .where(col(ChangeNotice.change_id).in_(chunk))
            .order_by(col(Notice.published_at), col(Notice.id))
        )
        for change_id, title, text in session.connection().execute(sources):
            found[change_id].notices.append(Source(title, text))
    return found


def save_documents(
    session: Session, documents: Sequence[tuple[int, str]], *, fresh: Collection[int] = ()
) -> None:
    """Keep each (change id, folded document) as what a search of the change looks in
    (``fresh``: the ids of changes just added, which had none)."""
    search_index.save_documents(session, documents, fresh=fresh)
