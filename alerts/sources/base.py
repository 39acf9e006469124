"""What every kind of source is: a small class that reads what a place publishes now, and
the values a read works with. Polling, remembering and storing are not its business.

A source's ``fetch`` gets a ``Context``: the web to fetch through (``alerts.sources.web``,
which keeps the manners: robots.txt, rate limits, timeouts, size caps), the ``Memo`` it
left at its last poll (validators for a conditional GET, a page's fingerprint), and
``seen``, which says whether an item was stored before, so that a list's old entries cost
no second request.
"""

from __future__ import annotations

import asyncio
import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator
from pydantic_core import PydanticCustomError

from alerts.errors import RulewatchError

if TYPE_CHECKING:  # the config loader imports the kinds' models: keep it clear of the extractor
    from alerts.extract.model import Notice

# --- config: the keys every kind takes ------------------------------------------------------

_INTERVAL = re.compile(r"(\d+)\s*(m|h|d)")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def _interval(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise PydanticCustomError(
            "rulewatch", 'is a number without a unit; write "30m", "6h" or "1d" (in quotes)'
        )
    if isinstance(value, str):
        match = _INTERVAL.fullmatch(value.strip().lower())
        if match is None:
            raise PydanticCustomError(
                "rulewatch", 'is not an interval; write minutes, hours or days: "30m", "6h", "1d"'
            )
        value = timedelta(**{_UNITS[match[2]]: int(match[1])})
    if isinstance(value, timedelta) and value < timedelta(minutes=1):
        raise PydanticCustomError("rulewatch", "must be at least one minute")
    return value


def _written_interval(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


# How often a source is polled, written "30m", "6h" or "1d"; polls are spread by a jitter of
# up to a tenth of it, so that sources added together do not knock at once.
Interval = Annotated[timedelta, BeforeValidator(_interval), PlainSerializer(_written_interval)]


class SourceConfig(BaseModel):
    """The keys of a ``[[sources]]`` entry that every kind takes; each kind's model adds its
    own (a folder's ``path``, a list's selectors)."""

    # strict: TOML is typed, so "8" for a number is a mistake to report, not to coerce.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=64)
    kind: str
    every: Interval = timedelta(hours=1)
    # The platform of its notices when a notice does not name one (a rule centre's own list).
    platform: str | None = None
    # What its pages are in, when they say it wrongly or not at all ("gbk", "utf-8").
    encoding: str | None = None
    enabled: bool = True

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from alerts.extract.platforms import canonical_platform

        known = canonical_platform(value)
        if known is None:
            raise PydanticCustomError(
                "rulewatch", "is not a platform rulewatch knows; write it as notices name it"
            )
        return known

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            # base64, rot13, zlib… are codecs too, but not of text.
            known = codecs.lookup(value)._is_text_encoding
        except LookupError:
            known = False
        if not known:
            raise PydanticCustomError(
                "rulewatch", 'is not a text encoding Python knows; e.g. "utf-8", "gbk", "gb18030"'
            )
        return value


# --- what a fetch works with -----------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One thing a source found: a feed entry, a list item and its page, a file, the new
    text of a watched page. Its notices are stored as ``rulewatch import`` stores them."""

    key: str  # how the item is known again at the next poll: its link, a file's name and digest
    notices: tuple[Notice, ...] = ()
    problem: str | None = None  # why it could not be read; kept and shown, never dropped
    label: str = ""  # where a person finds it, when its notices do not say (no link): a file
    # The problem may pass (its page answered 500, timed out): the item is read again at
    # the next polls, and kept with its problem only after several.
    again: bool = False

    @property
    def where(self) -> str:
        """Where a person finds it, as it may be shown (a link without its query)."""
        return self.label or (where(self.key) if "://" in self.key else self.key)


@dataclass(frozen=True)
class Memo:
    """What a source keeps between polls, stored per source in the store."""

    etag: str | None = None
    last_modified: str | None = None
    fingerprint: str | None = None  # a watched page: the digest of the text last seen


@dataclass(frozen=True)
class Fetched:
    """What one fetch found, and what the source wants remembered for the next one."""

    items: tuple[Item, ...] = ()
    memo: Memo = field(default_factory=Memo)
    not_modified: bool = False  # the place answered 304: nothing new, nothing read
    # The place asked to wait this many seconds before more is read (a 429 on the fourth
    # page of a list): the items read before it are kept, the rest wait for the next poll.
    retry_after: float | None = None
    # Every new entry of the list was read. When not (cut at max_items, at the poll's
    # deadline, at a Retry-After), the list's validators are not kept: the next poll must
    # get the whole list, not a 304 that would leave the rest unread until it changes.
    complete: bool = True


class SourceError(RulewatchError):
    """The source as a whole cannot be read now (its list is down, robots.txt forbids it, it
    answered 429): the poll fails and is tried again later, after ``retry_after`` seconds
    when the place said how long to wait.

    Raised for one page of a list, it is that item's problem; ``lasting`` says whether asking
    again could help (a 404, a page too large or not text: no; a 500 or a timeout: yes).
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, lasting: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.lasting = lasting


@dataclass(frozen=True)
class Page:
    """One fetched page, decoded to text (empty for a 304)."""

    url: str  # where it was read, after redirects
    status: int  # 200, or 304 when the memo's validators still hold
    text: str = ""
    content_type: str = ""  # the media type without parameters, e.g. "text/html"
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def memo(self, fingerprint: str | None = None) -> Memo:
        """The validators of this answer, to send with the next request."""
        return Memo(etag=self.etag, last_modified=self.last_modified, fingerprint=fingerprint)


# A path segment that looks like a key (a private feed's token, a signed list's secret):
# long, and letters mixed with digits. A page's name ("notice-7.html", "2026/12") is not.
_KEYLIKE = re.compile(r"(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-]{16,}")


def where(url: str) -> str:
    """A URL as it may be shown in an error, a log or a page: scheme, host, port and path,
    without userinfo or query, and with path segments that look like keys as ``***``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # "http://[::1/x", "host:abc": unparsable, so cut by hand
        cut = re.sub(r"//[^/]*@", "//", re.split(r"[?#]", url, maxsplit=1)[0], count=1)
        scheme, _, rest = cut.partition("//")
        host, slash, path = rest.partition("/")
        return f"{scheme}//{host}{slash}{_masked(path)}"
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}{_masked(parts.path)}"


def _masked(path: str) -> str:
    segments = []
    for segment in path.split("/"):
        stem, dot, suffix = segment.rpartition(".") if "." in segment else (segment, "", "")
        if _KEYLIKE.fullmatch(stem):
            segment = f"***{dot}{suffix}"
        segments.append(segment)
    return "/".join(segments)


class Web(Protocol):
    """How sources fetch: one GET with every manner kept (see ``alerts.sources.web``)."""

    async def get(self, url: str, *, memo: Memo | None = None, encoding: str | None = None) -> Page:
        """GET ``url``; with ``memo`` a conditional request (304 → ``Page.not_modified``);
        ``encoding`` overrides what the page says it is. Raises SourceError naming the URL
        and what went wrong (timeout, refused, too large, robots.txt, an HTTP error)."""
        ...


@dataclass(frozen=True)
class Context:
    """What a fetch is given: the web, what was remembered, and what was stored before."""

    web: Web
    memo: Memo = field(default_factory=Memo)
    seen: Callable[[str], bool] = lambda key: False
    # When, on the event loop's clock, a fetch should start no further page: what it has
    # read by then is kept, and the next poll reads on.
    deadline: float | None = None

    def past_deadline(self) -> bool:
        return self.deadline is not None and asyncio.get_running_loop().time() >= self.deadline


class Source(Protocol):
    """One configured source, ready to fetch."""

    name: str

    async def fetch(self, context: Context) -> Fetched:
        """Read what the source holds now. A place that cannot be read at all raises
        SourceError; one item that cannot be read becomes an ``Item`` with a ``problem``,
        so that one bad item never hides the others."""
        ...
