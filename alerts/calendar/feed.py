"""The calendar feed from the store: which changes it holds, built and cached.

:func:`build_feed` selects the changes (those a watch covers, unless ``all``), marks those
handled for the feed's watches (:func:`_handled`), renders them
with alerts/calendar/render.py and caches the result per data version and filters;
`rulewatch ics` calls it; the routes of alerts/web/feed.py go through :class:`Feeds`,
which answers an unchanged feed from memory: no session, no query, a dictionary look-up;
and keeps its feeds in the store when the service stops, for the next start to serve.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import tempfile
import time
import zoneinfo
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Engine
from sqlmodel import Session

from alerts.calendar.render import (
    EVENT_FORMAT,
    Alarms,
    CalendarChange,
    CalendarInfo,
    EventCache,
    EventKind,
    Feed,
    FeedCache,
    Source,
    calendar_of,
    event_blocks,
)
from alerts.config import Settings, Watch
from alerts.errors import RulewatchError
from alerts.timeline.handled import Mark, handled_by_all, mark_of, marked_for
from alerts.timeline.views import select_change_rows
from alerts.watches import ChangeFacts, covering, current_watches, tags_of
from store import handled, queries
from store.commits import commits
from store.db import session_scope
from store.errors import StoreError
from store.events import StoredEvents, StoredFeeds
from store.models import ChangeStatus

log = logging.getLogger(__name__)

MEDIA_TYPE = "text/calendar; charset=utf-8"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # Last-Modified of a feed that never had anything
# Seconds within which a feed shows a write made by another process (another instance,
# `rulewatch import`); this process's own writes show at once.
VERSION_BOUND = 1.0


@dataclass(frozen=True)
class FeedQuery:
    """Which events a feed holds. Hashable: it is part of the feed cache's key."""

    platform: str | None = None
    rule: str | None = None  # part of the rule's key or name
    tag: str | None = None  # a tag of a watch that covers the change
    watch: str | None = None  # the name of a watch that covers the change
    kind: EventKind | None = None  # None: both 公示 and 生效
    all: bool = False  # False: only changes some watch covers
    alarms: Alarms = ()
    q: str | None = None  # the search: words the change must all hold

    @property
    def kinds(self) -> frozenset[EventKind]:
        return frozenset(EventKind) if self.kind is None else frozenset({self.kind})


def calendar_info(settings: Settings) -> CalendarInfo:
    """``[calendar]`` and ``[service]`` as the calendar's own properties."""
    return CalendarInfo(
        name=settings.calendar.name,
        description=settings.calendar.description,
        timezone=settings.service.timezone,
        refresh=settings.calendar.refresh,
        base_url=settings.service.base_url,
    )


def build_feed(
    session: Session, settings: Settings, query: FeedQuery, *, cache: FeedCache | None = None
) -> Feed:
    """The feed for ``query``: from ``cache`` when the store has not changed since it was
    built, else built again, serializing only the events the cache does not hold.

    A ``watch`` no watch is called, or a ``tag`` no watch has, gives an empty calendar (the
    answer a subscriber's app handles best when a watch is removed).
    """
    cache = cache if cache is not None else FeedCache()
    version = queries.data_version(session)
    return cache.get(
        version, query, lambda events: _built(session, settings, query, version, events, None)
    )


def _built(
    session: Session,
    settings: Settings,
    query: FeedQuery,
    version: queries.DataVersion,
    events: EventCache,
    made: MadeByQuery | None,
) -> tuple[bytes, datetime]:
    """The body of the feed for ``query`` and the instant of its newest content; ``made``
    keeps what each build made of the rows, for the next (:class:`Made`)."""
    info = calendar_info(settings)
    shown, items, newest, now_made = _select(
        session, settings, query, info, made.get(query) if made is not None else None
    )
    if version.watches_created_at:  # watches decide what is in and the CATEGORIES
        newest = max(newest, version.watches_created_at)
    unmade = [i for i, entry in enumerate(shown) if entry.blocks is None]
    fresh = dict(
        zip(
            unmade, event_blocks([items[i] for i in unmade], info, query.kinds, events), strict=True
        )
    )
    for i, its in fresh.items():
        now_made.changes[shown[i].values.id] = shown[i]._replace(blocks=its)
    events.reused(sum(len(entry.blocks) for entry in shown if entry.blocks is not None))
    if made is not None:
        made.put(query, now_made)
    blocks = [fresh[i] if e.blocks is None else e.blocks for i, e in enumerate(shown)]
    body = calendar_of(items, info, query.kinds, blocks, alarms=query.alarms, cache=events)
    return body, newest


class Feeds:
    """The feeds of one store as a service serves them: :meth:`cached` answers an unchanged
    feed from memory, with no session and no query, and :meth:`get` (blocking) reads the
    store's data version and builds what is not cached.

    The data version is read again once this process has committed on the engine since
    the last read (store/commits.py), or once that read is ``bound`` seconds old: another
    process's write shows within ``bound``, this process's own at once. Serialized events
    are kept in the store (store/events.py), so a restart serializes only what changed.
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        bound: float = VERSION_BOUND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.cache = FeedCache(store=StoredEvents(engine))
        self._kept = StoredFeeds(engine)
        # What a kept feed's key holds besides the data version and the filters, taken now:
        # the code of this process (not the files as they may be by the time it stops),
        # and exactly what a build reads of the settings (their repr masks URL parts).
        self._made_by = (
            _code(),
            calendar_info(settings),
            tuple(watch.model_dump_json() for watch in settings.watches),
            _zone_data(settings.service.timezone),
        )
        self._made = MadeByQuery()
        self.bound = bound
        self._clock = clock
        # The last version read, the commit count before that read, and when it began.
        self._known: tuple[queries.DataVersion, int, float] | None = None

    def cached(self, query: FeedQuery) -> Feed | None:
        """The feed for ``query`` if it is built for the version known to be current."""
        known = self._known
        if known is None:
            return None
        version, count, read_at = known
        if commits(self.engine) != count or self._clock() - read_at >= self.bound:
            return None
        return self.cache.peek(version, query)

    def get(self, query: FeedQuery) -> Feed:
        """The feed for ``query`` at the store's current version, built if need be."""
        # Both taken before the read: a commit or another process's write that lands
        # during it makes the next request read again.
        count, read_at = commits(self.engine), self._clock()
        with session_scope(self.engine, commit_at_end=False) as session:
            version = queries.data_version(session)
        known = self._known
        if known is None or (known[1], known[2]) <= (count, read_at):
            self._known = (version, count, read_at)

        # Only the one build holds a connection: requests waiting for it hold none, so that
        # polls arriving together after a change cannot take the pool from the build.
        def build(events: EventCache) -> tuple[bytes, datetime]:
            # The first build of a query in this process: the one a kept feed can spare.
            first = self._made.get(query) is None
            kept = self._kept.load(self._key(version, query)) if first else None
            if kept is not None:  # as the last service left it, with nothing changed since
                self._made.put(query, Made())  # asked once; the next build is a real one
                return kept
            with session_scope(self.engine, commit_at_end=False) as session:
                return _built(session, self.settings, query, version, events, self._made)

        return self.cache.get(version, query, build)

    def keep(self) -> int:
        """Keep the feeds held now that were built at the store's current data version, in
        the store, for the next start to serve without building them (`serve` calls it as
        it stops); how many were kept. Holding none, it leaves the kept ones as they are."""
        try:
            with session_scope(self.engine, commit_at_end=False) as session:
                current = queries.data_version(session)
        except StoreError as exc:
            log.warning("no calendar feed kept: %s", exc)
            return 0
        feeds = [
            (self._key(version, query), feed.body, feed.last_modified)
            for version, query, feed in self.cache.current()
            if version == current  # an older one may even come back as current, and be wrong
        ]
        return len(feeds) if feeds and self._kept.replace(feeds) else 0

    def _key(self, version: Hashable, query: Hashable) -> str:
        """A kept feed's key: a digest of all it is built from but the rows themselves."""
        made_of = repr((self._made_by, version, query))
        return hashlib.sha256(made_of.encode("utf-8", "surrogatepass")).hexdigest()


@cache
def _code() -> str:
    """A digest of the code that builds a feed (every module of the alerts and store
    packages, and icalendar's version): a feed kept by one release is not served by another."""
    import alerts
    import store

    digest = hashlib.sha256(EVENT_FORMAT.encode())
    try:
        for package in (alerts, store):
            root = Path(package.__file__ or "").parent
            for path in sorted(root.rglob("*.py")):
                digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    except OSError:  # no sources beside the modules: no kept feed is served
        digest.update(secrets.token_bytes(16))
    return digest.hexdigest()


def _zone_data(name: str) -> bytes:
    """The time zone database's file of zone ``name`` (its VTIMEZONE is written from it), as
    zoneinfo finds it: the system's, else the tzdata package's; random bytes when neither
    is found, so that no kept feed is served."""
    for root in zoneinfo.TZPATH:
        path = Path(root) / name
        if path.is_file():
            return path.read_bytes()
    try:
        return resources.files("tzdata.zoneinfo").joinpath(*name.split("/")).read_bytes()
    except (ImportError, OSError, ValueError):
        return secrets.token_bytes(16)


def write_feed(path: Path, body: bytes) -> None:
    """Write ``body`` to ``path`` whole or not at all: a web server never serves half a file.

    Raises RulewatchError when the file cannot be written (no such folder, no permission).
    """
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise RulewatchError(f"cannot write {path}: {exc}") from exc
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(body)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise RulewatchError(f"cannot write {path}: {exc}") from exc
        raise


class _Entry(NamedTuple):
    """What a build made of one change row; each is made anew when anything in it differs,
    so a build that fails half-way leaves the last one's intact."""

    values: queries.FeedRow  # the row as read
    covering: list[Watch] | None  # None: the query leaves the change out
    # The notices its sources were read from: read with them, so that a link another
    # writer moves between the read of the links and of the sources shows as a difference.
    notices: tuple[int, ...] | None = None
    sources: tuple[queries.SourceRow, ...] = ()
    marks: tuple[Mark, ...] = ()
    item: CalendarChange | None = None  # None for a change that is not active
    # Its events, as the feed of the query shows them without alarms: the event cache's
    # own bytes, so that the feeds of several queries hold them once.
    blocks: tuple[bytes, ...] | None = None
    latest: datetime = EPOCH  # the newest instant of the row, its sources and marks


@dataclass
class Made:
    """What a build of one query made of each change row, by change id, kept for its next
    build: after one change moved, every row and every link is read again (the row as a
    tuple, the link as two ids), but only that change is worked out once more and only its
    sources are read. ``watches`` fingerprints the watches it was made with (other watches,
    other coverage) and ``info`` the calendar's (other blocks)."""

    watches: tuple[str, ...] = ()
    info: CalendarInfo | None = None
    changes: dict[int, _Entry] = field(default_factory=dict)


class MadeByQuery:
    """:class:`Made` of the queries built last, the least recently built forgotten first."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._made: OrderedDict[FeedQuery, Made] = OrderedDict()

    def get(self, query: FeedQuery) -> Made | None:
        return self._made.get(query)

    def put(self, query: FeedQuery, made: Made) -> None:
        self._made[query] = made
        self._made.move_to_end(query)
        while len(self._made) > self.size:
            self._made.popitem(last=False)


def _select(
    session: Session,
    settings: Settings,
    query: FeedQuery,
    info: CalendarInfo,
    before: Made | None = None,
) -> tuple[list[_Entry], list[CalendarChange], datetime, Made]:
    """What is made of each change the feed shows, in its order (with the last build's
    blocks where the change is as it was), and its item; the newest instant among what
    decides the feed's content (withdrawn, merged and deleted changes count there: their
    leaving changes the feed); and what was made of each row, for the next build."""
    rows = select_change_rows(
        session, rule=query.rule, platform=query.platform, search=query.q, include_withdrawn=True
    )
    watches = current_watches(session, settings)
    made = Made(watches=tuple(watch.model_dump_json() for watch in watches), info=info)
    usable = before is not None and (before.watches, before.info) == (made.watches, info)
    last = before.changes if before is not None and usable else {}
    # Each row the query covers, with what the last build made of it (its sources may be
    # reused even when the row moved), whether the row is as it was and its watches: in
    # lists side by side, not a tuple a row for the collector to follow (see ``shown``).
    covered: list[queries.FeedRow] = []
    thens: list[_Entry | None] = []
    sames: list[bool] = []
    covering_watches: list[list[Watch]] = []
    announced, effective = (kind in query.kinds for kind in EventKind)
    for row in rows:
        if not (
            (announced and row.announced_on is not None)
            or (effective and row.effective_on is not None)
        ):
            continue  # no event of the kinds asked for
        then = last.get(row.id)
        same = then is not None and then.values == row
        wanted = then.covering if then is not None and same else _covering(watches, query, row)
        if wanted is None:
            made.changes[row.id] = _Entry(row, None)
        else:
            covered.append(row)
            thens.append(then)
            sames.append(same)
            covering_watches.append(wanted)
    ids = [row.id for row in covered]
    links = queries.links_of_changes(session, change_ids=ids)
    unread = [
        row.id
        for row, then in zip(covered, thens, strict=True)
        if then is None or then.notices != links[row.id]
    ]
    sources = queries.sources_of_changes(session, change_ids=unread) if unread else {}
    marks = handled.marks_of_changes(session, change_ids=ids)
    # Two lists rather than a list of pairs: 10,000 pairs made each build, and kept to its
    # end, brought on a full collection of the whole heap every few builds (100 ms).
    shown: list[_Entry] = []
    items: list[CalendarChange] = []
    newest = EPOCH
    for row, then, same, watched in zip(covered, thens, sames, covering_watches, strict=True):
        marked = marks.get(row.id)
        done = tuple(mark_of(mark) for mark in marked) if marked else ()
        if then is not None and same and then.notices == links[row.id] and then.marks == done:
            entry = then  # as the last build made it: the same row, notices and marks
        else:
            entry = _entry(row, then, sources.get(row.id), done, watched, query)
        newest = max(newest, entry.latest)
        made.changes[row.id] = entry
        if entry.item is not None:
            shown.append(entry)
            items.append(entry.item)
    return shown, items, newest, made


def _entry(
    row: queries.FeedRow,
    then: _Entry | None,
    read: list[queries.SourceRow] | None,
    done: tuple[Mark, ...],
    covering_watches: list[Watch],
    query: FeedQuery,
) -> _Entry:
    """What is made of a covered ``row`` that is not as the last build made it (``then``):
    its sources as ``read`` now, else as they were; its item made again only when what it
    shows moved."""
    if read is not None:
        found = tuple(read)
        notices: tuple[int, ...] | None = tuple(sorted(source.notice_id for source in read))
    elif then is not None:
        found, notices = then.sources, then.notices
    else:
        found, notices = (), ()
    latest = max((row.updated_at, *(s.created_at for s in found), *(m.at for m in done)))
    entry = _Entry(row, covering_watches, notices, found, done, latest=latest)
    if row.status != ChangeStatus.ACTIVE:
        return entry  # counted in the feed's newest instant, not shown
    if then is not None and (then.values, then.sources, then.marks) == (row, found, done):
        return entry._replace(item=then.item, blocks=then.blocks)  # only its links moved
    return entry._replace(item=_item(row, found, done, covering_watches, query))


def _item(
    row: queries.FeedRow,
    found: tuple[queries.SourceRow, ...],
    done: tuple[Mark, ...],
    covering_watches: list[Watch],
    query: FeedQuery,
) -> CalendarChange:
    """What the feed shows of the change of ``row``."""
    return CalendarChange(
        uid=row.uid,
        rule=row.rule_key,
        platform=row.rule_platform,
        title=row.title,
        summary=row.summary,
        announced_on=row.announced_on,
        effective_on=row.effective_on,
        effective_at=row.effective_at,
        tentative=row.tentative,
        revision=row.revision,
        postponed_from=row.postponed_from,
        updated_at=row.updated_at,
        sources=tuple(Source(title=s.title, url=s.url) for s in found),
        tags=tuple(sorted(tags_of(covering_watches))),
        handled=_handled(covering_watches, query, list(done)),
    )


def _covering(watches: list[Watch], query: FeedQuery, row: queries.FeedRow) -> list[Watch] | None:
    """The watches covering the change of ``row``, or None when the query leaves it out."""
    facts = ChangeFacts(
        rule_key=row.rule_key,
        rule_name=row.rule_name,
        platform=row.rule_platform,
        title=row.title,
        summary=row.summary,
        effective_on=row.effective_on,
    )
    found = covering(watches, facts)
    if query.watch is not None and all(watch.name != query.watch for watch in found):
        return None
    if query.tag is not None and all(query.tag not in watch.tags for watch in found):
        return None
    if not (query.all or found):
        return None
    return found


def _handled(found: list[Watch], query: FeedQuery, marks: list[Mark]) -> bool:
    """Whether the feed shows the change handled: for the feed's watch; for every covering
    watch with the feed's tag (a mark for the tag is for all of them); unfiltered, for every
    watch that covers it."""
    if query.watch is not None:
        named = [watch for watch in found if watch.name == query.watch]
        return bool(named) and marked_for(named[0], marks) is not None
    if query.tag is not None:
        found = [watch for watch in found if query.tag in watch.tags]
    return handled_by_all(found, marks)
