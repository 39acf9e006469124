"""GET /calendar.ics and /calendar/{token}.ics: the feed over HTTP (filters, token, gzip,
ETag and Last-Modified, 304). What the feed holds is alerts/calendar/feed.py's.

A feed that is cached (the answer to nearly every poll) is answered by :class:`CachedFeeds`
in front of the app, on the event loop: no routing, no session, no thread. The routes answer
the rest (a feed to build, a refused token, a parameter that is not valid) and document the
feed in the OpenAPI schema; both answer through :func:`_response`, so they answer alike.
"""

from __future__ import annotations

import hashlib
import hmac
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from alerts.calendar.feed import MEDIA_TYPE, FeedQuery, Feeds
from alerts.calendar.render import ALARM_PATTERN, EventKind, Feed, parse_alarms
from alerts.config import Settings
from alerts.timeline.search import MAX_QUERY, SEARCH
from alerts.web.metrics import Metrics

router = APIRouter(tags=["calendar"])


class FeedParams(BaseModel):
    """The query of a feed's address."""

    model_config = ConfigDict(extra="ignore")

    platform: str | None = Field(None, description="Only this platform, e.g. 1688.")
    rule: str | None = Field(None, description="Only rules whose key or name contains this.")
    tag: str | None = Field(None, description="Only changes a watch with this tag covers.")
    watch: str | None = Field(None, description="Only changes the watch of this name covers.")
    q: str | None = Field(None, max_length=MAX_QUERY, description=SEARCH)
    kind: EventKind | None = Field(
        None, description="Only 公示 (announced) or only 生效 (effective) events."
    )
    all_: bool = Field(
        False, alias="all", description="Every change, not only those a watch covers."
    )
    alarm: str | None = Field(
        None,
        pattern=ALARM_PATTERN,
        description="Alarms before each 生效 event: up to five lead times, e.g. 1d,2h "
        "(w weeks, d days, h hours, m minutes).",
    )
    token: str | None = Field(
        None, description="The `[calendar] token`, when one is configured (/calendar.ics)."
    )

    def feed_query(self) -> FeedQuery:
        return FeedQuery(
            platform=self.platform or None,
            rule=self.rule or None,
            tag=self.tag or None,
            watch=self.watch or None,
            q=self.q or None,
            kind=self.kind,
            all=self.all_,
            alarms=parse_alarms(self.alarm) if self.alarm else (),
        )


def _documented(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The OpenAPI query parameters of ``model``'s fields, as FastAPI would write them."""
    schema = model.model_json_schema(by_alias=True)
    defined = schema.get("$defs", {})

    def inlined(part: Any) -> Any:  # the document has no $defs: an enum is written out
        if isinstance(part, dict):
            if "$ref" in part:
                return inlined(defined[part["$ref"].rsplit("/", 1)[-1]])
            return {k: inlined(v) for k, v in part.items() if k not in ("title", "description")}
        if isinstance(part, list):
            return [inlined(item) for item in part]
        return part

    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "schema": inlined(field),
            "description": field.get("description", ""),
        }
        for name, field in schema["properties"].items()
    ]


@lru_cache(maxsize=1024)
def _parsed(query_string: bytes) -> FeedParams:
    # FastAPI's validation of nine query parameters costs more than the rest of a cached
    # answer; a feed's address is polled again and again, so each is validated once.
    # Repeated keys: the last wins, as in FastAPI's reading of a single-valued parameter.
    try:
        return FeedParams.model_validate(dict(QueryParams(query_string)))
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError(
            [{**error, "loc": ("query", *error["loc"])} for error in errors]
        ) from None


def _params(scope: Scope) -> FeedParams:
    query_string: bytes = scope.get("query_string", b"")
    if len(query_string) > _KEPT_QUERY:  # no calendar app's; not let to push theirs out
        return _parsed.__wrapped__(query_string)
    return _parsed(query_string)


_KEPT_QUERY = 2048  # bytes of a query string whose validation is kept


_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/calendar": {}}, "description": "The iCalendar feed."},
    304: {"description": "Unchanged since the ETag or Last-Modified given."},
    404: {"description": "A token is configured and the right one was not given."},
    # Written out: FastAPI documents its 422 only for the parameters it validates itself.
    422: {
        "description": "A parameter is not valid.",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
        },
    },
}


_QUERY = _documented(FeedParams)
_TOKEN_IN_PATH = {
    "name": "token",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "The `[calendar] token`.",
}


@router.get(
    "/calendar.ics",
    response_class=Response,
    responses=_RESPONSES,
    summary="The iCalendar feed: 公示 and 生效 dates of the watched changes.",
    openapi_extra={"parameters": _QUERY},
)
async def calendar_feed(request: Request) -> Response:
    params = _params(request.scope)
    settings: Settings = request.app.state.settings
    if settings.calendar.token is not None and not _token_matches(settings, params.token):
        return _counted(request, Response(status_code=404))
    return await _answer(request, settings, params.feed_query())


@router.get(
    "/calendar/{token}.ics",
    response_class=Response,
    responses=_RESPONSES,
    summary="The iCalendar feed at its secret address (with `[calendar] token` set).",
    openapi_extra={"parameters": [_TOKEN_IN_PATH, *(p for p in _QUERY if p["name"] != "token")]},
)
async def calendar_feed_at_token(request: Request) -> Response:
    params = _params(request.scope)
    settings: Settings = request.app.state.settings
    # Without a configured token there is no secret address: only /calendar.ics answers.
    token = request.path_params["token"]
    if settings.calendar.token is None or not _token_matches(settings, token):
        return _counted(request, Response(status_code=404))
    return await _answer(request, settings, params.feed_query())


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


async def _answer(request: Request, settings: Settings, query: FeedQuery) -> Response:
    feeds: Feeds = request.app.state.feeds
    feed = feeds.cached(query)
    if feed is None:
        feed = await run_in_threadpool(feeds.get, query)
    if _to_compress(feed, request.headers):
        await run_in_threadpool(lambda: feed.gzipped)  # compressing would hold up the loop
    return _counted(request, _response(feed, request.headers, settings))


def _to_compress(feed: Feed, asked: Headers) -> bool:
    """Whether answering ``asked`` needs the gzip coding of ``feed``, not yet made."""
    return (
        not feed.has_gzipped
        and _takes_gzip(asked.get("accept-encoding", ""))
        and not _not_modified(asked, feed)
    )


def _response(feed: Feed, asked: Headers, settings: Settings) -> Response:
    """The answer to a request with headers ``asked`` for ``feed``: 304 when the client's
    copy is current, else the feed, gzipped when the client takes it (which needs
    ``feed.gzipped`` computed, or it is computed here)."""
    zipped = _takes_gzip(asked.get("accept-encoding", ""))
    headers = {
        "ETag": feed.gzip_etag if zipped else feed.etag,
        "Last-Modified": format_datetime(feed.last_modified, usegmt=True),
        # Revalidate every time (cheap: 304); a feed behind a token is nobody else's.
        "Cache-Control": "private, no-cache" if settings.calendar.token else "no-cache",
        "Vary": "Accept-Encoding",
    }
    if _not_modified(asked, feed):
        return Response(status_code=304, headers=headers)
    if zipped:
        headers["Content-Encoding"] = "gzip"
        return Response(feed.gzipped, media_type=MEDIA_TYPE, headers=headers)
    return Response(feed.body, media_type=MEDIA_TYPE, headers=headers)


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


def _not_modified(asked: Headers, feed: Feed) -> bool:
    tags = asked.get("if-none-match")
    if tags is not None:  # RFC 9110: If-Modified-Since is ignored when this is present
        given = {tag.strip().removeprefix("W/") for tag in tags.split(",")}
        # Either coding's tag: the content is the same, which is what a 304 says.
        return "*" in given or feed.etag in given or feed.gzip_etag in given
    since = asked.get("if-modified-since")
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
    return _count(request.app.state.metrics, response)


def _count(metrics: Metrics, response: Response) -> Response:
    metrics.feed_requests.labels(status=str(response.status_code)).inc()
    return response


_AT_TOKEN = "/calendar/"


class CachedFeeds:
    """Answers a GET or HEAD of a feed that is cached before the request goes any further
    into the app (its middleware, routing and dependencies cost more than the answer);
    every other request, and every feed request it cannot answer from the cache as the
    route would, goes on to the app unchanged."""

    def __init__(self, app: ASGIApp, *, feeds: Feeds, settings: Settings, metrics: Metrics):
        self.app = app
        self.feeds = feeds
        self.settings = settings
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            response = self._cached(scope)
            if response is not None:
                await _count(self.metrics, response)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _cached(self, scope: Scope) -> Response | None:
        path: str = scope["path"]
        if path == "/calendar.ics":
            in_path = None
        elif path.startswith(_AT_TOKEN) and path.endswith(".ics"):
            in_path = path[len(_AT_TOKEN) : -len(".ics")]
            if not in_path or "/" in in_path:
                return None
        else:
            return None
        if scope.get("root_path") or "\x00" in path or b"%00" in scope["query_string"]:
            return None  # for the routes to match, or the guards to clean first
        try:
            params = _params(scope)
        except RequestValidationError:
            return None  # the route answers 422 with what was wrong
        given = params.token if in_path is None else in_path
        if self.settings.calendar.token is not None and not _token_matches(self.settings, given):
            return None  # the route's 404
        if self.settings.calendar.token is None and in_path is not None:
            return None
        asked = Headers(scope=scope)
        if asked.get("content-length", "0") != "0" or "transfer-encoding" in asked:
            return None  # a body: the body limit's to judge
        feed = self.feeds.cached(params.feed_query())
        if feed is None:
            return None
        if _to_compress(feed, asked):
            return None  # to be compressed in a thread, by the route
        return _response(feed, asked, self.settings)
