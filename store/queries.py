"""Reads and writes of the timeline tables. Every function takes the session explicitly.

All writes to these tables go through here; callers never call ``session.add`` themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, or_, true
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from store import search as search_index
from store.models import (
    ChangeNotice,
    ChangeStatus,
    HandledMark,
    Notice,
    Rule,
    RuleChange,
    StoredWatch,
    utcnow,
)


@dataclass(frozen=True)
class ChangeFields:
    """The stored fields of a change, as the timeline decided them."""

    uid: str
    kind: str
    announced_on: date | None
    effective_on: date | None
    effective_at: time | None
    tentative: bool
    revision: int
    postponed_from: date | None
    dated_by: datetime | None


def find_notice(session: Session, *, content_hash: str) -> Notice | None:
    return session.exec(select(Notice).where(Notice.content_hash == content_hash)).first()


def add_notice(
    session: Session,
    *,
    content_hash: str,
    title: str,
    text: str,
    published_at: datetime | None,
    url: str | None,
    origin: str,
    problem: str | None = None,
) -> Notice:
    notice = Notice(
        content_hash=content_hash,
        title=title[:500],
        text=text,
        published_at=published_at,
        url=url[:2000] if url else url,
        origin=origin[:200],
        problem=problem,
        created_at=utcnow(),
    )
    session.add(notice)
    session.flush()
    return notice


# The lengths of the columns: PostgreSQL refuses longer values (SQLite would keep them).
KEY_LENGTH, PLATFORM_LENGTH = 200, 40


def get_or_add_rule(session: Session, *, key: str, name: str, platform: str | None) -> Rule:
    """The rule stored under ``key``, added if new. Names longer than a column (never a
    real rule's) are cut to fit, the same way for every notice, so they still join."""
    key, name, platform = fitted_rule(key, name, platform)
    rule = session.exec(select(Rule).where(Rule.key == key)).first()
    if rule is None:
        rule = Rule(key=key, name=name, platform=platform, created_at=utcnow())
        session.add(rule)
        session.flush()
    return rule


def fitted_rule(key: str, name: str, platform: str | None) -> tuple[str, str, str | None]:
    """A rule's key, name and platform cut to their columns (see :func:`get_or_add_rule`)."""
    return key[:KEY_LENGTH], name[:KEY_LENGTH], platform[:PLATFORM_LENGTH] if platform else platform


def changes_of_rule(session: Session, *, rule_id: int) -> list[tuple[RuleChange, list[Notice]]]:
    """The rule's changes, each with the notices it was read from, oldest first."""
    changes = session.exec(
        select(RuleChange).where(RuleChange.rule_id == rule_id).order_by(col(RuleChange.id))
    ).all()
    notices = notices_of_changes(session, change_ids=[_id(change) for change in changes])
    return [(change, notices[_id(change)]) for change in changes]


def notices_of_change(session: Session, *, change_id: int) -> list[Notice]:
    statement = (
        select(Notice)
        .join(ChangeNotice, col(ChangeNotice.notice_id) == col(Notice.id))
        .where(ChangeNotice.change_id == change_id)
        .order_by(col(Notice.published_at), col(Notice.id))
    )
    return list(session.exec(statement).all())


def save_change(
    session: Session,
    *,
    rule: Rule,
    fields: ChangeFields,
    title: str,
    summary: str,
    notice: Notice,
) -> RuleChange:
    """Insert the change or update the one with the same uid, and link it to ``notice``."""
    change = session.exec(select(RuleChange).where(RuleChange.uid == fields.uid)).first()
    now = utcnow()
    if change is None:
        change = RuleChange(
            uid=fields.uid,
            rule_id=_id(rule),
            platform=rule.platform,
            title=title[:500],
            summary=summary,
            created_at=now,
            updated_at=now,
            kind=fields.kind,
        )
    if change.id is None:
        _set(change, fields)
    else:
        apply_fields(change, fields, title=title, summary=summary, notice=notice, now=now)
    session.add(change)
    session.flush()
    link = session.get(ChangeNotice, (change.id, notice.id))
    if link is None:
        session.add(ChangeNotice(change_id=_id(change), notice_id=_id(notice)))
        session.flush()
    return change


def apply_fields(
    change: Any, fields: ChangeFields, *, title: str, summary: str, notice: Any, now: datetime
) -> bool:
    """Set ``fields`` on a stored ``change`` (a row or a batch's record of one) as
    ``notice`` gives them: a change whose fields move is updated now, and takes the title
    and summary of the notice that now dates it, which describes it best. Whether any
    field moved."""
    values = _values(fields)
    moved = any(getattr(change, key) != value for key, value in values.items())
    if moved:
        change.updated_at = now
        if fields.dated_by == notice.published_at:
            change.title, change.summary = title[:500], summary
    _set(change, fields)
    return moved


def _values(fields: ChangeFields) -> dict[str, Any]:
    return {
        "kind": fields.kind,
        "announced_on": fields.announced_on,
        "effective_on": fields.effective_on,
        "effective_at": fields.effective_at,
        "tentative": fields.tentative,
        "revision": fields.revision,
        "postponed_from": fields.postponed_from,
        "dated_by": fields.dated_by,
    }


def _set(change: Any, fields: ChangeFields) -> None:
    for key, value in _values(fields).items():
        setattr(change, key, value)


def save_search_document(session: Session, *, change: RuleChange, document: str) -> None:
    """Keep ``document`` (folded by the caller) as what a search of the change looks in."""
    search_index.save_document(session, change_id=_id(change), document=document)


def get_change(session: Session, *, uid: str, lock: bool = False) -> tuple[RuleChange, Rule] | None:
    """The change with this uid and its rule, or None; with ``lock``, the change's row is
    locked until the transaction ends (PostgreSQL; SQLite has one writer at a time)."""
    statement = (
        select(RuleChange, Rule)
        .join(Rule, col(Rule.id) == col(RuleChange.rule_id))
        .where(RuleChange.uid == uid)
    )
    if lock:
        statement = statement.with_for_update(of=RuleChange)
    row = session.exec(statement).first()
    return (row[0], row[1]) if row else None


def withdraw_change(session: Session, *, uid: str, now: datetime) -> RuleChange | None:
    """Mark the change withdrawn (it leaves the feed; pending reminders are cancelled by the
    planner). Returns None when no change has that uid; withdrawing twice changes nothing."""
    change = session.exec(select(RuleChange).where(RuleChange.uid == uid)).first()
    if change is None or change.status == ChangeStatus.WITHDRAWN:
        return change
    change.status = ChangeStatus.WITHDRAWN
    change.revision += 1
    change.updated_at = now
    session.add(change)
    session.flush()
    return change


def update_change(
    session: Session, change: RuleChange, values: dict[str, Any], *, now: datetime
) -> RuleChange:
    """Set the given columns of ``change`` (a correction decided them) and its update time."""
    for key, value in values.items():
        setattr(change, key, value)
    change.updated_at = now
    session.add(change)
    session.flush()
    return change


def link_notices(session: Session, *, from_change: int, to_change: int) -> int:
    """Link every notice of one change to another as well; how many were new to it."""
    have = set(
        session.exec(select(ChangeNotice.notice_id).where(ChangeNotice.change_id == to_change))
    )
    moved = 0
    for notice_id in session.exec(
        select(ChangeNotice.notice_id).where(ChangeNotice.change_id == from_change)
    ):
        if notice_id not in have:
            session.add(ChangeNotice(change_id=to_change, notice_id=notice_id))
            moved += 1
    session.flush()
    return moved


def add_source(session: Session, *, change: RuleChange, notice: Notice) -> None:
    """Link ``notice`` to ``change`` as one more of its sources (the feed shows it)."""
    if session.get(ChangeNotice, (_id(change), _id(notice))) is None:
        session.add(ChangeNotice(change_id=_id(change), notice_id=_id(notice)))
        session.flush()


def merged_target(session: Session, *, uid: str) -> RuleChange | None:
    """The change that the merged change ``uid`` went into (followed through later merges),
    or None when ``uid`` was not merged."""
    change = session.exec(select(RuleChange).where(RuleChange.uid == uid)).first()
    target = None
    for _ in range(100):  # a chain of merges, never a loop: merging refuses merged changes
        if change is None or change.status != ChangeStatus.MERGED or not change.merged_into_id:
            break
        target = change = session.get(RuleChange, change.merged_into_id)
    return target


def unlink_notice(session: Session, *, change_id: int, notice_id: int) -> bool:
    """Remove the link between a change and one of its notices; False when there was none."""
    link = session.get(ChangeNotice, (change_id, notice_id))
    if link is None:
        return False
    session.delete(link)
    session.flush()
    return True


def list_changes(
    session: Session,
    *,
    effective_from: date | None = None,
    rule: str | None = None,
    platform: str | None = None,
    uid: str | None = None,
    search: Sequence[str] = (),
    include_withdrawn: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[tuple[RuleChange, Rule]]:
    """Changes with their rule, ordered by effective date (undated last), then announcement.

    ``rule`` matches a part of the rule's key or name; ``platform`` matches the stored
    (canonical) name exactly: the faces call this through ``alerts.timeline.views.select_changes``,
    which turns any spelling into that name and folds the ``search`` terms: a change is kept
    when its search document (store/search.py) holds every one of them. Only active changes
    are listed unless ``include_withdrawn`` (then every status: what the feed must know has
    left it); a change asked for by ``uid`` is returned whatever its status.
    """
    statement = _filtered(
        select(RuleChange, Rule),
        effective_from=effective_from,
        rule=rule,
        platform=platform,
        uid=uid,
        found=_searched(session, search),
        include_withdrawn=include_withdrawn or uid is not None,
    )
    statement = _in_timeline_order(statement).offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    return [(change, rule_row) for change, rule_row in session.exec(statement).all()]


class FeedRow(NamedTuple):
    """What the feed needs of each of thousands of changes, as plain values:
    a tuple, compared and read at C speed where an SQLAlchemy row reads each field by name
    in 0.3–0.6 µs."""

    id: int
    uid: str
    title: str
    summary: str
    announced_on: date | None
    effective_on: date | None
    effective_at: time | None
    tentative: bool
    revision: int
    postponed_from: date | None
    updated_at: datetime
    status: str
    rule_key: str
    rule_name: str
    rule_platform: str | None


# The columns of a FeedRow, in its order: the change's own under their names, the rule's
# labelled as the fields that hold them.
_RULE_FIELDS = {"rule_key": Rule.key, "rule_name": Rule.name, "rule_platform": Rule.platform}
CHANGE_ROW: tuple[Any, ...] = tuple(
    col(_RULE_FIELDS[name]).label(name) if name in _RULE_FIELDS else col(getattr(RuleChange, name))
    for name in FeedRow._fields
)


def list_change_rows(
    session: Session,
    *,
    rule: str | None = None,
    platform: str | None = None,
    search: Sequence[str] = (),
    include_withdrawn: bool = False,
) -> list[FeedRow]:
    """:func:`list_changes`'s selection and order as :class:`FeedRow` values: no ORM
    object is made, which is most of the cost of reading thousands (the feed)."""
    statement = _filtered(
        sql_select(*CHANGE_ROW),
        effective_from=None,
        rule=rule,
        platform=platform,
        uid=None,
        found=_searched(session, search),
        include_withdrawn=include_withdrawn,
    )
    # all(): a fetchall, where iterating the result would fetch the rows one by one.
    rows = session.connection().execute(_in_timeline_order(statement)).all()
    return [FeedRow._make(row) for row in rows]


def _in_timeline_order(statement: Any) -> Any:
    """By effective date (undated last), then announcement."""
    return statement.order_by(
        col(RuleChange.effective_on).is_(None),
        col(RuleChange.effective_on),
        col(RuleChange.announced_on),
        col(RuleChange.id),
    )


def count_changes(
    session: Session,
    *,
    effective_from: date | None = None,
    rule: str | None = None,
    platform: str | None = None,
    search: Sequence[str] = (),
    include_withdrawn: bool = False,
) -> int:
    """How many changes :func:`list_changes` selects with the same filters, all pages."""
    statement = _filtered(
        select(func.count(col(RuleChange.id))),
        effective_from=effective_from,
        rule=rule,
        platform=platform,
        uid=None,
        found=_searched(session, search),
        include_withdrawn=include_withdrawn,
    )
    return int(session.exec(statement).one())


def _filtered(
    statement: Any,
    *,
    effective_from: date | None,
    rule: str | None,
    platform: str | None,
    uid: str | None,
    found: Any,
    include_withdrawn: bool,
) -> Any:
    statement = statement.select_from(RuleChange).join(
        Rule, col(Rule.id) == col(RuleChange.rule_id)
    )
    if effective_from is not None:
        statement = statement.where(col(RuleChange.effective_on) >= effective_from)
    if rule:
        pattern = f"%{rule}%"
        statement = statement.where(or_(col(Rule.key).like(pattern), col(Rule.name).like(pattern)))
    if platform:
        statement = statement.where(Rule.platform == platform)
    if uid is not None:
        statement = statement.where(RuleChange.uid == uid)
    if found is not None:
        statement = statement.where(found)
    if not include_withdrawn:
        # Written into the statement: bound, PostgreSQL's generic plan for a statement run
        # again and again misjudges how many changes are active, and walks every change
        # against the search's matches (44 ms instead of 3 on 10,000; bench/README.md).
        active: Any = bindparam(None, ChangeStatus.ACTIVE.value, literal_execute=True)
        statement = statement.where(col(RuleChange.status) == active)
    return statement


def _searched(session: Session, search: Sequence[str]) -> Any:
    return search_index.matching(session, search, col(RuleChange.id)) if search else None


def list_rules(session: Session) -> list[tuple[Rule, int]]:
    """Every rule with the number of its changes, by platform and key."""
    count = func.count(col(RuleChange.id))
    statement = (
        select(Rule, count)
        .join(RuleChange, col(RuleChange.rule_id) == col(Rule.id), isouter=True)
        .group_by(col(Rule.id))
        .order_by(col(Rule.platform), col(Rule.key))
    )
    return [(rule, int(n)) for rule, n in session.exec(statement).all()]


def notices_of_changes(session: Session, *, change_ids: Sequence[int]) -> dict[int, list[Notice]]:
    """The notices of several changes in one query, keyed by change id."""
    if not change_ids:
        return {}
    statement = (
        select(ChangeNotice.change_id, Notice)
        .join(Notice, col(Notice.id) == col(ChangeNotice.notice_id))
        .where(col(ChangeNotice.change_id).in_(change_ids))
        .order_by(col(Notice.published_at), col(Notice.id))
    )
    found: dict[int, list[Notice]] = {change_id: [] for change_id in change_ids}
    for change_id, notice in session.exec(statement).all():
        found[change_id].append(notice)
    return found


def _id(row: Rule | RuleChange | Notice) -> int:
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has no id: flush it before linking")
    return row.id


@dataclass(frozen=True)
class DataVersion:
    """A fingerprint of everything the calendar feed is made of, read in one cheap query.

    Any write the feed can show moves it: a change added (count), moved, retitled or
    withdrawn (revision total, newest update), a source linked (link count), a watch added
    or removed through the API (count, id total, newest creation), a change marked handled,
    marked again or unmarked (count, id total, newest mark: the feed's ✓).
    """

    changes: int
    revisions: int
    changes_updated_at: datetime | None
    links: int
    watches: int
    watch_ids: int
    watches_created_at: datetime | None
    handled: int = 0
    handled_ids: int = 0
    handled_at: datetime | None = None


def data_version(session: Session) -> DataVersion:
    """The store's :class:`DataVersion`: aggregates only, no row is sent back."""
    # One pass over each table, whatever its size: the single-row aggregates joined.
    changes = select(
        func.count(col(RuleChange.id)).label("n"),
        func.coalesce(func.sum(col(RuleChange.revision)), 0).label("revisions"),
        func.max(col(RuleChange.updated_at)).label("updated_at"),
    ).subquery()
    links = select(func.count(col(ChangeNotice.notice_id)).label("n")).subquery()
    watches = select(
        func.count(col(StoredWatch.id)).label("n"),
        func.coalesce(func.sum(col(StoredWatch.id)), 0).label("ids"),
        func.max(col(StoredWatch.created_at)).label("created_at"),
    ).subquery()
    handled = select(
        func.count(col(HandledMark.id)).label("n"),
        func.coalesce(func.sum(col(HandledMark.id)), 0).label("ids"),
        func.max(col(HandledMark.at)).label("at"),
    ).subquery()
    statement = (
        sql_select(  # sqlmodel's select is typed for at most four columns
            changes.c.n,
            changes.c.revisions,
            changes.c.updated_at,
            links.c.n,
            watches.c.n,
            watches.c.ids,
            watches.c.created_at,
            handled.c.n,
            handled.c.ids,
            handled.c.at,
        )
        .select_from(changes)
        .join(links, true())
        .join(watches, true())
        .join(handled, true())
    )
    row = session.connection().execute(statement).one()
    return DataVersion(
        changes=int(row[0]),
        revisions=int(row[1]),
        changes_updated_at=_aware(row[2]),
        links=int(row[3]),
        watches=int(row[4]),
        watch_ids=int(row[5]),
        watches_created_at=_aware(row[6]),
        handled=int(row[7]),
        handled_ids=int(row[8]),
        handled_at=_aware(row[9]),
    )


@dataclass(frozen=True)
class SourceRow:
    """A change's source notice as a message or the feed cites it, and when it was stored."""

    title: str
    url: str | None
    published_at: datetime | None
    created_at: datetime
    notice_id: int = field(default=0, compare=False)  # which notice (the feed's rebuild)


def of_changes(statement: Any, column: Any, change_ids: Sequence[int]) -> list[Any]:
    """``statement`` restricted to the rows whose ``column`` is one of ``change_ids``: a
    statement per thousand ids, far below every backend's parameter limit; for more than two
    thousand (a whole feed), ``statement`` itself, one pass over every row, which costs less
    than many IN lists: the caller keeps the rows of the ids it asked for."""
    ids = list(change_ids)
    batches = [ids[start : start + 1000] for start in range(0, len(ids), 1000)]
    if len(batches) > 2:
        return [statement]
    return [statement.where(column.in_(batch)) for batch in batches]


def sources_of_changes(
    session: Session, *, change_ids: Sequence[int]
) -> dict[int, list[SourceRow]]:
    """Title, URL, publish and storage time of each change's notices, oldest publication
    first, without their (long) texts: what messages and the feed cite."""
    found: dict[int, list[SourceRow]] = {change_id: [] for change_id in change_ids}
    statement = (
        sql_select(
            col(ChangeNotice.change_id),
            col(Notice.title),
            col(Notice.url),
            col(Notice.published_at),
            col(Notice.created_at),
            col(Notice.id),
        )
        .join(Notice, col(Notice.id) == col(ChangeNotice.notice_id))
        .order_by(col(Notice.published_at), col(Notice.id))
    )
    for each in of_changes(statement, col(ChangeNotice.change_id), change_ids):
        rows = session.connection().execute(each).all()
        for change_id, title, url, published_at, created_at, notice_id in rows:
            wanted = found.get(change_id)
            if wanted is not None:
                wanted.append(SourceRow(title, url, published_at, created_at, notice_id))
    return found


_change_id = itemgetter(0)


def links_of_changes(session: Session, *, change_ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
    """The ids of each change's notices, ascending: which sources it has, without reading
    them. Notices are never changed or deleted once stored, so the same ids are the same
    sources (the feed reads again only those of a change whose links differ)."""
    found: dict[int, tuple[int, ...]] = dict.fromkeys(change_ids, ())
    statement = sql_select(col(ChangeNotice.change_id), col(ChangeNotice.notice_id)).order_by(
        col(ChangeNotice.change_id), col(ChangeNotice.notice_id)
    )
    for each in of_changes(statement, col(ChangeNotice.change_id), change_ids):
        # Tuples straight from the ordered rows: no list per change for the collector to
        # follow (a whole feed reads 10,000 of them).
        for change_id, links in groupby(session.connection().execute(each).all(), _change_id):
            if change_id in found:
                found[change_id] = tuple(notice_id for _, notice_id in links)
    return found


def _aware(value: object) -> datetime | None:
    # A max() over an aware column comes back as the driver gives it: a naive UTC datetime
    # on SQLite (sometimes as text), an aware one on PostgreSQL.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {value!r}")
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
