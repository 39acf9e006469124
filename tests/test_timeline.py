"""Placing candidates on a rule's timeline: new, merged, moved (pure, no store)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from alerts.extract.model import ChangeCandidate, ChangeKind
from alerts.timeline.place import Action, ChangeState, place

TZ = ZoneInfo("Asia/Shanghai")
KEY = "淘宝商品发布规范"


def candidate(**fields: object) -> ChangeCandidate:
    values: dict[str, object] = {
        "rule": KEY,
        "rule_key": KEY,
        "platform": "淘宝",
        "kind": ChangeKind.amendment,
    }
    return ChangeCandidate(**(values | fields))  # type: ignore[arg-type]


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=TZ)


def placed(
    c: ChangeCandidate, published: datetime, known: list[ChangeState]
) -> tuple[Action, ChangeState]:
    result = place(c, rule_key=KEY, published_at=published, known=known)
    return result.action, result.change


def test_first_notice_adds_a_change_with_a_stable_uid():
    c = candidate(announced_on=date(2025, 3, 1), effective_on=date(2025, 3, 8))
    action, state = placed(c, at("2025-03-01"), [])
    assert action is Action.added
    assert state.revision == 0
    # The same notice read on another installation gets the same identity.
    assert placed(c, at("2025-03-01"), [])[1].uid == state.uid


def test_same_effective_date_merges_and_fills_the_missing_announcement():
    _, first = placed(candidate(effective_on=date(2025, 3, 8)), at("2025-03-02"), [])
    action, merged = placed(
        candidate(announced_on=date(2025, 3, 1), effective_on=date(2025, 3, 8)),
        at("2025-03-02", 15),
        [first],
    )
    assert action is Action.merged
    assert (merged.uid, merged.announced_on, merged.revision) == (first.uid, date(2025, 3, 1), 0)


def test_new_date_for_the_same_announcement_moves_the_change():
    _, first = placed(
        candidate(announced_on=date(2025, 3, 1), effective_on=date(2025, 3, 8)),
        at("2025-03-01"),
        [],
    )
    action, moved = placed(
        candidate(announced_on=date(2025, 3, 1), effective_on=date(2025, 3, 20)),
        at("2025-03-05"),
        [first],
    )
    assert action is Action.moved
    assert (moved.uid, moved.effective_on, moved.postponed_from, moved.revision) == (
        first.uid,
        date(2025, 3, 20),
        date(2025, 3, 8),
        1,
    )


def test_postponement_notice_finds_the_change_by_its_old_date():
    _, first = placed(candidate(effective_on=date(2025, 3, 8)), at("2025-03-01"), [])
    action, moved = placed(
        candidate(effective_on=date(2025, 4, 1), postponed_from=date(2025, 3, 8)),
        at("2025-03-06"),
        [first],
    )
    assert action is Action.moved
    assert (moved.uid, moved.effective_on, moved.revision) == (first.uid, date(2025, 4, 1), 1)


def test_an_older_notice_imported_later_does_not_move_the_date_back():
    _, first = placed(
        candidate(announced_on=date(2025, 3, 1), effective_on=date(2025, 3, 20)),
        at("2025-03-05"),
        [],
    )
    action, state = placed(
        candidate(announced_on=date(2025, 3, 1), effective_on=date(2025, 3, 8)),
        at("2025-03-01"),
        [first],
    )
    assert action is Action.merged
    assert (state.effective_on, state.revision) == (date(2025, 3, 20), 0)


def test_dateless_notice_joins_the_change_reported_the_same_day():
    _, dated = placed(
        candidate(announced_on=date(2025, 3, 1), effective_on=date(2025, 3, 8)),
        at("2025-03-01", 9),
        [],
    )
    action, state = placed(candidate(), at("2025-03-01", 17), [dated])
    assert action is Action.merged
    assert state.uid == dated.uid


def test_dated_notice_fills_a_dateless_change_from_the_same_day():
    _, dateless = placed(candidate(kind=ChangeKind.consultation), at("2025-03-01", 17), [])
    action, state = placed(
        candidate(announced_on=date(2025, 3, 1), effective_on=date(2025, 3, 8)),
        at("2025-03-01", 9),
        [dateless],
    )
    assert action is Action.merged
    assert (state.uid, state.effective_on, state.kind) == (
        dateless.uid,
        date(2025, 3, 8),
        ChangeKind.amendment,
    )


def test_two_different_effective_dates_without_a_shared_announcement_are_two_changes():
    _, first = placed(candidate(effective_on=date(2025, 6, 1)), at("2025-05-23"), [])
    action, second = placed(candidate(effective_on=date(2025, 6, 7)), at("2025-06-01"), [first])
    assert action is Action.added
    assert second.uid != first.uid


def test_a_firm_date_from_a_newer_notice_clears_tentative():
    _, expected = placed(
        candidate(effective_on=date(2025, 9, 23), tentative=True), at("2025-09-16"), []
    )
    _, firm = placed(candidate(effective_on=date(2025, 9, 23)), at("2025-09-20"), [expected])
    assert not firm.tentative
