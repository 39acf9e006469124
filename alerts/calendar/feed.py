"""The calendar feed from the store: which changes it holds, built and cached.

:func:`build_feed` selects the changes (those a watch covers, unless ``all``), marks those
handled for the feed's watches (:func:`_handled`), renders them
with alerts/calendar/render.py and caches the result per data version and filters;
`rulewatch ics` and the routes of alerts/web/feed.py both call it. A request for an
unchanged feed costs one aggregate query (:func:`store.queries.data_version`) and a
dictionary look-up.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from alerts.calendar.render import (
    Alarms,
    CalendarChange,
    CalendarInfo,
    EventCache,
    EventKind,
    Feed,
    FeedCache,
    Source,
    event_kinds,
    render_calendar,
)
from alerts.config import Settings, Watch
from alerts.errors import RulewatchError
from alerts.timeline.handled import Mark, handled_by_all, mark_of, marked_for
from alerts.timeline.views import select_changes
from alerts.watches import covering, current_watches, facts_of, tags_of
from store import handled, queries
from store.models import ChangeStatus, Rule, RuleChange

MEDIA_TYPE = "text/calendar; charset=utf-8"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # Last-Modified of a feed that never had anything


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

    def build(events: EventCache) -> tuple[bytes, datetime]:
        changes, newest = _select(session, settings, query)
        if version.watches_created_at:  # watches decide what is in and the CATEGORIES
            newest = max(newest, version.watches_created_at)
        info = calendar_info(settings)
        body = render_calendar(changes, info, kinds=query.kinds, alarms=query.alarms, cache=events)
        return body, newest

    return cache.get(version, query, build)


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


def _select(
    session: Session, settings: Settings, query: FeedQuery
) -> tuple[list[CalendarChange], datetime]:
    """The feed's changes, and the newest instant among what decides its content. Withdrawn, merged
    and deleted changes count there: their leaving changes the feed."""
    rows = select_changes(
        session,
        rule=query.rule,
        platform=query.platform,
        search=query.q,
        include_withdrawn=True,
    )
    watches = current_watches(session, settings)
    covered: list[tuple[RuleChange, Rule, list[Watch]]] = []
    for change, rule in rows:
        wanted = _covering(watches, query, change, rule)
        if wanted is not None:
            covered.append((change, rule, wanted))
    ids = [change.id for change, _, _ in covered if change.id is not None]
    sources = queries.sources_of_changes(session, change_ids=ids)
    marks = handled.marks_of_changes(session, change_ids=ids)
    selected: list[CalendarChange] = []
    newest = EPOCH
    for change, rule, covering_watches in covered:
        found = sources.get(change.id or 0, [])
        done = [mark_of(row) for row in marks.get(change.id or 0, [])]
        item = CalendarChange(
            uid=change.uid,
            rule=rule.key,
            platform=rule.platform,
            title=change.title,
            summary=change.summary,
            announced_on=change.announced_on,
            effective_on=change.effective_on,
            effective_at=change.effective_at,
            tentative=change.tentative,
            revision=change.revision,
            postponed_from=change.postponed_from,
            updated_at=change.updated_at,
            sources=tuple(Source(title=s.title, url=s.url) for s in found),
            tags=tuple(sorted(tags_of(covering_watches))),
            handled=_handled(covering_watches, query, done),
        )
        if not event_kinds(item, query.kinds):
            continue
        newest = max([newest, change.updated_at, *(s.created_at for s in found)])
        newest = max([newest, *(mark.at for mark in done)])
        if change.status == ChangeStatus.ACTIVE:
            selected.append(item)
    return selected, newest


def _covering(
    watches: list[Watch], query: FeedQuery, change: RuleChange, rule: Rule
) -> list[Watch] | None:
    """The watches covering ``change``, or None when the query leaves it out."""
    found = covering(watches, facts_of(change, rule))
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
