"""Planning reminders (pure): kinds, due instants, idempotence, moves, channels coming and going."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from alerts.config import Watch
from alerts.reminders.planner import ChannelState, KnownReminder, PlannedChange, Timing, plan
from alerts.reminders.workdays import previous_workday
from alerts.watches import ChangeFacts

TZ = ZoneInfo("Asia/Shanghai")
TIMING = Timing(tz=TZ, at=time(9, 0), default_lead_days=[7, 1, 0])
SHIPPING = "1688商家发货行为管理规范"
WATCH = Watch(name="shipping", rules=[SHIPPING], channels=["hook"])
HOOK = ChannelState(name="hook", active=True, created_at=datetime(2025, 1, 1, tzinfo=UTC))


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def change(effective_on: date | None = date(2026, 12, 15), **fields) -> PlannedChange:
    values = {
        "id": 1,
        "uid": "c1",
        "facts": ChangeFacts(
            rule_key=SHIPPING, rule_name=SHIPPING, platform="1688", effective_on=effective_on
        ),
        "status": "active",
        "revision": 0,
        "postponed_from": None,
        "created_at": local("2026-11-27 10:00"),
        "updated_at": local("2026-11-27 10:00"),
    }
    return PlannedChange(**(values | fields))


def planned(
    changes, *, known=(), watches=(WATCH,), channels=(HOOK,), now="2026-11-27 10:00", timing=TIMING
):
    return plan(
        changes,
        watches=list(watches),
        channels=list(channels),
        known=list(known),
        timing=timing,
        now=local(now),
    )


def known_from(drafts, status="pending"):
    return [
        KnownReminder(i, d.dedupe_key, d.change_id, d.channel, d.kind, d.revision, status)
        for i, d in enumerate(drafts, start=1)
    ]


def test_a_new_watched_change_gets_announced_and_lead_reminders():
    result = planned([change()])
    assert [(d.kind, d.lead_days, d.due_at) for d in result.create] == [
        ("announced", None, local("2026-11-27 10:00")),
        ("lead", 7, local("2026-12-08 09:00")),
        ("lead", 1, local("2026-12-14 09:00")),
        ("lead", 0, local("2026-12-15 09:00")),
    ]
    assert len({d.uid for d in result.create}) == 4
    assert result.cancel == []


def test_planning_twice_creates_nothing_new():
    first = planned([change()])
    again = planned([change()], known=known_from(first.create))
    assert again.create == [] and again.cancel == []
    # Sent or cancelled rows still count: they are never planned again.
    assert planned([change()], known=known_from(first.create, status="sent")).create == []


def test_unwatched_changes_and_past_changes_get_nothing():
    other = change(
        facts=ChangeFacts(
            rule_key="淘宝规则",
            rule_name="淘宝规则",
            platform="淘宝",
            effective_on=date(2026, 12, 15),
        )
    )
    assert planned([other]).create == []
    assert planned([change(date(2026, 11, 1))]).create == []
    # No effective date: nothing to count down to, and nothing announced.
    assert planned([change(None)]).create == []


def test_leads_that_fell_before_the_change_was_known_are_skipped():
    # Stored on 12-10: the 7-day reminder (12-08) was never due while the change was known.
    result = planned(
        [change(created_at=local("2026-12-10 08:00"), updated_at=local("2026-12-10 08:00"))],
        now="2026-12-10 08:00",
    )
    assert [(d.kind, d.lead_days) for d in result.create] == [
        ("announced", None),
        ("lead", 1),
        ("lead", 0),
    ]


def test_a_watch_can_override_lead_days_and_watches_to_one_channel_merge():
    tight = Watch(name="tight", rules=[SHIPPING], channels=["hook"], lead_days=[3])
    result = planned([change()], watches=[WATCH, tight])
    assert sorted(d.lead_days for d in result.create if d.kind == "lead") == [0, 1, 3, 7]


def test_previous_workday_moves_reminders_off_holidays():
    timing = Timing(tz=TZ, at=time(9, 0), default_lead_days=[7], shift=previous_workday)
    # 2025-10-08 is in the National Day holiday; 7 days before 10-15 is 10-08 → 09-30.
    result = planned(
        [change(date(2025, 10, 15), created_at=local("2025-09-01 10:00"))],
        now="2025-09-01 10:00",
        timing=timing,
    )
    assert [d.due_at for d in result.create if d.kind == "lead"] == [local("2025-09-30 09:00")]


def test_previous_workday_keeps_a_make_up_saturday():
    # 2025-09-28 is a Sunday worked in exchange for the holiday (调休): a working day.
    assert previous_workday(date(2025, 9, 28)) == date(2025, 9, 28)
    assert previous_workday(date(2025, 10, 4)) == date(2025, 9, 30)


def test_moved_change_cancels_old_leads_and_plans_changed_and_new_leads():
    first = planned([change()])
    moved = change(
        date(2026, 12, 31),
        revision=1,
        postponed_from=date(2026, 12, 15),
        updated_at=local("2026-12-01 12:00"),
    )
    result = planned([moved], known=known_from(first.create), now="2026-12-01 12:00")
    cancelled_ids = {rid for rid, _ in result.cancel}
    assert cancelled_ids == {2, 3, 4}  # the three leads for 12-15
    assert "2026-12-31" in result.cancel[0][1]
    changed = [d for d in result.create if d.kind == "changed"]
    assert [(d.context, d.due_at) for d in changed] == [
        ({"from": "2026-12-15", "to": "2026-12-31"}, local("2026-12-01 12:00"))
    ]
    assert sorted((d.lead_days, d.due_at) for d in result.create if d.kind == "lead") == [
        (0, local("2026-12-31 09:00")),
        (1, local("2026-12-30 09:00")),
        (7, local("2026-12-24 09:00")),
    ]


def test_withdrawn_change_cancels_pending_and_says_so_once():
    first = planned([change()])
    withdrawn = change(status="withdrawn", updated_at=local("2026-12-01 12:00"))
    result = planned([withdrawn], known=known_from(first.create), now="2026-12-01 12:00")
    assert {rid for rid, _ in result.cancel} == {1, 2, 3, 4}
    assert [(d.kind, d.context["withdrawn"]) for d in result.create] == [("changed", True)]


def test_a_new_channel_gets_no_backlog():
    late = ChannelState(name="hook", active=True, created_at=local("2026-12-10 00:00"))
    result = planned([change()], channels=[late], now="2026-12-10 00:00")
    # Not announced (stored before the channel existed) and no 7-day reminder from 12-08.
    assert [(d.kind, d.lead_days) for d in result.create] == [("lead", 1), ("lead", 0)]


@pytest.mark.parametrize(
    "channels, reason",
    [
        pytest.param(
            [ChannelState("hook", False, HOOK.created_at)], "已从配置中移除", id="removed"
        ),
        pytest.param([HOOK, ChannelState("other", True, HOOK.created_at)], None, id="still-routed"),
    ],
)
def test_pending_rows_of_a_removed_channel_are_cancelled(channels, reason):
    first = planned([change()])
    result = planned([change()], known=known_from(first.create), channels=channels)
    if reason is None:
        assert result.cancel == []
    else:
        assert len(result.cancel) == 4 and all(reason in why for _, why in result.cancel)


def test_a_watch_that_stops_matching_cancels_pending_rows():
    first = planned([change()])
    result = planned(
        [change()],
        known=known_from(first.create),
        watches=[Watch(name="x", rules=["别的规则"], channels=["hook"])],
    )
    assert len(result.cancel) == 4


@pytest.mark.parametrize(
    "watch, facts, expected",
    [
        pytest.param(
            Watch(name="w", rules=["商家发货行为管理规范"]),
            ("1688商家发货行为管理规范", "1688"),
            True,
            id="rule-without-platform-prefix",
        ),
        pytest.param(
            Watch(name="w", platforms=["1688"]),
            ("1688商家服务管理规范", "1688"),
            True,
            id="platform-only",
        ),
        pytest.param(
            Watch(name="w", platforms=["抖店"]),
            ("抖音电商商品发布规范", "抖音电商"),
            True,
            id="platform-alias",
        ),
        pytest.param(
            Watch(name="w", platforms=["淘宝"], keywords=["发货"]),
            ("1688商家发货行为管理规范", "1688"),
            False,
            id="platform-narrows",
        ),
        pytest.param(
            Watch(name="w", keywords=["发货"]),
            ("1688商家发货行为管理规范", "1688"),
            True,
            id="keyword",
        ),
        pytest.param(
            Watch(name="w", regex=[r"直播.*规范"]),
            ("1688直播平台管理规范", "1688"),
            True,
            id="regex",
        ),
        pytest.param(
            Watch(name="w", regex=[r"^淘宝"]),
            ("1688直播平台管理规范", "1688"),
            False,
            id="regex-miss",
        ),
    ],
)
def test_watch_matching(watch, facts, expected):
    from alerts.watches import matches

    key, platform = facts
    assert matches(watch, ChangeFacts(rule_key=key, rule_name=key, platform=platform)) is expected


def test_since_excludes_changes_effective_before_it():
    from alerts.watches import matches

    watch = Watch(name="w", platforms=["1688"], since=date(2024, 1, 1))
    old = ChangeFacts(rule_key="k", rule_name="k", platform="1688", effective_on=date(2023, 12, 27))
    new = ChangeFacts(rule_key="k", rule_name="k", platform="1688", effective_on=date(2024, 3, 14))
    assert (matches(watch, old), matches(watch, new)) == (False, True)


def handled_for(scope: str, kind: str = "watch"):
    from alerts.timeline.handled import Mark, ScopeKind

    return (Mark(kind=ScopeKind(kind), scope=scope, by="王芳", at=local("2026-11-28 10:00")),)


def known_with_leads(drafts, status="pending", reason=None):
    return [
        KnownReminder(
            i,
            d.dedupe_key,
            d.change_id,
            d.channel,
            d.kind,
            d.revision,
            status,
            lead_days=d.lead_days,
            due_at=d.due_at,
            reason=reason,
        )
        for i, d in enumerate(drafts, start=1)
    ]


def test_a_change_handled_for_the_watch_gets_no_lead_and_its_pending_ones_are_cancelled():
    first = planned([change()])
    known = known_with_leads(first.create)
    result = planned([change(handled=handled_for("shipping"))], known=known, now="2026-11-28 10:00")
    leads = {k.id for k in known if k.kind == "lead"}
    assert result.create == []
    assert {rid for rid, _ in result.cancel} == leads
    assert {reason for _, reason in result.cancel} == {"已标记为已处理"}
    # Fresh, it still gets announced, never a lead.
    assert [d.kind for d in planned([change(handled=handled_for("shipping"))]).create] == [
        "announced"
    ]


def test_a_mark_for_a_tag_of_the_watch_stops_its_leads_and_stop_when_handled_false_keeps_them():
    tagged = Watch(name="shipping", rules=[SHIPPING], channels=["hook"], tags=["物流"])
    result = planned([change(handled=handled_for("物流", "tag"))], watches=[tagged])
    assert [d.kind for d in result.create] == ["announced"]
    keeps = tagged.model_copy(update={"stop_when_handled": False})
    result = planned([change(handled=handled_for("物流", "tag"))], watches=[keeps])
    assert [d.kind for d in result.create].count("lead") == 3


def test_another_watch_still_wanting_the_lead_on_the_channel_keeps_it():
    other = Watch(name="all-1688", platforms=["1688"], channels=["hook"], lead_days=[1])
    result = planned([change(handled=handled_for("shipping"))], watches=[WATCH, other])
    assert [(d.kind, d.lead_days) for d in result.create] == [("announced", None), ("lead", 1)]


def test_undoing_the_mark_revives_the_leads_not_yet_due():
    first = planned([change()])
    cancelled = known_with_leads(first.create, status="cancelled", reason="已标记为已处理")
    result = planned([change()], known=cancelled, now="2026-12-10 10:00")
    by_id = {k.id: k for k in cancelled}
    assert sorted(by_id[i].lead_days for i in result.revive) == [0, 1]  # the 7-day one is past
    assert result.create == []


def test_a_lead_another_watch_keeps_mentions_only_its_people():
    done = Watch(name="shipping", rules=[SHIPPING], channels=["hook"], mention=["alice"])
    other = Watch(name="all-1688", platforms=["1688"], channels=["hook"], mention=["bob"])
    result = planned([change(handled=handled_for("shipping"))], watches=[done, other])
    by_kind = {d.kind: d.context.get("mention") for d in result.create}
    assert by_kind["lead"] == ["bob"]  # alice's watch marked it handled
    assert sorted(by_kind["announced"] or []) == ["alice", "bob"]  # news still reaches both
