"""The calendar feed from the store, and over HTTP: GET /calendar.ics (filters, token, 304).

:func:`build_feed` selects the changes (those a watch covers, unless ``all``), renders them
with alerts/calendar.py and caches the result per data version and filters; `rulewatch ics`
and the routes below both call it. A request for an unchanged feed costs one aggregate query
(:func:`store.queries.data_version`) and a dictionary look-up.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlmodel import Session

from alerts.calendar import (
    ALARM_PATTERN,
    Alarms,
    CalendarChange,
    CalendarInfo,
    EventCache,
    EventKind,
    Feed,
    FeedCache,
    Source,
    event_kinds,
    parse_alarms,
    render_calendar,
)
from alerts.config import Settings, Watch
from alerts.deps import SessionDep, SettingsDep
from alerts.errors import RulewatchError
from alerts.reminders.plan import current_watches
from alerts.timeline.views import select_changes
from alerts.watch import facts_of, matches
from store import queries
from store.models import Rule, RuleChange

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
    """The feed's changes, and the newest instant among what decides its content. Withdrawn
    changes count there: their leaving changes the feed."""
    rows = select_changes(session, rule=query.rule, platform=query.platform, include_withdrawn=True)
    watches = current_watches(session, settings)
    covered = [
        (change, rule, tags)
        for change, rule in rows
        if (tags := _covering_tags(watches, query, change, rule)) is not None
    ]
    sources = queries.sources_of_changes(
        session, change_ids=[change.id for change, _, _ in covered if change.id is not None]
    )
    selected: list[CalendarChange] = []
    newest = EPOCH
    for change, rule, tags in covered:
        found = sources.get(change.id or 0, [])
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
            tags=tags,
        )
        if not event_kinds(item, query.kinds):
            continue
        newest = max([newest, change.updated_at, *(s.created_at for s in found)])
        if change.status != "withdrawn":
            selected.append(item)
    return selected, newest


def _covering_tags(
    watches: list[Watch], query: FeedQuery, change: RuleChange, rule: Rule
) -> tuple[str, ...] | None:
    """The tags of the watches covering ``change``, or None when the query leaves it out."""
    facts = facts_of(change, rule)
    covering = [watch for watch in watches if matches(watch, facts)]
    if query.watch is not None and all(watch.name != query.watch for watch in covering):
        return None
    if query.tag is not None and all(query.tag not in watch.tags for watch in covering):
        return None
    if not (query.all or covering):
        return None
    return tuple(sorted({tag for watch in covering for tag in watch.tags}))


# --- HTTP ----------------------------------------------------------------------------------

router = APIRouter(tags=["calendar"])
_cache_lock = threading.Lock()


def _feed_query(
    platform: Annotated[str | None, Query(description="Only this platform, e.g. 1688.")] = None,
    rule: Annotated[
        str | None, Query(description="Only rules whose key or name contains this.")
    ] = None,
    tag: Annotated[
        str | None, Query(description="Only changes a watch with this tag covers.")
    ] = None,
    watch: Annotated[
        str | None, Query(description="Only changes the watch of this name covers.")
    ] = None,
    kind: Annotated[
        EventKind | None,
        Query(description="Only 公示 (announced) or only 生效 (effective) events."),
    ] = None,
    all_: Annotated[
        bool,
        Query(alias="all", description="Every change, not only those a watch covers."),
    ] = False,
    alarm: Annotated[
        str | None,
        Query(
            description="Alarms before each 生效 event: up to five lead times, e.g. 1d,2h "
            "(w weeks, d days, h hours, m minutes).",
            pattern=ALARM_PATTERN,
        ),
    ] = None,
) -> FeedQuery:
    return FeedQuery(
        platform=platform or None,
        rule=rule or None,
        tag=tag or None,
        watch=watch or None,
        kind=kind,
        all=all_,
        alarms=parse_alarms(alarm) if alarm else (),
    )


FeedQueryDep = Annotated[FeedQuery, Depends(_feed_query)]
_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/calendar": {}}, "description": "The iCalendar feed."},
    304: {"description": "Unchanged since the ETag or Last-Modified given."},
    404: {"description": "A token is configured and the right one was not given."},
}


@router.get(
    "/calendar.ics",
    response_class=Response,
    responses=_RESPONSES,
    summary="The iCalendar feed: 公示 and 生效 dates of the watched changes.",
)
def calendar_feed(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    query: FeedQueryDep,
    token: Annotated[
        str | None, Query(description="The `[calendar] token`, when one is configured.")
    ] = None,
) -> Response:
    if settings.calendar.token is not None and not _token_matches(settings, token):
        return _counted(request, Response(status_code=404))
    return _answer(request, session, settings, query)


@router.get(
    "/calendar/{token}.ics",
    response_class=Response,
    responses=_RESPONSES,
    summary="The iCalendar feed at its secret address (with `[calendar] token` set).",
)
def calendar_feed_at_token(
    request: Request, token: str, session: SessionDep, settings: SettingsDep, query: FeedQueryDep
) -> Response:
    # Without a configured token there is no secret address: only /calendar.ics answers.
    if settings.calendar.token is None or not _token_matches(settings, token):
        return _counted(request, Response(status_code=404))
    return _answer(request, session, settings, query)


# HEAD as GET (link checkers and some calendar apps ask it first), left out of the schema
# where it would only repeat the GET operations.
for _route in (calendar_feed, calendar_feed_at_token):
    router.add_api_route(
        "/calendar.ics" if _route is calendar_feed else "/calendar/{token}.ics",
        _route,
        methods=["HEAD"],
        response_class=Response,
        include_in_schema=False,
    )


def _token_matches(settings: Settings, given: str | None) -> bool:
    expected = settings.calendar.token
    if expected is None or given is None:
        return False
    # Digests first: compare_digest takes the same time for equal lengths only.
    return hmac.compare_digest(
        hashlib.sha256(given.encode()).digest(),
        hashlib.sha256(expected.get_secret_value().encode()).digest(),
    )


def _answer(request: Request, session: Session, settings: Settings, query: FeedQuery) -> Response:
    feed = build_feed(session, settings, query, cache=_app_cache(request))
    zipped = _takes_gzip(request.headers.get("accept-encoding", ""))
    headers = {
        "ETag": feed.gzip_etag if zipped else feed.etag,
        "Last-Modified": format_datetime(feed.last_modified, usegmt=True),
        # Revalidate every time (cheap: 304); a feed behind a token is nobody else's.
        "Cache-Control": "private, no-cache" if settings.calendar.token else "no-cache",
        "Vary": "Accept-Encoding",
    }
    if _not_modified(request, feed):
        return _counted(request, Response(status_code=304, headers=headers))
    if zipped:
        headers["Content-Encoding"] = "gzip"
        return _counted(request, Response(feed.gzipped, media_type=MEDIA_TYPE, headers=headers))
    return _counted(request, Response(feed.body, media_type=MEDIA_TYPE, headers=headers))


def _takes_gzip(accepted: str) -> bool:
    """Whether an Accept-Encoding value takes gzip (``gzip``, ``x-gzip`` or ``*``, not q=0)."""
    for item in accepted.lower().split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip() in ("gzip", "x-gzip", "*"):
            q = params.strip().removeprefix("q=")
            try:
                return not params.strip().startswith("q=") or float(q) > 0
            except ValueError:
                return False
    return False


def _not_modified(request: Request, feed: Feed) -> bool:
    tags = request.headers.get("if-none-match")
    if tags is not None:  # RFC 9110: If-Modified-Since is ignored when this is present
        given = {tag.strip().removeprefix("W/") for tag in tags.split(",")}
        # Either coding's tag: the content is the same, which is what a 304 says.
        return "*" in given or feed.etag in given or feed.gzip_etag in given
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        date = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    # Exactly the date given out, not "that or later": Last-Modified comes from the content's
    # own timestamps, and a client's later date says nothing about content changed since.
    return date.tzinfo is not None and date == feed.last_modified


def _counted(request: Request, response: Response) -> Response:
    request.app.state.metrics.feed_requests.labels(status=str(response.status_code)).inc()
    return response


def _app_cache(request: Request) -> FeedCache:
    state = request.app.state
    with _cache_lock:
        cache: FeedCache | None = getattr(state, "feed_cache", None)
        if cache is None:
            cache = state.feed_cache = FeedCache()
    return cache
