"""One poll of a source: fetch what is new, store it through the one write path, and keep
the source's state (validators, items seen, failures and backoff) in the store.

No transaction is open while the source is fetched: a slow site holds no database
connection and no SQLite lock. An item is kept as seen only after its notices are
committed, so a poll cut short reads it again next time (and the store, which knows each
notice by its content, stores nothing twice).
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from alerts import clock
from alerts.extract.model import Notice
from alerts.sources.base import Context, Fetched, Memo, Source, SourceError, Web
from alerts.timeline.ingest import IngestReport, cleaned, content_hash, ingest
from store import queries
from store import sources as store
from store.db import committed
from store.errors import StoreError
from store.models import SourceState

logger = logging.getLogger(__name__)

# The longest a failing source waits between tries.
MAX_BACKOFF = timedelta(hours=24)
# The longest one poll's fetch may take, in seconds: `serve` polls a few sources at a time,
# and the next round waits for the slowest.
POLL_LIMIT = 300.0
# Polls an item whose problem may pass (its page answered 500) is read again before it is
# kept with its problem, as one that cannot be read.
MAX_TRIES = 10
# The validators' columns in the store (store.models.SourceState).
ETAG_MAX, LAST_MODIFIED_MAX = 500, 100

Turn = Literal["failing", "recovered"]


@dataclass
class PollReport:
    """What one poll did."""

    source: str
    stored: IngestReport = field(default_factory=IngestReport)
    new_items: int = 0
    not_modified: bool = False
    skipped: str | None = None  # why the source was not fetched (backing off, just polled)
    error: str | None = None  # why the source could not be read
    retry_after: float | None = None  # the site asked to wait before the rest is read
    retrying: int = 0  # items whose problem may pass, read again at the next poll
    turned: Turn | None = None  # the source began failing, or recovered: tell the admin


@dataclass(frozen=True)
class Pace:
    """When a source is due: its interval, and whether a poll asked for now may skip it."""

    every: timedelta
    on_demand: bool = True  # `rulewatch sources poll`: poll even while backing off
    alert_after: int = 3  # failed polls in a row before the admin channel hears of it


async def poll(
    source: Source,
    session: Session,
    *,
    web: Web,
    tz: ZoneInfo,
    platform: str | None = None,
    pace: Pace | None = None,
    now: datetime | None = None,
    limit: float = POLL_LIMIT,
) -> PollReport:
    """Poll ``source`` once and store what is new; its failures are counted, not raised.

    ``platform`` is the platform of a notice that names none. With ``pace`` (the scheduled
    polls of ``serve``), a source polled less than nine tenths of its interval ago (by
    another instance) or backing off after failures is skipped. A fetch still running after
    ``limit`` seconds (each page has its own, shorter timeout) fails the poll, and the next
    one reads again what it had read.
    """
    now = now or clock.now()
    report = PollReport(source=source.name)
    if pace is not None and not pace.on_demand:
        taken = committed(
            session,
            lambda: store.claim(
                session, source.name, now=now, polled_before=now - _jittered(pace.every)
            ),
        )
        if not taken:
            report.skipped = _why_not(store.state_of(session, source.name), now)
            session.rollback()
            return report
    state = store.state_of(session, source.name)
    seen = store.seen_digests(session, source.name)
    memo = Memo(etag=state.etag, last_modified=state.last_modified, fingerprint=state.fingerprint)
    state.last_polled_at = now
    committed(session, lambda: store.save_state(session, state))
    loop = asyncio.get_running_loop()
    context = Context(
        web=web,
        memo=memo,
        seen=lambda key: store.key_digest(key) in seen,
        deadline=loop.time() + limit,
    )
    # Past the deadline a list starts no further page; a page still being read by twice the
    # limit (its own timeout set longer than the poll's) is given up.
    bound = asyncio.timeout(2 * limit)
    try:
        async with bound:
            fetched = await source.fetch(context)
    except SourceError as exc:
        return _failed(session, report, state, str(exc), exc.retry_after, pace, now)
    except Exception as exc:  # a kind's bug must not stop the other sources
        if isinstance(exc, TimeoutError) and bound.expired():
            reason = f"整个读取超过 {2 * limit:g} 秒，下次再读（the poll's time limit）"
        else:  # a TimeoutError too may be a folder's slow network mount, not the limit
            logger.exception("source %s: unexpected error while fetching", source.name)
            reason = f"rulewatch 读取时出错（{type(exc).__name__}）; see the service log"
        return _failed(session, report, state, reason, None, pace, now)
    # Reading and storing the notices is the slow part: off the event loop, where the
    # reminders of serve are sent. The session is used by one thread at a time.
    try:
        await asyncio.to_thread(
            _store_items, session, report, fetched, seen, tz=tz, platform=platform, now=now
        )
        return _succeeded(session, report, state, fetched, now)
    except Exception as exc:  # the store refused (full disk): the next poll reads again
        session.rollback()
        logger.exception("source %s: unexpected error while storing", source.name)
        reason = f"rulewatch 保存时出错（{type(exc).__name__}）; see the service log"
        report.turned = None
        return _failed(session, report, state, reason, None, pace, now)


def _jittered(every: timedelta) -> timedelta:
    # Up to a tenth early, so that sources added together drift apart instead of knocking
    # on their sites in step for ever.
    return every * (1 - random.random() / 10)


def _why_not(state: SourceState, now: datetime) -> str:
    if state.not_before is not None and now < state.not_before:
        return f"连续 {state.failures} 次失败，{state.not_before:%Y-%m-%d %H:%M} UTC 之前不再读取"
    return f"已于 {state.last_polled_at:%Y-%m-%d %H:%M:%S} UTC 读取过（可能是另一个实例）"


def _store_items(
    session: Session,
    report: PollReport,
    fetched: Fetched,
    seen: set[str],
    *,
    tz: ZoneInfo,
    platform: str | None,
    now: datetime,
) -> None:
    name = report.source
    for item in fetched.items:
        digest = store.key_digest(item.key)
        if digest in seen:
            continue  # a kind that lists every item: the store knows this one
        notices = [in_zone(notice, tz) for notice in item.notices]
        problem = item.problem
        if problem is not None:
            if item.again:
                later = partial(store.put_off, session, source=name, key=item.key, now=now)
                tries = committed(session, partial(later, problem=problem))
                if tries < MAX_TRIES:
                    report.retrying += 1
                    why = f"{problem}（第 {tries} 次，下次再读）"
                    report.stored.unreadable.append((f"{name}: {item.where}", why))
                    continue
                problem = f"{problem}；{tries} 次都没读到，不再重读（gave up after {tries} polls）"
            report.stored.unreadable.append((f"{name}: {item.where}", problem))
        else:
            origin = f"{name}: {item.label}" if item.label else name
            try:
                stored = ingest(session, notices, origin=origin[:200], tz=tz, platform=platform)
            except (StoreError, SQLAlchemyError):
                raise  # the store's failure is the poll's
            except Exception as exc:  # rulewatch's bug on this notice: the others go on
                session.rollback()
                logger.exception("source %s: unexpected error reading %s", name, item.where)
                problem = f"rulewatch 读取这一条时出错（{type(exc).__name__}）; see the service log"
                report.stored.unreadable.append((f"{name}: {item.where}", problem))
            else:
                report.stored.extend(stored)
        seen.add(digest)
        notice_id = _first_notice(session, notices)
        keep = partial(
            store.add_item,
            session,
            source=name,
            key=item.key,
            notice_id=notice_id,
            problem=problem,
            now=now,
        )
        if committed(session, keep):
            report.new_items += 1


def in_zone(notice: Notice, tz: ZoneInfo) -> Notice:
    """The notice with an instant's publish time in the service zone: a feed in UTC says
    2026-12-31T17:00Z of a notice published on 1 January in Beijing, and the extractor reads
    a day without a year against the publish time's calendar date as written."""
    published = notice.published_at
    if isinstance(published, datetime) and published.tzinfo is not None:
        return replace(notice, published_at=published.astimezone(tz))
    return notice


def _first_notice(session: Session, notices: list[Notice]) -> int | None:
    for notice in notices:
        row = queries.find_notice(session, content_hash=content_hash(cleaned(notice)))
        if row is not None:
            return row.id
    return None


def _succeeded(
    session: Session, report: PollReport, state: SourceState, fetched: Fetched, now: datetime
) -> PollReport:
    report.not_modified = fetched.not_modified
    state = store.state_of(session, state.name)
    if not fetched.not_modified:
        # A list not read whole, or with an item to read again, is asked for unconditionally
        # next time. A validator longer than the store keeps is dropped too: that costs the
        # site a page, not the source its polls.
        memo = fetched.memo if fetched.complete and not report.retrying else Memo()
        state.etag = _fits(memo.etag, ETAG_MAX)
        state.last_modified = _fits(memo.last_modified, LAST_MODIFIED_MAX)
        state.fingerprint = fetched.memo.fingerprint
    state.last_success_at = now
    state.failures = 0
    # A page asked to wait (a 429 halfway down a list): what was read is kept, and the rest
    # waits as long as the site asked.
    state.not_before = now + _seconds(fetched.retry_after) if fetched.retry_after else None
    report.retry_after = fetched.retry_after
    state.items_seen += report.new_items
    if state.told_failing:
        report.turned = "recovered"
    committed(session, lambda: store.save_state(session, state))
    return report


def _fits(value: str | None, size: int) -> str | None:
    return value if value is not None and len(value) <= size else None


def _failed(
    session: Session,
    report: PollReport,
    state: SourceState,
    reason: str,
    retry_after: float | None,
    pace: Pace | None,
    now: datetime,
) -> PollReport:
    report.error = reason
    state = store.state_of(session, state.name)
    state.items_seen += report.new_items  # those kept before a failure while storing
    state.failures += 1
    state.last_error = reason
    state.last_error_at = now
    pace = pace or Pace(every=timedelta(hours=1))
    state.not_before = now + max(_backoff(pace.every, state.failures), _seconds(retry_after))
    if state.failures >= pace.alert_after and not state.told_failing:
        report.turned = "failing"
    committed(session, lambda: store.save_state(session, state))
    return report


def _backoff(every: timedelta, failures: int) -> timedelta:
    """How long a source waits after ``failures`` in a row: its interval after the first,
    then two, four, eight … intervals, at most a day (or its interval, if longer)."""
    wait: timedelta = every * 2 ** min(failures - 1, 20)
    return min(wait, max(MAX_BACKOFF, every))


def _seconds(value: float | None) -> timedelta:
    return timedelta(seconds=min(value, MAX_BACKOFF.total_seconds())) if value else timedelta()


def told(session: Session, name: str, *, failing: bool) -> None:
    """Record that the admin channel heard the source fail (or recover)."""
    state = store.state_of(session, name)
    state.told_failing = failing
    committed(session, lambda: store.save_state(session, state))
