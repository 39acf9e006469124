"""The calendar feed as bytes: changes in, one iCalendar (RFC 5545) VCALENDAR out.

Pure: no session, no clock. Every byte comes from the changes and the settings given, so
unchanged data gives identical bytes (DTSTAMP is the change's last update, never "now").

Each change gives a 公示 event and a 生效 event where it has those dates: all-day
(VALUE=DATE, DTEND the next day), or, for a 生效 with a time of day, a timed event in the
service time zone with its VTIMEZONE. UIDs are the change's uid plus the event kind and
SEQUENCE is its revision, so a postponed change moves in a subscriber's calendar.

Serializing is cached twice: :class:`EventCache` keeps each event's block, keyed by
everything that goes into it, so a changed rule re-serializes only its own events, and
:class:`FeedCache` keeps whole feeds per data version and filters, so an unchanged feed is
answered without rendering anything.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cached_property, lru_cache
from itertools import chain
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, Timezone, vDuration
from icalendar import __version__ as icalendar_version

PRODID = "-//rulewatch//calendar feed//ZH"
SUMMARY_CHARS = 300  # of a change's text in a description: 10,000 changes stay a few MB
TIMED_LENGTH = timedelta(hours=1)  # a 生效 at a time of day is drawn as a block this long
MAX_ALARMS = 5
# What ?alarm= accepts, as its OpenAPI schema states it: one to five lead times.
ALARM_PATTERN = r"^\d{1,3}[wdhm](,\d{1,3}[wdhm]){0,4}$"


class EventKind(StrEnum):
    """Which date of a change an event marks."""

    announced = "announced"  # 公示
    effective = "effective"  # 生效


LABELS = {EventKind.announced: "公示", EventKind.effective: "生效"}


@dataclass(frozen=True)
class Source:
    """A notice a change was read from, as a description lists it."""

    title: str
    url: str | None


@dataclass(frozen=True)
class CalendarChange:
    """What the feed shows of one change. Hashable: it is part of its events' cache key."""

    uid: str
    rule: str  # the rule's canonical name, e.g. 1688商家发货行为管理规范
    platform: str | None
    title: str
    summary: str
    announced_on: date | None
    effective_on: date | None
    effective_at: time | None
    tentative: bool
    revision: int
    postponed_from: date | None
    updated_at: datetime  # aware
    sources: tuple[Source, ...] = ()
    tags: tuple[str, ...] = ()  # of the watches that cover the change, sorted
    handled: bool = False  # marked handled (已处理) for the feed's watches: ✓ in the summary
    # Made once: a build looks each change up several times, and a dataclass's own hash
    # walks every field each time.
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shown = tuple(getattr(self, name) for name in _SHOWN)
        object.__setattr__(self, "_hash", hash(shown))

    def __hash__(self) -> int:
        return self._hash


_SHOWN = tuple(f.name for f in fields(CalendarChange) if f.repr)


@dataclass(frozen=True)
class CalendarInfo:
    """The calendar's own properties, from ``[calendar]`` and ``[service]``."""

    name: str
    description: str
    timezone: str  # IANA name
    refresh: timedelta
    base_url: str


@dataclass(frozen=True)
class Feed:
    """A serialized feed with the validators HTTP answers carry, and its gzip coding (made
    once, when first asked for: a feed compresses to about a sixth, at 10 ms a MB)."""

    body: bytes
    etag: str  # quoted, strong
    last_modified: datetime  # aware UTC, whole seconds
    gzip_etag: str = ""  # a strong ETag names one coding of the content

    @cached_property
    def gzipped(self) -> bytes:
        # mtime=0: the same content gives the same bytes, in every process.
        return gzip.compress(self.body, compresslevel=6, mtime=0)

    @property
    def has_gzipped(self) -> bool:
        """Whether :attr:`gzipped` is made already (else asking for it takes a while)."""
        return "gzipped" in self.__dict__


Alarms = tuple[timedelta, ...]

_ALARM = re.compile(r"(\d{1,3})([wdhm])")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


def parse_alarms(text: str) -> Alarms:
    """``"1d,2h"`` as the lead times of alarms before each 生效, largest first.

    Raises ValueError naming the part that is not a number (up to 999) followed by w, d, h
    or m, or when there are more than five.
    """
    found: set[timedelta] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _ALARM.fullmatch(part)
        if match is None:
            raise ValueError(f"{part!r} is not a lead time such as 1d, 2h, 30m or 1w")
        found.add(timedelta(**{_UNITS[match[2]]: int(match[1])}))
    if len(found) > MAX_ALARMS:
        raise ValueError(f"at most {MAX_ALARMS} alarms; {len(found)} were given")
    return tuple(sorted(found, reverse=True))


def event_kinds(change: CalendarChange, kinds: Collection[EventKind]) -> list[EventKind]:
    """The events ``change`` gives among ``kinds``: one per date it has."""
    found = []
    if change.announced_on is not None and EventKind.announced in kinds:
        found.append(EventKind.announced)
    if change.effective_on is not None and EventKind.effective in kinds:
        found.append(EventKind.effective)
    return found


def render_calendar(
    changes: Iterable[CalendarChange],
    info: CalendarInfo,
    *,
    kinds: Collection[EventKind] = frozenset(EventKind),
    alarms: Alarms = (),
    cache: EventCache | None = None,
) -> bytes:
    """The VCALENDAR of ``changes``, in the order given."""
    cache = cache if cache is not None else EventCache(0)  # nothing kept
    changes = list(changes)
    blocks = event_blocks(changes, info, kinds, cache)
    return calendar_of(changes, info, kinds, blocks, alarms=alarms, cache=cache)


def event_blocks(
    changes: Sequence[CalendarChange],
    info: CalendarInfo,
    kinds: Collection[EventKind],
    cache: EventCache | None = None,
) -> list[tuple[bytes, ...]]:
    """The VEVENT blocks, without alarms, of each change's events among ``kinds`` (one tuple
    per change), from ``cache`` where it holds them."""
    cache = cache if cache is not None else EventCache(0)  # nothing kept
    events = [(change, kind) for change in changes for kind in event_kinds(change, kinds)]
    blocks = iter(cache.blocks(events, (), info))
    return [tuple(next(blocks) for _ in event_kinds(change, kinds)) for change in changes]


def calendar_of(
    changes: Sequence[CalendarChange],
    info: CalendarInfo,
    kinds: Collection[EventKind],
    blocks: Sequence[tuple[bytes, ...]],
    *,
    alarms: Alarms = (),
    cache: EventCache | None = None,
) -> bytes:
    """The VCALENDAR around the ``blocks`` of ``changes`` (:func:`event_blocks`, each
    change's in a tuple), with ``alarms`` spliced into each 生效 event: the header, and the
    time zone when an event of ``kinds`` has a time of day."""
    timed = (
        [change.effective_on for change in changes if change.effective_at and change.effective_on]
        if EventKind.effective in kinds
        else []
    )
    zone = _vtimezone(info.timezone, min(timed).year, max(timed).year) if timed else b""
    if alarms:
        cache = cache if cache is not None else EventCache(0)
        blocks = [
            tuple(
                cache.with_alarms(block, change, alarms) if kind is EventKind.effective else block
                for block, kind in zip(made, event_kinds(change, kinds), strict=True)
            )
            for change, made in zip(changes, blocks, strict=True)
        ]
    # One join: a feed of 10,000 changes is some 17 MB, each concatenation a copy of it.
    return b"".join([_head(info), zone, *chain.from_iterable(blocks), b"END:VCALENDAR\r\n"])


def render_event(
    change: CalendarChange, kind: EventKind, alarms: Alarms, info: CalendarInfo
) -> bytes:
    """One VEVENT block, folded, with CRLF line ends."""
    event = Event()
    # Set explicitly: icalendar's Event.new() would invent a random UID and DTSTAMP=now.
    event.add("uid", f"{change.uid}-{kind.value}")
    event.add("dtstamp", change.updated_at)
    event.add("last-modified", change.updated_at)
    event.add("sequence", change.revision)
    summary = event_summary(change, kind)
    event.add("summary", summary)
    event.add("description", _description(change, info))
    event.add("url", f"{info.base_url}/changes/{change.uid}")
    # Once each: a tag that names the platform is the platform.
    categories = list(dict.fromkeys(c for c in (change.platform, *change.tags) if c))
    if categories:
        event.add("categories", categories)
    event.add("status", "TENTATIVE" if change.tentative else "CONFIRMED")
    # A date to know, not time spent: it must not mark the subscriber busy.
    event.add("transp", "TRANSPARENT")
    day = change.announced_on if kind is EventKind.announced else change.effective_on
    if day is None:
        raise ValueError(f"change {change.uid} has no {kind.value} date")
    if kind is EventKind.effective and change.effective_at is not None:
        start = datetime.combine(day, change.effective_at, tzinfo=ZoneInfo(info.timezone))
        event.add("dtstart", start)
        event.add("dtend", start + TIMED_LENGTH)
    else:
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
    if kind is EventKind.effective:
        for alarm in _alarms(summary, alarms):
            event.add_component(alarm)
    return bytes(event.to_ical())


def event_summary(change: CalendarChange, kind: EventKind) -> str:
    """【生效】1688商家发货行为管理规范, with （预计） when the date is only expected and a
    leading ✓ when the change is handled."""
    mark = "✓" if change.handled else ""
    return f"{mark}【{LABELS[kind]}】{change.rule}{'（预计）' if change.tentative else ''}"


def _alarms(summary: str, alarms: Alarms) -> list[Alarm]:
    found = []
    for lead in alarms:
        alarm = Alarm()  # not Alarm.new(): that adds a random UID
        alarm.add("action", "DISPLAY")
        alarm.add("description", summary)
        alarm.add("trigger", -lead)
        found.append(alarm)
    return found


def _description(change: CalendarChange, info: CalendarInfo) -> str:
    lines = [change.title] if change.title else []
    text = " ".join(change.summary.split())
    if text and text != change.title:
        lines.append(text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS] + "…")
    dates = [
        f"{LABELS[kind]} {day.isoformat()}"
        for kind, day in (
            (EventKind.announced, change.announced_on),
            (EventKind.effective, change.effective_on),
        )
        if day is not None
    ]
    if change.effective_at is not None and dates:
        dates[-1] += change.effective_at.strftime(" %H:%M")
    if change.announced_on and change.effective_on:
        dates.append(f"相隔 {(change.effective_on - change.announced_on).days} 天")
    lines.append("，".join(dates) + ("（预计）" if change.tentative else ""))
    if change.postponed_from:
        lines.append(f"原定 {change.postponed_from.isoformat()} 生效，已延期")
    for source in change.sources:
        # A source is most often the notice the title came from: then its link says enough.
        parts = [source.title if source.title != change.title else "", source.url or ""]
        if any(parts):
            lines.append("来源：" + " ".join(part for part in parts if part))
    lines.append(f"{info.base_url}/changes/{change.uid}")
    return "\n".join(lines)


@lru_cache(maxsize=16)
def _head(info: CalendarInfo) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    # No METHOD: a subscribed feed is no iTIP message, and METHOD:PUBLISH without an
    # ORGANIZER fails RFC 5546's restrictions (libical, ical4j).
    calendar.calendar_name = info.name  # NAME and X-WR-CALNAME
    calendar.description = info.description  # DESCRIPTION and X-WR-CALDESC
    calendar.add("x-wr-timezone", info.timezone)
    # RFC 7986 requires VALUE=DURATION, which icalendar leaves out; and it writes an
    # X- property's timedelta as "1:00:00" unless given as a duration.
    calendar.add("refresh-interval", vDuration(info.refresh), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(info.refresh))
    whole = bytes(calendar.to_ical())
    end = b"END:VCALENDAR\r\n"
    if not whole.endswith(end):
        raise RuntimeError("icalendar wrote a calendar that does not end with END:VCALENDAR")
    return whole[: -len(end)]


@lru_cache(maxsize=16)
def _vtimezone(tzid: str, first_year: int, last_year: int) -> bytes:
    if tzid == "UTC":
        return b""  # icalendar writes UTC times with Z; no VTIMEZONE is referenced
    # The zone's rules for the years the timed events fall in, and no more; icalendar
    # overflows near the end of the calendar, and the last rules hold after the range.
    first, last = date(min(first_year, 8999), 1, 1), date(min(last_year + 1, 9000), 1, 1)
    zone = Timezone.from_tzid(tzid, first_date=first, last_date=last)
    # icalendar notes the years covered in a COMMENT, which RFC 5545 §3.6.5 does not allow
    # directly in VTIMEZONE (Ruby's strict parser refuses it).
    zone.pop("COMMENT", None)
    return bytes(zone.to_ical())


class _Lru:
    """A mapping bounded by the bytes it holds, forgetting the least recently used first;
    thread-safe."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._items: OrderedDict[Hashable, tuple[bytes | Feed, int]] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> bytes | Feed | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def get_many(self, keys: Sequence[Hashable]) -> list[bytes | Feed | None]:
        """:meth:`get` of each of ``keys``, under one hold of the lock."""
        found: list[bytes | Feed | None] = []
        with self._lock:
            items, touch = self._items, self._items.move_to_end
            for key in keys:
                item = items.get(key)
                if item is None:
                    found.append(None)
                else:
                    touch(key)
                    found.append(item[0])
        return found

    def pop(self, key: Hashable) -> None:
        with self._lock:
            found = self._items.pop(key, None)
            if found is not None:
                self._held -= found[1]

    def put(self, key: Hashable, value: bytes | Feed) -> None:
        size = len(value) if isinstance(value, bytes) else len(value.body)
        with self._lock:
            if key in self._items:
                self._held -= self._items.pop(key)[1]
            self._items[key] = (value, size)
            self._held += size
            while self._held > self.budget and self._items:
                self._held -= self._items.popitem(last=False)[1][1]


class EventStore(Protocol):
    """Where serialized events outlive the process (store/events.py's StoredEvents)."""

    def load(self, keys: Collection[str]) -> dict[str, bytes]: ...

    def save(self, events: Sequence[tuple[str, str, bytes]]) -> None: ...


# Part of every stored event's key: this module's code (any change to how an event is
# written) and icalendar's version, so that another release writes its events again
# instead of reading what the old one wrote, even beside it on one store.
def _format() -> str:
    try:
        code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    except OSError:  # no source beside the module: nothing stored is reused
        code = secrets.token_hex(8)
    return f"{code} icalendar {icalendar_version}"


EVENT_FORMAT = _format()


def event_key(change: CalendarChange, kind: EventKind, info: CalendarInfo) -> str:
    """A digest of everything the event of ``change`` and ``kind`` shows, stable across
    processes: the key of its stored block."""
    return _keyed(change, info, (kind,))[0]


def _keyed(change: CalendarChange, info: CalendarInfo, kinds: Sequence[EventKind]) -> list[str]:
    shown = hashlib.sha256(repr((EVENT_FORMAT, change, info)).encode("utf-8", "surrogatepass"))
    keys = []
    for kind in kinds:
        each = shown.copy()
        each.update(kind.value.encode())
        keys.append(each.hexdigest())
    return keys


class EventCache:
    """Serialized event blocks, keyed by the change's every shown field, the kind and the
    calendar info, so a hit can never be stale whatever changed. Alarms are kept apart and
    spliced in before END:VEVENT, the place icalendar writes them: a subscriber asking for
    other alarms re-serializes no event.

    Behind the memory, an optional ``store`` keeps the blocks across restarts (looked up by
    :func:`event_key`, in one batch per build). ``hits`` counts events found in memory,
    ``loaded`` those read from the store, ``misses`` those serialized.
    """

    def __init__(self, budget: int = 64 << 20, *, store: EventStore | None = None) -> None:
        self._blocks = _Lru(budget)
        self.store = store
        self.hits = 0
        self.loaded = 0
        self.misses = 0

    def blocks(
        self,
        events: Sequence[tuple[CalendarChange, EventKind]],
        alarms: Alarms,
        info: CalendarInfo,
    ) -> list[bytes]:
        """The block of each of ``events``, in their order, with ``alarms`` spliced in."""
        found = self._blocks.get_many([(change, kind, info) for change, kind in events])
        missing = [i for i, block in enumerate(found) if not isinstance(block, bytes)]
        self.hits += len(events) - len(missing)
        keys = self._keys(events, missing, info) if self.store else {}
        stored = self.store.load(set(keys.values())) if self.store and keys else {}
        made: list[tuple[str, str, bytes]] = []
        for i in missing:
            change, kind = events[i]
            block = stored.get(keys[i]) if keys else None
            if block is not None:
                self.loaded += 1
            else:
                self.misses += 1
                block = render_event(change, kind, (), info)
                if keys:
                    made.append((keys[i], change.uid, block))
            self._blocks.put((change, kind, info), block)
            found[i] = block
        if made and self.store:
            self.store.save(made)
        blocks = [block for block in found if isinstance(block, bytes)]
        if not alarms:
            return blocks
        return [
            self.with_alarms(block, change, alarms) if kind is EventKind.effective else block
            for block, (change, kind) in zip(blocks, events, strict=True)
        ]

    @staticmethod
    def _keys(
        events: Sequence[tuple[CalendarChange, EventKind]],
        indices: Sequence[int],
        info: CalendarInfo,
    ) -> dict[int, str]:
        """The :func:`event_key` of ``events[i]`` for each index, digesting each change once
        (its events come one after the other)."""
        keys: dict[int, str] = {}
        run: list[int] = []
        for i in [*indices, -1]:
            if run and (i < 0 or events[i][0] is not events[run[0]][0]):
                found = _keyed(events[run[0]][0], info, [events[j][1] for j in run])
                keys.update(zip(run, found, strict=True))
                run = []
            if i >= 0:
                run.append(i)
        return keys

    def reused(self, count: int) -> None:
        """Count ``count`` blocks a caller kept from an earlier build as hits: found in
        memory, neither read nor serialized."""
        self.hits += count

    def with_alarms(self, block: bytes, change: CalendarChange, alarms: Alarms) -> bytes:
        """``block``, the 生效 event of ``change``, with ``alarms`` spliced in."""
        summary = event_summary(change, EventKind.effective)
        spliced = self._blocks.get((summary, alarms))
        if not isinstance(spliced, bytes):
            spliced = b"".join(bytes(alarm.to_ical()) for alarm in _alarms(summary, alarms))
            self._blocks.put((summary, alarms), spliced)
        return block[: -len(_END_EVENT)] + spliced + _END_EVENT


_END_EVENT = b"END:VEVENT\r\n"


class FeedCache:
    """Whole feeds by (data version, filters), and the events they are made of.

    Builds run one at a time, so subscribers polling together after a change wait for one
    build instead of each starting their own.
    """

    def __init__(
        self,
        *,
        feed_bytes: int = 64 << 20,
        event_bytes: int = 64 << 20,
        store: EventStore | None = None,
    ) -> None:
        self.events = EventCache(event_bytes, store=store)
        self._feeds = _Lru(feed_bytes)
        # The validators last given per filters, to keep Last-Modified moving forward.
        self._last: OrderedDict[Hashable, tuple[str, datetime]] = OrderedDict()
        self._versions: OrderedDict[Hashable, Hashable] = OrderedDict()  # the last built
        self._build_lock = threading.Lock()
        self.builds = 0

    def get(
        self,
        version: Hashable,
        filters: Hashable,
        build: Callable[[EventCache], tuple[bytes, datetime]],
    ) -> Feed:
        """The feed for ``filters`` at ``version``; ``build`` makes the body and the instant
        of its newest content when it is not cached."""
        found = self.peek(version, filters)
        if found is not None:
            return found
        with self._build_lock:
            found = self.peek(version, filters)
            if found is not None:
                return found
            self.builds += 1
            body, modified = build(self.events)
            feed = self._validated(filters, body, modified)
            self._feeds.put((version, filters), feed)
            # The feed of an older version is asked for no more once a newer one is built
            # (a request that read the old version before the write comes late, at worst):
            # dropped now, not when the budget runs out, so memory holds current feeds.
            older = self._versions.get(filters)
            if older is not None and older != version:
                self._feeds.pop((older, filters))
            self._versions[filters] = version
            self._versions.move_to_end(filters)
            while len(self._versions) > 1024:
                self._versions.popitem(last=False)
            return feed

    def held(self) -> int:
        """How many feeds are kept."""
        return len(self._feeds)

    def current(self) -> list[tuple[Hashable, Hashable, Feed]]:
        """``(version, filters, feed)`` of the newest feed held of each filters."""
        with self._build_lock:
            found = [(v, f, self.peek(v, f)) for f, v in self._versions.items()]
        return [(version, filters, feed) for version, filters, feed in found if feed is not None]

    def peek(self, version: Hashable, filters: Hashable) -> Feed | None:
        """The feed for ``filters`` at ``version`` if it is built, else None."""
        found = self._feeds.get((version, filters))
        return found if isinstance(found, Feed) else None

    def _validated(self, filters: Hashable, body: bytes, modified: datetime) -> Feed:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        modified = modified.astimezone(UTC).replace(microsecond=0)
        previous = self._last.get(filters)
        if previous is not None and previous[0] == etag:
            modified = previous[1]
        elif previous is not None and modified <= previous[1]:
            # Content went without a newer timestamp (a change withdrawn, a watch removed):
            # the date must still move, or If-Modified-Since would match stale content.
            modified = previous[1] + timedelta(seconds=1)
        self._last[filters] = (etag, modified)
        self._last.move_to_end(filters)
        while len(self._last) > 1024:
            self._last.popitem(last=False)
        return Feed(body=body, etag=etag, last_modified=modified, gzip_etag=etag[:-1] + '-gzip"')
