"""The timeline as the faces show it: one read model of changes and one of reminders, for
`rulewatch changes --json`, `rulewatch reminders`, the API and the pages.

Every face selects changes through :func:`select_changes` and :func:`count_selected`, so a
platform filter in any spelling (抖店, Douyin, 抖音电商) finds the same changes everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from alerts.timeline.handled import Mark, mark_of
from alerts.timeline.search import terms as search_terms
from store import handled, outbox, queries, revisions
from store.models import Delivery, HandledMark, Notice, Rule, RuleChange


@dataclass(frozen=True)
class SourceView:
    title: str
    url: str | None
    published_at: datetime | None


@dataclass(frozen=True)
class ChangeView:
    """A change with its rule and sources, and the days left until it takes effect."""

    uid: str
    rule: str
    rule_key: str
    platform: str | None
    kind: str
    title: str
    announced_on: date | None
    effective_on: date | None
    effective_at: time | None
    tentative: bool
    status: str
    revision: int
    postponed_from: date | None
    days_left: int | None
    sources: tuple[SourceView, ...]
    # The days a source names but gives no year for, when the change lacks a date for it.
    without_year: str | None = None
    # Marked handled (已处理) for these watches and tags; ``at`` in the service time zone.
    handled: tuple[Mark, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "uid": self.uid,
            "rule": self.rule,
            "rule_key": self.rule_key,
            "platform": self.platform,
            "kind": self.kind,
            "title": self.title,
            "announced_on": _iso(self.announced_on),
            "effective_on": _iso(self.effective_on),
            "effective_at": self.effective_at.strftime("%H:%M") if self.effective_at else None,
            "tentative": self.tentative,
            "status": self.status,
            "revision": self.revision,
            "postponed_from": _iso(self.postponed_from),
            "days_left": self.days_left,
            "without_year": self.without_year,
            "sources": [
                {"title": s.title, "url": s.url, "published_at": _iso(s.published_at)}
                for s in self.sources
            ],
            "handled": [mark.as_json() for mark in self.handled],
        }


def change_views(
    session: Session,
    *,
    today: date,
    tz: tzinfo,
    upcoming: bool = False,
    rule: str | None = None,
    platform: str | None = None,
    uid: str | None = None,
    search: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[ChangeView]:
    """The timeline, filtered; ``upcoming`` keeps changes taking effect ``today`` or later,
    ``search`` those whose rule, title, summary or source texts hold each of its words.

    Publish times are shown in ``tz``, the service time zone.
    """
    rows = select_changes(
        session,
        effective_from=today if upcoming else None,
        rule=rule,
        platform=platform,
        uid=uid,
        search=search,
        limit=limit,
        offset=offset,
    )
    ids = [change.id for change, _ in rows if change.id is not None]
    notices = queries.notices_of_changes(session, change_ids=ids)
    marks = handled.marks_of_changes(session, change_ids=ids)
    return [
        _view(
            change,
            rule_row,
            notices.get(change.id or 0, []),
            marks.get(change.id or 0, []),
            today,
            tz,
        )
        for change, rule_row in rows
    ]


def stored_platform(platform: str | None) -> str | None:
    """How the store spells a platform asked for in any spelling (抖店, douyin → 抖音电商).

    A spelling the platform table does not know is kept as given: a platform entered by hand
    is stored that way.
    """
    if not platform:
        return None
    from alerts.extract.platforms import canonical_platform  # compiles the platform patterns

    return canonical_platform(platform) or platform


def select_changes(
    session: Session,
    *,
    effective_from: date | None = None,
    rule: str | None = None,
    platform: str | None = None,
    uid: str | None = None,
    search: str | None = None,
    include_withdrawn: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[tuple[RuleChange, Rule]]:
    """:func:`store.queries.list_changes` with the platform in any spelling and the
    ``search`` query folded into its words (alerts/timeline/search.py): how every face
    (CLI, API, page, feed) selects changes. Raises QueryTooLong for too long a query."""
    return queries.list_changes(
        session,
        effective_from=effective_from,
        rule=rule,
        platform=stored_platform(platform),
        uid=uid,
        search=search_terms(search),
        include_withdrawn=include_withdrawn,
        limit=limit,
        offset=offset,
    )


def select_change_rows(
    session: Session,
    *,
    rule: str | None = None,
    platform: str | None = None,
    search: str | None = None,
    include_withdrawn: bool = False,
) -> list[queries.FeedRow]:
    """:func:`select_changes` as plain rows (:func:`store.queries.list_change_rows`)."""
    return queries.list_change_rows(
        session,
        rule=rule,
        platform=stored_platform(platform),
        search=search_terms(search),
        include_withdrawn=include_withdrawn,
    )


def count_selected(
    session: Session,
    *,
    effective_from: date | None = None,
    rule: str | None = None,
    platform: str | None = None,
    search: str | None = None,
) -> int:
    """How many changes :func:`select_changes` selects with the same filters, all pages."""
    return queries.count_changes(
        session,
        effective_from=effective_from,
        rule=rule,
        platform=stored_platform(platform),
        search=search_terms(search),
    )


def _view(
    change: RuleChange,
    rule: Rule,
    notices: list[Notice],
    marks: list[HandledMark],
    today: date,
    tz: tzinfo,
) -> ChangeView:
    return ChangeView(
        uid=change.uid,
        rule=rule.name,
        rule_key=rule.key,
        platform=rule.platform,
        kind=change.kind,
        title=change.title,
        announced_on=change.announced_on,
        effective_on=change.effective_on,
        effective_at=change.effective_at,
        tentative=change.tentative,
        status=change.status,
        revision=change.revision,
        postponed_from=change.postponed_from,
        days_left=(change.effective_on - today).days if change.effective_on else None,
        sources=tuple(
            SourceView(n.title, n.url, n.published_at.astimezone(tz) if n.published_at else None)
            for n in notices
        ),
        without_year=_without_year(change, notices),
        handled=tuple(replace(mark_of(row), at=row.at.astimezone(tz)) for row in marks),
    )


_NO_YEAR = "no year for "


def no_year_problem(days: list[str]) -> str:
    """The note ingest keeps with a notice that names ``days`` without a year, which
    ``ChangeView.without_year`` reads back."""
    return f"{_NO_YEAR}{', '.join(days)}"


def _without_year(change: RuleChange, notices: list[Notice]) -> str | None:
    """The days left undated, from the note ingest keeps with a notice that named days
    without a year, while the change still lacks a date (a later notice may give it)."""
    if change.effective_on is not None and change.announced_on is not None:
        return None
    for notice in notices:
        if notice.problem and notice.problem.startswith(_NO_YEAR):
            return notice.problem.removeprefix(_NO_YEAR)
    return None


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


# What `--failed` means to a person: it did not go out and will not by itself.
_SHOW = {
    "pending": (outbox.PENDING, outbox.SENDING),
    "sent": (outbox.SENT,),
    "failed": (outbox.DEAD,),
}


@dataclass(frozen=True)
class ReminderView:
    """A reminder as the faces show it, with its last delivery attempt."""

    id: int
    uid: str
    change_uid: str
    rule_key: str
    channel: str
    kind: str
    lead_days: int | None
    due_at: datetime
    effective_on: date | None
    status: str
    attempts: int
    reason: str | None
    sent_at: datetime | None
    last_delivery: Delivery | None

    @property
    def label(self) -> str:
        return f"{self.kind} {self.lead_days}d" if self.lead_days is not None else self.kind

    def as_json(self) -> dict[str, object]:
        last = self.last_delivery
        return {
            "uid": self.uid,
            "change_uid": self.change_uid,
            "rule_key": self.rule_key,
            "channel": self.channel,
            "kind": self.kind,
            "lead_days": self.lead_days,
            "due_at": self.due_at.isoformat(),
            "effective_on": self.effective_on.isoformat() if self.effective_on else None,
            "status": self.status,
            "attempts": self.attempts,
            "reason": self.reason,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "last_delivery": None
            if last is None
            else {
                "outcome": last.outcome,
                "status_code": last.status_code,
                "reply": last.reply,
                "error": last.error,
                "duration_ms": last.duration_ms,
            },
        }


def reminder_views(
    session: Session, *, tz: ZoneInfo, show: Sequence[str] = (), change_id: int | None = None
) -> list[ReminderView]:
    """The outbox by due time; ``show`` picks any of pending, sent and failed (default all)."""
    statuses = [status for name in show for status in _SHOW[name]]
    rows = outbox.list_reminders(session, statuses=statuses, change_id=change_id)
    deliveries = outbox.deliveries_of(session, reminder_ids=[r.id or 0 for r, _, _ in rows])
    return [
        ReminderView(
            id=reminder.id or 0,
            uid=reminder.uid,
            change_uid=change.uid,
            rule_key=rule.key,
            channel=reminder.channel,
            kind=reminder.kind,
            lead_days=reminder.lead_days,
            due_at=reminder.due_at.astimezone(tz),
            effective_on=change.effective_on,
            status=reminder.status,
            attempts=reminder.attempts,
            reason=reminder.reason,
            sent_at=reminder.sent_at.astimezone(tz) if reminder.sent_at else None,
            last_delivery=_last(deliveries.get(reminder.id or 0, [])),
        )
        for reminder, change, rule in rows
    ]


def _last(deliveries: Sequence[Delivery]) -> Delivery | None:
    return deliveries[-1] if deliveries else None


_FIELDS = {
    "announced_on": "公示日期",
    "effective_on": "生效日期",
    "effective_at": "生效时刻",
    "tentative": "预计",
    "rule": "规则",
    "platform": "平台",
}


@dataclass(frozen=True)
class RevisionView:
    """A correction someone made to a change; ``at`` in the service time zone."""

    at: datetime
    actor: str
    action: str  # edit | merge | merged | split | delete
    reason: str
    detail: dict[str, Any]

    @property
    def label(self) -> str:
        """What was done, in a sentence a person reads."""
        detail = self.detail
        if self.action == "edit":
            return "；".join(
                f"{_FIELDS.get(key, key)} {_shown(old)} → {_shown(new)}"
                for key, (old, new) in detail.get("changed", {}).items()
            )
        if self.action == "merge":
            return f"并入了变更 {detail.get('merged')}"
        if self.action == "merged":
            return f"已合并到变更 {detail.get('into')}"
        if self.action == "split":
            if "to" in detail:
                return f"来源《{detail.get('notice')}》拆分为变更 {detail['to']}"
            return f"从变更 {detail.get('from')} 拆分而来"
        if self.action == "delete":
            return "删除（不是一项变更）"
        return self.action

    @property
    def other(self) -> str | None:
        """The uid of the other change a merge or a split names."""
        for key in ("merged", "into", "to", "from"):
            if isinstance(self.detail.get(key), str):
                return str(self.detail[key])
        return None

    def as_json(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "reason": self.reason,
            "detail": self.detail,
        }


def revision_views(session: Session, *, change_id: int, tz: tzinfo) -> list[RevisionView]:
    """The corrections of a change, oldest first."""
    return [
        RevisionView(
            at=row.at.astimezone(tz),
            actor=row.actor,
            action=row.action,
            reason=row.reason,
            detail=json.loads(row.detail),
        )
        for row in revisions.of_change(session, change_id=change_id)
    ]


def _shown(value: object) -> str:
    if value is None:
        return "（无）"
    if value is True:
        return "是"
    if value is False:
        return "否"
    return str(value)
