"""GET /calendar.ics and /calendar/{token}.ics: the feed over HTTP (filters, token, gzip,
ETag and Last-Modified, 304). What the feed holds is alerts/calendar/feed.py's."""

from __future__ import annotations

import hashlib
import hmac
import threading
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlmodel import Session

from alerts.calendar.feed import MEDIA_TYPE, FeedQuery, build_feed
from alerts.calendar.render import (
    ALARM_PATTERN,
    EventKind,
    Feed,
    FeedCache,
    parse_alarms,
)
from alerts.config import Settings
from alerts.timeline.search import MAX_QUERY, SEARCH
from alerts.web.deps import SessionDep, SettingsDep

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
    q: Annotated[str | None, Query(max_length=MAX_QUERY, description=SEARCH)] = None,
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
        q=q or None,
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
