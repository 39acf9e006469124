"""Notices into the store: extract, place each change on its rule's timeline, save.

This is the one write path for rule changes, used by `rulewatch import`, `rulewatch add` and
the API alike. It is idempotent: a notice already stored (same content hash) changes nothing.
"""

from __future__ import annotations

import codecs
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import charset_normalizer
from sqlmodel import Session

from alerts import clock
from alerts.errors import ExtractionError, Refused, RulewatchError
from alerts.extract import extract, read_notices, unplaced_days
from alerts.extract.model import ChangeCandidate, ChangeKind, Notice
from alerts.extract.rules import canonical_rule, rule_key
from alerts.timeline import search
from alerts.timeline.place import Action, ChangeState, new_uid, place
from alerts.timeline.views import no_year_problem
from store import queries
from store.db import committed
from store.models import ChangeStatus, Rule, RuleChange
from store.models import Notice as NoticeRow


@dataclass(frozen=True)
class ChangeReport:
    """What happened to one change because of one notice."""

    action: str  # "added", "merged", "moved"
    uid: str
    rule_key: str
    effective_on: date | None
    announced_on: date | None
    postponed_from: date | None = None


@dataclass
class IngestReport:
    """The outcome of storing a batch of notices."""

    notices_added: int = 0
    notices_known: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (title, reason)
    # (title, days): a notice naming days it gives no year for, so its changes lack them
    without_year: list[tuple[str, list[str]]] = field(default_factory=list)
    changes: list[ChangeReport] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for change in self.changes if change.action == action)

    def extend(self, other: IngestReport) -> None:
        self.notices_added += other.notices_added
        self.notices_known += other.notices_known
        self.unreadable.extend(other.unreadable)
        self.without_year.extend(other.without_year)
        self.changes.extend(other.changes)


def ingest(
    session: Session,
    notices: Iterable[Notice],
    *,
    origin: str,
    tz: ZoneInfo,
    platform: str | None = None,
) -> IngestReport:
    """Store each notice and the changes read from it; return what was added, merged or moved.

    ``platform`` is the platform of a change whose notice names none (a source that is one
    platform's rule centre). Each notice is committed on its own: an import stopped halfway
    keeps what it stored, and two imports of the same file at once store each notice once
    (the second finds it).
    """
    report = IngestReport()
    for notice in notices:
        write = partial(ingest_notice, session, notice, origin=origin, tz=tz, platform=platform)
        report.extend(committed(session, write))
    return report


def ingest_notice(
    session: Session,
    notice: Notice,
    *,
    origin: str,
    tz: ZoneInfo,
    platform: str | None = None,
) -> IngestReport:
    """Store one notice (unless already stored) and place the changes extracted from it."""
    notice = cleaned(notice)
    digest = content_hash(notice)
    if queries.find_notice(session, content_hash=digest) is not None:
        return IngestReport(notices_known=1)  # known: nothing to read again
    candidates = changes_in(notice, platform=platform)
    # Days without a year matter only where they leave a change without a date.
    undated = not candidates or any(
        c.effective_on is None or c.announced_on is None for c in candidates
    )
    without_year = unplaced_days(notice) if undated else []
    return _store(
        session,
        _capped(notice),
        candidates,
        origin=origin,
        tz=tz,
        digest=digest,
        without_year=without_year,
    )


def cleaned(notice: Notice) -> Notice:
    """The notice as it is stored and known by its content hash."""
    # PostgreSQL cannot store NUL in text, and no reader needs it.
    # A byte-order mark pasted into a title is no part of it.
    return replace(
        notice,
        title=notice.title.replace("\x00", "").removeprefix("\ufeff"),
        text=notice.text.replace("\x00", "").removeprefix("\ufeff"),
    )


def changes_in(notice: Notice, *, platform: str | None = None) -> list[ChangeCandidate]:
    """The changes read from ``notice``, those naming no platform under ``platform``: what
    an import stores, and what `rulewatch sources try` shows a poll would."""
    return [_on_platform(c, platform) for c in extract(notice)]


def _on_platform(candidate: ChangeCandidate, platform: str | None) -> ChangeCandidate:
    """The candidate with ``platform`` when its notice named none, keyed under it."""
    if platform is None or candidate.platform is not None:
        return candidate
    key = rule_key(candidate.rule or candidate.rule_key, platform)
    return replace(candidate, platform=platform, rule_key=key)


# The most of a notice's text that is stored (and so shown on its pages): the changes are
# read from the whole text first. The API takes no more than this in one notice.
TEXT_CAP = 200_000


def _capped(notice: Notice) -> Notice:
    if len(notice.text) <= TEXT_CAP:
        return notice
    note = f"\n……（原文共 {len(notice.text):,} 字，此处只保存前 {TEXT_CAP:,} 字）"
    return replace(notice, text=notice.text[:TEXT_CAP] + note)


def add_change(
    session: Session,
    *,
    rule: str,
    platform: str | None,
    effective_on: date,
    announced_on: date | None = None,
    effective_at: time | None = None,
    title: str | None = None,
    url: str | None = None,
    tentative: bool = False,
    kind: ChangeKind = ChangeKind.amendment,
    note: str | None = None,
    now: datetime,
    tz: ZoneInfo,
) -> IngestReport:
    """Enter a change by hand; it is stored with a notice saying so, like any other source,
    whose text is ``note`` (or empty).

    Entering the same change twice changes nothing. Raises RulewatchError for a date outside
    1970–2199.
    """
    for label, value in (("effective date", effective_on), ("announcement date", announced_on)):
        if value is not None and not EARLIEST <= value <= LATEST:
            raise RulewatchError(
                f"{label} {value} is outside the dates rulewatch keeps (1970–2199)"
            )
    name, key, platform = canonical_rule(rule, platform)
    if len(key) > queries.KEY_LENGTH:
        room = queries.KEY_LENGTH - (len(key) - len(name))
        raise RulewatchError(
            f"the rule name is {len(name)} characters long; with its platform it may be "
            f"{room} at most"
        )
    candidate = ChangeCandidate(
        rule=name,
        rule_key=key,
        platform=platform,
        kind=kind,
        announced_on=announced_on,
        effective_on=effective_on,
        effective_at=effective_at,
        tentative=tentative,
    )
    # The text is what its author wrote about it, if anything: it shows in every message,
    # the feed and the change page. What the change is, is the identity of the entry.
    text = note.strip() if note else ""
    fields = json.dumps(candidate.as_json() | {"url": url}, ensure_ascii=False, sort_keys=True)
    notice = Notice(title=title or name, text=text, published_at=now, url=url)
    digest = _digest(["manual", fields, title or "", text])
    if queries.find_notice(session, content_hash=digest) is not None:
        return IngestReport(notices_known=1)
    return _store(session, notice, [candidate], origin="manual", tz=tz, digest=digest)


# Dates outside these are typos or test data, and would overflow the feed and the planner.
EARLIEST, LATEST = date(1970, 1, 1), date(2199, 12, 31)


def withdraw(session: Session, *, uid: str, now: datetime) -> RuleChange | None:
    """Mark the change of ``uid`` withdrawn: it leaves the feed, its pending reminders are
    cancelled at the next planning and channels are told once. None when no change has that
    uid; withdrawing twice changes nothing. Raises Refused (409) for a change a person merged
    or deleted: it was never the platform's to withdraw."""
    found = queries.get_change(session, uid=uid)
    if found is not None and found[0].status in (ChangeStatus.MERGED, ChangeStatus.DELETED):
        raise Refused(
            f"变更 {uid} 已{'合并' if found[0].status == ChangeStatus.MERGED else '删除'}，"
            f"不能撤回（it is {found[0].status}）",
            status=409,
        )
    return queries.withdraw_change(session, uid=uid, now=now)


def content_hash(notice: Notice) -> str:
    """The identity of a notice's content: the same text from the same time is the same notice."""
    published = notice.published_at.isoformat() if notice.published_at else None
    return _digest([notice.title, notice.text, published, notice.url])


def _digest(parts: list[str | None]) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def _store(
    session: Session,
    notice: Notice,
    candidates: list[ChangeCandidate],
    *,
    origin: str,
    tz: ZoneInfo,
    digest: str,
    without_year: list[str] | None = None,
) -> IngestReport:
    """Store a notice not stored yet (its callers check) and place its candidates."""
    received_at = clock.now()
    published_at = _instant(notice.published_at, tz)
    problem = None if candidates else "no rule change found in the text"
    if published_at is not None and not EARLIEST <= published_at.date() <= LATEST:
        published_at, candidates = None, []
        problem = f"publish time {notice.published_at} is outside 1970–2199"
    candidates = [_in_range(candidate) for candidate in candidates]
    if without_year and problem is None:
        # Kept with the notice, so the change it leaves undated says why wherever it shows.
        problem = no_year_problem(without_year)
    row = queries.add_notice(
        session,
        content_hash=digest,
        title=notice.title,
        text=notice.text,
        published_at=published_at,
        url=notice.url,
        origin=origin,
        problem=problem,
    )
    report = IngestReport(notices_added=1)
    if without_year:
        report.without_year.append((notice.title, without_year))
    elif problem is not None:
        report.unreadable.append((notice.title, problem))
    local_published = published_at.astimezone(tz) if published_at else None
    for candidate in candidates:
        rule = rule_of(session, candidate)
        known = known_states(session, rule_id=_rule_id(rule.id), tz=tz)
        placement = place(
            candidate,
            rule_key=candidate.rule_key,
            published_at=local_published,
            known=known,
            received_at=received_at.astimezone(tz),
        )
        state = placement.change
        merged_into = queries.merged_target(session, uid=state.uid)
        if merged_into is not None:
            # A person merged that change into another: this notice is about that one.
            queries.add_source(session, change=merged_into, notice=row)
            index_change(session, merged_into)
            report.changes.append(
                ChangeReport(
                    action=Action.merged.value,
                    uid=merged_into.uid,
                    rule_key=candidate.rule_key,
                    effective_on=merged_into.effective_on,
                    announced_on=merged_into.announced_on,
                )
            )
            continue
        if placement.action is Action.added:
            state = unused_uid(session, state, candidate, local_published)
        change = queries.save_change(
            session,
            rule=rule,
            fields=stored_fields(state),
            title=notice.title,
            summary=notice.text[:2000],
            notice=row,
        )
        index_change(session, change, rule)
        report.changes.append(
            ChangeReport(
                action=placement.action.value,
                uid=state.uid,
                rule_key=candidate.rule_key,
                effective_on=state.effective_on,
                announced_on=state.announced_on,
                postponed_from=state.postponed_from if placement.action is Action.moved else None,
            )
        )
    return report


def unused_uid(
    session: Session,
    state: ChangeState,
    candidate: ChangeCandidate,
    published_at: datetime | None,
) -> ChangeState:
    """``state`` with a uid no stored change has: the timeline makes a new change's uid
    unique among its rule's changes, and a change corrected onto another rule keeps its own."""
    taken = {state.uid}
    while queries.get_change(session, uid=state.uid) is not None:
        state = replace(state, uid=new_uid(candidate, candidate.rule_key, published_at, taken))
        taken.add(state.uid)
    return state


def rule_of(session: Session, candidate: ChangeCandidate) -> Rule:
    """The stored rule a candidate is a change of, added if new."""
    return queries.get_or_add_rule(
        session,
        key=candidate.rule_key,
        name=candidate.rule or candidate.rule_key,
        platform=candidate.platform,
    )


def stored_fields(state: ChangeState) -> queries.ChangeFields:
    """A change as the timeline placed it, as the store keeps it."""
    return queries.ChangeFields(
        uid=state.uid,
        kind=state.kind.value,
        announced_on=state.announced_on,
        effective_on=state.effective_on,
        effective_at=state.effective_at,
        tentative=state.tentative,
        revision=state.revision,
        postponed_from=state.postponed_from,
        dated_by=state.dated_by,
    )


def index_change(session: Session, change: RuleChange, rule: Rule | None = None) -> None:
    """Fold the change's search document anew: it may have a new source, title, summary or
    rule. Every write to a change calls this."""
    if change.id is None:
        raise RuntimeError("change was not flushed")
    rule = rule or session.get(Rule, change.rule_id)
    if rule is None:
        raise RuntimeError(f"change {change.uid} has no rule")
    notices = queries.notices_of_change(session, change_id=change.id)
    queries.save_search_document(
        session, change=change, document=search.document(rule, change, notices)
    )


def known_states(session: Session, *, rule_id: int, tz: ZoneInfo) -> list[ChangeState]:
    """The rule's stored changes as the timeline places candidates among them."""
    return [
        _state(change, notices, tz)
        for change, notices in queries.changes_of_rule(session, rule_id=rule_id)
    ]


def _state(change: RuleChange, notices: list[NoticeRow], tz: ZoneInfo) -> ChangeState:
    return ChangeState(
        uid=change.uid,
        kind=ChangeKind(change.kind),
        announced_on=change.announced_on,
        effective_on=change.effective_on,
        effective_at=change.effective_at,
        tentative=change.tentative,
        revision=change.revision,
        postponed_from=change.postponed_from,
        dated_by=change.dated_by.astimezone(tz) if change.dated_by else None,
        published_days=frozenset(
            n.published_at.astimezone(tz).date() for n in notices if n.published_at
        ),
    )


def _in_range(candidate: ChangeCandidate) -> ChangeCandidate:
    def kept(value: date | None) -> date | None:
        return value if value is not None and EARLIEST <= value <= LATEST else None

    return replace(
        candidate,
        announced_on=kept(candidate.announced_on),
        effective_on=kept(candidate.effective_on),
        postponed_from=kept(candidate.postponed_from),
    )


def _instant(value: datetime | date | None, tz: ZoneInfo) -> datetime | None:
    """An aware instant for a publish time; naive times and bare dates are in the service zone."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time())
    return value if value.tzinfo else value.replace(tzinfo=tz)


def _rule_id(value: int | None) -> int:
    if value is None:
        raise RuntimeError("rule was not flushed")
    return value


def import_files(
    session: Session,
    paths: Iterable[Path],
    *,
    format: str = "auto",
    tz: ZoneInfo,
    published_at: datetime | date | None = None,
) -> IngestReport:
    """Read notices from each file and store them, naming the file as their origin.

    Raises ExtractionError when a file cannot be read or is not in the given format.
    """
    report = IngestReport()
    for path in paths:
        notices = notices_in(path, format=format, published_at=published_at)
        report.extend(ingest(session, notices, origin=path.name, tz=tz))
    return report


def notices_in(
    path: Path, *, format: str = "auto", published_at: datetime | date | None = None
) -> list[Notice]:
    """The notices of one file, decoded as :func:`decode` does. Raises ExtractionError naming
    the file when it cannot be read or is not in the given format."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExtractionError(f"cannot read {path}: {exc.strerror or exc}") from exc
    text = decode(data, where=str(path))
    try:
        return read_notices(text, format=format, published_at=published_at)
    except ExtractionError as exc:
        raise ExtractionError(f"{path}: {exc}") from exc


# The encodings a notice file other than UTF-8 is taken to be in, when the detector says so:
# Chinese ones (GB2312 and GBK read as GB18030, which holds both; a GB2312 label often hides
# GBK) and UTF-16/32. Any other guess about bytes that are not UTF-8 is more likely a damaged
# UTF-8 file than, say, Korean, and reading it so would store garbage.
_READ_AS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "cp936": "gb18030",
    "gb18030": "gb18030",
    "big5": "big5",
    "big5hkscs": "big5hkscs",
    "cp950": "big5",
    "utf_16": "utf_16",
    "utf_32": "utf_32",
}


def decode(data: bytes, *, where: str) -> str:
    """``data`` as text: UTF-8 (a byte-order mark dropped), else the encoding it reads as
    (GBK, a Chinese Windows user's default, most often), never with a character replaced.

    Raises ExtractionError naming ``where`` and the first byte that is not UTF-8 (line and
    column) when no encoding reads it whole, rather than a codec's message.
    """
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
    guess = charset_normalizer.from_bytes(data).best()
    encoding = _READ_AS.get(guess.encoding) if guess is not None else None
    if encoding is not None:
        try:
            return data.decode(encoding).removeprefix("\ufeff")
        except UnicodeDecodeError:
            pass
    line = data.count(b"\n", 0, start) + 1
    column = start - (data.rfind(b"\n", 0, start) + 1) + 1
    raise ExtractionError(
        f"{where} is not UTF-8 text, nor in an encoding it could be read in whole: byte "
        f"0x{data[start]:02x} at line {line}, column {column}; save it as UTF-8 and try again"
    )


def sample_path() -> Path:
    """The bundled sample listing (1688 rules, in the seed listing's layout)."""
    return Path(__file__).parents[1] / "sample" / "1688-rules.txt"
