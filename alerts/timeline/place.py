"""Where a change read from a notice belongs on its rule's timeline.

Pure: given the changes already known for one rule and a new candidate, decide whether the
candidate is a new change, another source for a known one, or moves a known one to a new
effective date. The caller (alerts/timeline/ingest.py) reads and writes the store around this.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from enum import StrEnum

from alerts.extract.model import ChangeCandidate, ChangeKind

# Fixed so that the same notice gives the same uid on every installation.
_UID_NAMESPACE = uuid.UUID("6b1f2a4e-6d2c-4c41-9a51-2f3b8f0e7d10")


class Action(StrEnum):
    added = "added"  # a change not seen before
    merged = "merged"  # one more source for a known change (missing dates may be filled in)
    moved = "moved"  # a known change now takes effect on another date


@dataclass(frozen=True)
class ChangeState:
    """What the timeline needs to know of a stored change."""

    uid: str
    kind: ChangeKind
    announced_on: date | None
    effective_on: date | None
    effective_at: time | None = None
    tentative: bool = False
    revision: int = 0
    postponed_from: date | None = None
    dated_by: datetime | None = None  # publish time of the notice the dates came from
    published_days: frozenset[date] = frozenset()  # publish dates of its notices


@dataclass(frozen=True)
class Placement:
    """The decision for one candidate: what to do, and the change as it should be stored."""

    action: Action
    change: ChangeState


def place(
    candidate: ChangeCandidate,
    *,
    rule_key: str,
    published_at: datetime | None,
    known: Sequence[ChangeState],
    received_at: datetime | None = None,
) -> Placement:
    """Decide where ``candidate`` goes among the ``known`` changes of its rule.

    Matching, in order: the date a postponement moves away from; the same effective date;
    the same announcement date (a different effective date then moves the change, if this
    notice is newer than the one that set it); for a candidate or change without dates, a
    notice published the same day. Otherwise the candidate is a new change.

    A notice that states a postponement of the change it matches (原定X，延期至Y) moves it
    whatever its publish time; otherwise notices are ordered by publish time, and one that
    gives none by ``received_at``, the time it reached the store.
    """
    published_on = published_at.date() if published_at else None
    match = _find(candidate, published_on, known)
    if match is None:
        return Placement(Action.added, fresh_state(candidate, rule_key, published_at, known))
    postpones = (
        candidate.postponed_from is not None and candidate.postponed_from == match.effective_on
    )
    ordered_at = published_at or received_at
    newer = postpones or _is_newer(ordered_at, match.dated_by)
    if (
        candidate.effective_on is not None
        and match.effective_on is not None
        and candidate.effective_on != match.effective_on
        and newer
    ):
        moved = replace(
            match,
            effective_on=candidate.effective_on,
            effective_at=candidate.effective_at,
            announced_on=match.announced_on or candidate.announced_on,
            tentative=candidate.tentative,
            revision=match.revision + 1,
            postponed_from=match.effective_on,
            dated_by=ordered_at,
            kind=_kind(match.kind, candidate.kind),
            published_days=_days(match, published_on),
        )
        return Placement(Action.moved, moved)
    return Placement(Action.merged, _merge(match, candidate, published_on, ordered_at, newer))


def _find(
    candidate: ChangeCandidate, published_on: date | None, known: Sequence[ChangeState]
) -> ChangeState | None:
    if candidate.postponed_from is not None:
        for state in known:
            if state.effective_on == candidate.postponed_from:
                return state
    if candidate.effective_on is not None:
        for state in known:
            if state.effective_on == candidate.effective_on:
                return state
    if candidate.announced_on is not None:
        for state in known:
            if state.announced_on == candidate.announced_on:
                return state
    if published_on is None:
        return None
    dateless_candidate = candidate.announced_on is None and candidate.effective_on is None
    for state in known:
        same_day = published_on in state.published_days or state.announced_on == published_on
        dateless_state = state.announced_on is None and state.effective_on is None
        # A dated change and a dateless one meet only when one of them has no dates at all:
        # two dated changes with different dates are two changes.
        if same_day and (dateless_candidate or dateless_state):
            return state
    return None


def _merge(
    state: ChangeState,
    candidate: ChangeCandidate,
    published_on: date | None,
    ordered_at: datetime | None,
    newer: bool,
) -> ChangeState:
    filled_effective = state.effective_on is None and candidate.effective_on is not None
    return replace(
        state,
        announced_on=state.announced_on or candidate.announced_on,
        effective_on=state.effective_on or candidate.effective_on,
        effective_at=state.effective_at or candidate.effective_at,
        # A firm date from a newer notice replaces an expected one, and the reverse too.
        tentative=candidate.tentative if (newer or filled_effective) else state.tentative,
        dated_by=ordered_at if (newer or filled_effective) else state.dated_by,
        kind=_kind(state.kind, candidate.kind),
        published_days=_days(state, published_on),
    )


def _kind(known: ChangeKind, read: ChangeKind) -> ChangeKind:
    # A consultation that is followed by the final text becomes that change.
    return read if known is ChangeKind.consultation else known


def _days(state: ChangeState, published_on: date | None) -> frozenset[date]:
    return state.published_days | {published_on} if published_on else state.published_days


def _is_newer(published_at: datetime | None, dated_by: datetime | None) -> bool:
    if dated_by is None:
        return True
    if published_at is None:
        return False
    return published_at > dated_by


def fresh_state(
    candidate: ChangeCandidate,
    rule_key: str,
    published_at: datetime | None,
    known: Sequence[ChangeState],
) -> ChangeState:
    """``candidate`` as a change of its own, with a uid none of ``known`` has: what a new
    change is, and what a source split off a change becomes."""
    return ChangeState(
        uid=new_uid(candidate, rule_key, published_at, {state.uid for state in known}),
        kind=candidate.kind,
        announced_on=candidate.announced_on,
        effective_on=candidate.effective_on,
        effective_at=candidate.effective_at,
        tentative=candidate.tentative,
        postponed_from=candidate.postponed_from,
        dated_by=published_at,
        published_days=frozenset({published_at.date()}) if published_at else frozenset(),
    )


def new_uid(
    candidate: ChangeCandidate, rule_key: str, published_at: datetime | None, taken: set[str]
) -> str:
    """The uid of a new change: the same for the same notice on every installation, and
    none of ``taken``."""
    seed = "|".join(
        [
            rule_key,
            str(candidate.announced_on or ""),
            str(candidate.effective_on or ""),
            published_at.date().isoformat() if published_at else "",
        ]
    )
    uid = uuid.uuid5(_UID_NAMESPACE, seed).hex
    counter = 1
    while uid in taken:  # a moved change may have left its first date's uid behind
        counter += 1
        uid = uuid.uuid5(_UID_NAMESPACE, f"{seed}|{counter}").hex
    return uid
