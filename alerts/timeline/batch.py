"""The store work of notices read and ready to store, a batch at a time, in a few statements.

What a batch needs is read at once: its rules, their changes with the publish times of
their notices, and the changes of the uids its new changes would take (store/bulk.py).
Then each notice is placed in order, in memory, exactly as it would be alone: the timeline
(alerts/timeline/place) decides, and a later notice of the batch sees what an earlier one
did. Last, the rows are written with executemany and every change touched gets its search
document folded anew, once. The caller commits: a batch is stored whole or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlmodel import Session

from alerts import clock
from alerts.extract.model import ChangeCandidate, ChangeKind, Notice
from alerts.timeline import search
from alerts.timeline.place import Action, ChangeState, new_uid, place
from alerts.timeline.views import no_year_problem
from store import bulk, queries
from store.bulk import ChangeRow, NoticeRow, RuleRow
from store.db import TIMELINE_LOCK, hold_lock
from store.models import ChangeStatus, RuleChange, utcnow


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


@dataclass(frozen=True)
class Item:
    """A notice not stored yet, read: as it is stored, its content hash, where it came from,
    the changes read from it and the days it names without a year."""

    notice: Notice
    digest: str
    origin: str
    candidates: list[ChangeCandidate]
    without_year: list[str] = field(default_factory=list)


# Dates outside these are typos or test data, and would overflow the feed and the planner.
EARLIEST, LATEST = date(1970, 1, 1), date(2199, 12, 31)


class Timeline:
    """The rules and changes that batches in a row have read or made, and the uids they
    know to be free; it stores each batch it is given.

    What it holds stays true from one batch to the next while no other writer writes: on
    SQLite each batch holds the database (``store.db.hold_writes``) and the next asks
    whether another connection committed since (``store.bulk.version``); on PostgreSQL
    every batch reads what it needs again.
    """

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._forget()
        self._seen: tuple[int, int] | None = None  # the version the last batch committed
        self._wrote: tuple[int, int] | None = None  # the version of the batch not committed

    def _forget(self) -> None:
        self.rules: dict[str, RuleRow] = {}
        self.of_rule: dict[str, list[ChangeRow]] = {}  # by rule key, oldest first
        self.by_id: dict[int, ChangeRow] = {}
        self.by_uid: dict[str, ChangeRow | None] = {}  # None: no change has it
        self.states: dict[int, ChangeState] = {}  # by id() of the change
        self.partial: set[int] = set()  # ids of changes read without their notices

    def store(self, session: Session, items: Sequence[Item]) -> IngestReport:
        """Store ``items`` (no two with one hash, none stored yet: the callers check) and
        place their changes, in order; return what was added, merged or moved. The caller
        commits, then calls :meth:`committed`."""
        self.session = session
        # Before anything is read: a change another instance's batch adds meanwhile would
        # not be seen by this one's locking reads (PostgreSQL's READ COMMITTED).
        hold_lock(session, TIMELINE_LOCK)
        if self._seen is None or bulk.version(session) != self._seen:
            self._forget()
        self._seen = self._wrote = None  # until this batch is committed
        self.writes = bulk.Writes()
        self.indexed: dict[int, ChangeRow] = {}
        try:
            self._read(items)
            report = IngestReport()
            for item in items:
                report.extend(self.place(item))
            self._write()
        except BaseException:
            self._forget()
            raise
        self._wrote = bulk.version(session)
        return report

    def committed(self) -> None:
        """The last batch is committed: what this holds is what the store holds."""
        self._seen = self._wrote

    def _read(self, items: Sequence[Item]) -> None:
        """Read what placing ``items`` needs and this does not hold, in a few queries."""
        tz = self.tz
        keys = {self._fitted(c)[0] for item in items for c in item.candidates} - set(self.rules)
        found = bulk.rules_by_key(self.session, keys)
        self.rules |= found
        for change in bulk.changes_of_rules(self.session, list(found.values())):
            assert change.id is not None
            if change.id in self.partial:  # read before by its uid: now with its notices
                self.by_id[change.id].published = change.published
                self.partial.discard(change.id)
            kept = self.by_id.setdefault(change.id, change)
            self.of_rule.setdefault(kept.rule.key, []).append(kept)
            self.by_uid[kept.uid] = kept
        for key in found:
            self.of_rule.setdefault(key, [])
        # The uid a new change of each candidate takes first: is it some other rule's?
        uids = {
            new_uid(
                _in_range(c), c.rule_key, _local(_instant(item.notice.published_at, tz), tz), set()
            )
            for item in items
            for c in item.candidates
        }
        self._fetch(uids=sorted(uids - set(self.by_uid)))

    def _fetch(self, *, uids: Sequence[str] = (), ids: Sequence[int] = ()) -> None:
        for change in bulk.changes_by(self.session, uids=uids, ids=ids):
            assert change.id is not None
            if change.id not in self.by_id:
                self.by_id[change.id] = change
                self.partial.add(change.id)
            self.by_uid[change.uid] = self.by_id[change.id]
        for uid in uids:
            self.by_uid.setdefault(uid, None)

    def change(self, uid: str) -> ChangeRow | None:
        if uid not in self.by_uid:
            self._fetch(uids=[uid])
        return self.by_uid[uid]

    def place(self, item: Item) -> IngestReport:
        """Store one notice and place its candidates, as if it were the only one."""
        notice, candidates, without_year = item.notice, item.candidates, item.without_year
        received_at = clock.now()
        published_at = _instant(notice.published_at, self.tz)
        problem = None if candidates else "no rule change found in the text"
        if published_at is not None and not EARLIEST <= published_at.date() <= LATEST:
            published_at, candidates = None, []
            problem = f"publish time {notice.published_at} is outside 1970–2199"
        candidates = [_in_range(candidate) for candidate in candidates]
        if without_year and problem is None:
            # Kept with the notice, so the change it leaves undated says why wherever it shows.
            problem = no_year_problem(without_year)
        row = NoticeRow(
            content_hash=item.digest,
            title=notice.title[:500],
            text=notice.text,
            published_at=published_at,
            url=notice.url[:2000] if notice.url else notice.url,
            origin=item.origin[:200],
            problem=problem,
            created_at=utcnow(),
        )
        self.writes.notices.append(row)
        report = IngestReport(notices_added=1)
        if without_year:
            report.without_year.append((notice.title, without_year))
        elif problem is not None:
            report.unreadable.append((notice.title, problem))
        local_published = _local(published_at, self.tz)
        for candidate in candidates:
            rule = self._rule(candidate)
            placement = place(
                candidate,
                rule_key=candidate.rule_key,
                published_at=local_published,
                known=[self._state(c) for c in self.of_rule[rule.key]],
                received_at=received_at.astimezone(self.tz),
            )
            state = placement.change
            merged_into = self._merged_target(state.uid)
            if merged_into is not None:
                # A person merged that change into another: this notice is about that one.
                self._link(merged_into, row)
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
                state = self._unused_uid(state, candidate, local_published)
            self._save(rule, stored_fields(state), notice=notice, row=row)
            report.changes.append(
                ChangeReport(
                    action=placement.action.value,
                    uid=state.uid,
                    rule_key=candidate.rule_key,
                    effective_on=state.effective_on,
                    announced_on=state.announced_on,
                    postponed_from=state.postponed_from
                    if placement.action is Action.moved
                    else None,
                )
            )
        return report

    @staticmethod
    def _fitted(candidate: ChangeCandidate) -> tuple[str, str, str | None]:
        name = candidate.rule or candidate.rule_key
        return queries.fitted_rule(candidate.rule_key, name, candidate.platform)

    def _rule(self, candidate: ChangeCandidate) -> RuleRow:
        """The rule a candidate is a change of, added if new."""
        key, name, platform = self._fitted(candidate)
        if key not in self.rules:
            self.rules[key] = RuleRow(key=key, name=name, platform=platform, created_at=utcnow())
            self.writes.rules.append(self.rules[key])
            self.of_rule[key] = []
        return self.rules[key]

    def _merged_target(self, uid: str) -> ChangeRow | None:
        """As ``queries.merged_target``: the change a merged change went into, or None."""
        change, target = self.change(uid), None
        for _ in range(100):  # a chain of merges, never a loop: merging refuses merged changes
            if change is None or change.status != ChangeStatus.MERGED or not change.merged_into_id:
                break
            if change.merged_into_id not in self.by_id:
                self._fetch(ids=[change.merged_into_id])
            target = change = self.by_id.get(change.merged_into_id)
        return target

    def _unused_uid(
        self, state: ChangeState, candidate: ChangeCandidate, published_at: datetime | None
    ) -> ChangeState:
        """As ``ingest.unused_uid``: ``state`` with a uid no change has."""
        taken = {state.uid}
        while self.change(state.uid) is not None:
            state = replace(state, uid=new_uid(candidate, candidate.rule_key, published_at, taken))
            taken.add(state.uid)
        return state

    def _save(
        self, rule: RuleRow, fields: queries.ChangeFields, *, notice: Notice, row: NoticeRow
    ) -> None:
        """As ``queries.save_change``: add the change or update the one of its uid, and link
        it to the notice."""
        title, summary, now = notice.title, notice.text[:2000], utcnow()
        change = self.change(fields.uid)
        if change is None:
            change = ChangeRow(
                uid=fields.uid,
                rule=rule,
                platform=rule.platform,
                kind=fields.kind,
                title=title[:500],
                summary=summary,
                announced_on=fields.announced_on,
                effective_on=fields.effective_on,
                effective_at=fields.effective_at,
                tentative=fields.tentative,
                status=ChangeStatus.ACTIVE.value,
                revision=fields.revision,
                postponed_from=fields.postponed_from,
                dated_by=fields.dated_by,
                merged_into_id=None,
                created_at=now,
                updated_at=now,
            )
            self.writes.changes.append(change)
            self.by_uid[change.uid] = change
            self.of_rule[rule.key].append(change)
        else:
            moved = queries.apply_fields(
                change, fields, title=title, summary=summary, notice=row, now=now
            )
            if moved and change.id is not None:
                self.writes.updated[change.id] = change
            self.states.pop(id(change), None)
        self._link(change, row)

    def _state(self, change: ChangeRow) -> ChangeState:
        """The change as the timeline sees it, made again only once it has changed."""
        state = self.states.get(id(change))
        if state is None:
            state = self.states[id(change)] = state_of(change, change.published, self.tz)
        return state

    def _link(self, change: ChangeRow, row: NoticeRow) -> None:
        if (id(change), id(row)) not in self.writes.links:
            self.writes.link(change, row)
            change.published.append(row.published_at)
            self.states.pop(id(change), None)
        self.indexed[id(change)] = change

    def _write(self) -> None:
        """Write the batch's rows, then fold the search document of every change it touched."""
        bulk.write(self.session, self.writes)
        ids = [change.id for change in self.indexed.values() if change.id is not None]
        documents = [
            (change_id, search.document(parts, parts, parts.notices))
            for change_id, parts in bulk.described(self.session, ids).items()
        ]
        fresh = {change.id for change in self.writes.changes if change.id is not None}
        bulk.save_documents(self.session, documents, fresh=fresh)


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


def state_of(
    change: RuleChange | ChangeRow, published: Iterable[datetime | None], tz: ZoneInfo
) -> ChangeState:
    """A stored change as the timeline places candidates among its rule's changes, given the
    publish times of its notices."""
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
        published_days=frozenset(p.astimezone(tz).date() for p in published if p),
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


def _local(published_at: datetime | None, tz: ZoneInfo) -> datetime | None:
    return published_at.astimezone(tz) if published_at else None
