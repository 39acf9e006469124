"""Notices into the store: extract, place each change on its rule's timeline, save.

This is the one write path for rule changes, used by `rulewatch import`, `rulewatch add` and
the API alike. It is idempotent: a notice already stored (same content hash) changes nothing.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, datetime, time
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import charset_normalizer
from sqlmodel import Session

from alerts.errors import ExtractionError, Refused, RulewatchError
from alerts.extract import read_notices
from alerts.extract.model import ChangeCandidate, ChangeKind, Notice
from alerts.extract.rules import canonical_rule
from alerts.timeline import batch, reading, search
from alerts.timeline.batch import (
    EARLIEST,
    LATEST,
    ChangeReport,
    IngestReport,
    Item,
    state_of,
    stored_fields,
)
from alerts.timeline.place import ChangeState, new_uid
from alerts.timeline.reading import TEXT_CAP, changes_in, cleaned, content_hash, digest
from store import bulk, queries
from store.db import committed, hold_writes
from store.models import ChangeStatus, Rule, RuleChange

__all__ = [
    "EARLIEST",
    "LATEST",
    "TEXT_CAP",
    "ChangeReport",
    "IngestReport",
    "changes_in",
    "cleaned",
    "content_hash",
    "stored_fields",
]


# Notices stored per transaction: an import stopped halfway keeps the batches it committed.
BATCH = 2000


def ingest(
    session: Session,
    notices: Iterable[Notice],
    *,
    origin: str,
    tz: ZoneInfo,
    platform: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Store each notice and the changes read from it; return what was added, merged or moved.

    ``platform`` is the platform of a change whose notice names none (a source that is one
    platform's rule centre). The notices are committed in batches of :data:`BATCH`, each
    whole or not at all: an import stopped halfway keeps the batches it stored, and two
    imports of the same file at once store each notice once (the second finds it).
    ``progress`` is told how many notices each committed batch held.
    """
    every = [reading.pending(notice, platform) for notice in notices]
    batches = [every[start : start + BATCH] for start in range(0, len(every), BATCH)]
    # Read outside the writes, which hold the store: each notice not stored yet, once.
    known = bulk.known_hashes(session, [entry.digest for entry in every])
    session.commit()
    timeline = batch.Timeline(tz)  # what one batch read, for the next when still true
    report = IngestReport()
    for entries in batches:
        for entry in entries:
            if entry.digest not in known:
                known.add(entry.digest)  # read once: a repeat is known when it is stored
                entry.item = reading.read(entry, origin)
        write = partial(_write, session, entries, origin=origin, timeline=timeline)
        report.extend(committed(session, write))
        timeline.committed()
        if progress is not None:
            progress(len(entries))
    return report


def ingest_notice(
    session: Session,
    notice: Notice,
    *,
    origin: str,
    tz: ZoneInfo,
    platform: str | None = None,
) -> IngestReport:
    """Store one notice (unless already stored) and place the changes extracted from it:
    a batch of one. The caller commits."""
    pending = [reading.pending(notice, platform)]
    return _write(session, pending, origin=origin, timeline=batch.Timeline(tz))


def _write(
    session: Session, pending: list[reading.Pending], *, origin: str, timeline: batch.Timeline
) -> IngestReport:
    """Store the notices not stored yet, each once: a known one is not read again."""
    hold_writes(session)
    known = bulk.known_hashes(session, [p.digest for p in pending])
    report = IngestReport()
    items = []
    for entry in pending:
        if entry.digest in known:
            report.notices_known += 1
            continue
        known.add(entry.digest)
        entry.item = entry.item or reading.read(entry, origin)
        items.append(entry.item)
    report.extend(timeline.store(session, items))
    return report


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
    hashed = digest(["manual", fields, title or "", text])
    hold_writes(session)
    if queries.find_notice(session, content_hash=hashed) is not None:
        return IngestReport(notices_known=1)
    return batch.Timeline(tz).store(session, [Item(notice, hashed, "manual", [candidate])])


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
        state_of(change, [n.published_at for n in notices], tz)
        for change, notices in queries.changes_of_rule(session, rule_id=rule_id)
    ]


def import_files(
    session: Session,
    paths: Iterable[Path],
    *,
    format: str = "auto",
    tz: ZoneInfo,
    published_at: datetime | date | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> IngestReport:
    """Read notices from each file and store them, naming the file as their origin;
    ``progress`` is told the file's name, the notices done and its notices after each batch.

    Raises ExtractionError when a file cannot be read or is not in the given format.
    """
    report = IngestReport()
    for path in paths:
        notices = notices_in(path, format=format, published_at=published_at)
        done = 0

        def stored(count: int, name: str = path.name, total: int = len(notices)) -> None:
            nonlocal done
            done += count
            if progress is not None:
                progress(name, done, total)

        report.extend(ingest(session, notices, origin=path.name, tz=tz, progress=stored))
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
