"""The page of one change at /changes/{uid}: where the feed's events and the reminders link.

Server-rendered like the timeline (alerts/web/pages.py), on the same frame and styles: the rule,
公示 → 生效 with the days left, the marks (预计, postponed, withdrawn, revision), every
source notice with its text, and the reminders about the change with each delivery
attempt. It reads what ``GET /api/changes/{uid}`` reads. An unknown uid is a 404 page.

The page lives one level below the timeline, so its links go up with ``../``: behind a
proxy that mounts the service under a path, they still land on the service's pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from alerts import clock
from alerts.timeline.corrections import version
from alerts.timeline.handled import SCOPE_NAMES, Mark, ScopeKind, marked_for
from alerts.timeline.views import (
    ChangeView,
    ReminderView,
    RevisionView,
    change_views,
    reminder_views,
    revision_views,
)
from alerts.users import Caller, Role
from alerts.watches import covering, current_watches, facts_of, tags_of
from alerts.web.deps import SessionDep, SettingsDep
from alerts.web.pages import (
    Entry,
    Feed,
    Filters,
    feed_urls,
    render,
    web_url,
)
from alerts.web.signin import csrf_token, signed_in
from store import outbox, queries
from store.models import ChangeStatus

if TYPE_CHECKING:
    from alerts.config import Settings

router = APIRouter(tags=["page"])

_UID_MAX = 64  # RuleChange.uid's column width
_STATUS: dict[str, str] = {
    outbox.PENDING: "待发送",
    outbox.SENDING: "发送中",
    outbox.SENT: "已发送",
    outbox.DEAD: "发送失败",
    outbox.CANCELLED: "已取消",
    outbox.COALESCED: "已合并",
    outbox.MISSED: "已错过",
}
_OUTCOME = {"delivered": "送达", "retry": "失败，将重试", "failed": "失败"}
_GONE: dict[str, str] = {
    ChangeStatus.WITHDRAWN: "已撤回",
    ChangeStatus.MERGED: "已合并",
    ChangeStatus.DELETED: "已删除",
}
# Where a notice came from: a file's name, or one of the ways in that are not files.
_ORIGIN = {"manual": "手动录入", "api": "API 提交"}


@dataclass(frozen=True)
class SourceNotice:
    """A notice the change was read from, whole; ``published_at`` in the service time zone."""

    id: int
    title: str
    url: str | None
    published_at: datetime | None
    text: str
    origin: str
    problem: str | None

    @property
    def link(self) -> str | None:
        return self.url if web_url(self.url) else None

    @property
    def origin_label(self) -> str:
        return _ORIGIN.get(self.origin, self.origin)


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt of a reminder; ``started_at`` in the service time zone."""

    number: int
    started_at: datetime
    duration_ms: int
    outcome: str  # delivered | retry | failed
    status_code: int | None
    reply: str | None
    error: str | None

    @property
    def outcome_label(self) -> str:
        return _OUTCOME.get(self.outcome, self.outcome)


@dataclass(frozen=True)
class ReminderLine:
    """A reminder about the change and every attempt to deliver it, oldest first."""

    view: ReminderView
    attempts: tuple[Attempt, ...]

    @property
    def status_label(self) -> str:
        return _STATUS.get(self.view.status, self.view.status)


@dataclass(frozen=True)
class HandledLine:
    """A watch or tag covering the change, and its mark when the change is handled for it."""

    kind: ScopeKind
    name: str
    mark: Mark | None
    via: Mark | None = None  # a watch handled through a mark for one of its tags

    @property
    def scope(self) -> str:
        """What the page's forms post: watch:NAME or tag:NAME."""
        return f"{self.kind.value}:{self.name}"

    @property
    def label(self) -> str:
        return f"{SCOPE_NAMES[self.kind]} {self.name}"


@dataclass(frozen=True)
class ChangePage:
    """Everything the template shows about one change."""

    today: date
    entry: Entry
    summary: str
    notices: tuple[SourceNotice, ...]
    reminders: tuple[ReminderLine, ...]
    feed: Feed | None  # None for a change that left the timeline: it is in no feed
    # The change's version as the correction form saw it (a stale form is refused).
    seen: str = ""
    history: tuple[RevisionView, ...] = ()
    # The rule's other active changes: what this one may be a duplicate of.
    siblings: tuple[ChangeView, ...] = ()
    handled: tuple[HandledLine, ...] = ()  # each covering watch, then each tag, then the rest

    @property
    def withdrawn(self) -> bool:
        """Off the timeline: withdrawn by the platform, merged or deleted by a person."""
        return self.entry.view.status != ChangeStatus.ACTIVE

    @property
    def gone(self) -> str:
        """Why the change is off the timeline, in words; empty while it stands."""
        return _GONE.get(self.entry.view.status, "")

    @property
    def merged_into(self) -> str | None:
        """The uid of the change this one was merged into."""
        merged = [r.other for r in self.history if r.action == "merged"]
        return merged[-1] if merged else None

    @property
    def own_summary(self) -> str:
        """The summary when it says more than the notices: it is often one of their texts."""
        summary = self.summary.strip()
        return "" if any(summary in n.text for n in self.notices) else summary

    @property
    def timeline(self) -> str:
        """The timeline narrowed to the change's rule, relative to this page."""
        return "../" + Filters(rule=self.entry.view.rule_key).link()


@router.get("/changes/{uid}", response_class=HTMLResponse, include_in_schema=False)
def change_page(
    uid: str, request: Request, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """The page of the change ``uid``; a 404 page when there is none. An editor signed in
    also gets the forms that correct it, mark it handled and undo a mark."""
    today = clock.today(settings.service.tz)
    page = read_change(session, settings, uid=uid, today=today)
    status = 404 if page is None else 200
    who = signed_in(request)
    editor: Caller | None = who if who is not None and who.role >= Role.editor else None
    return render(
        "change.html.j2",
        settings,
        status=status,
        c=page,
        uid=uid,
        tz=settings.service.timezone,
        who=who,
        editor=editor,
        csrf=csrf_token(request) if who else "",
    )


def read_change(
    session: Session, settings: Settings, *, uid: str, today: date
) -> ChangePage | None:
    """What the page of change ``uid`` shows, with days left counted from ``today``; None
    when no change has that uid."""
    # Only printable text up to the column's width can be a uid; PostgreSQL would refuse
    # the NUL a crafted address can carry, and answer 500 instead of 404.
    if len(uid) > _UID_MAX or not uid.isprintable():
        return None
    found = queries.get_change(session, uid=uid)
    if found is None:
        return None
    change, rule = found
    change_id = change.id or 0
    tz = settings.service.tz
    view = change_views(session, today=today, tz=tz, uid=uid)[0]
    reminders = reminder_views(session, tz=tz, change_id=change_id)
    deliveries = outbox.deliveries_of(session, reminder_ids=[r.id for r in reminders])
    facts = facts_of(change, rule)
    covered = covering(current_watches(session, settings), facts)
    entry = Entry(
        view=view,
        tags=tags_of(covered),
        failed=tuple(r for r in reminders if r.status == outbox.DEAD),
    )
    marks = {(m.kind, m.scope): m for m in view.handled}
    lines = [
        HandledLine(
            ScopeKind.watch,
            w.name,
            marks.get((ScopeKind.watch, w.name)),
            via=marked_for(w, view.handled),
        )
        for w in covered
    ]
    lines += [
        HandledLine(ScopeKind.tag, tag, marks.get((ScopeKind.tag, tag))) for tag in entry.tags
    ]
    # A mark for a watch or tag that no longer covers the change still shows, to be undone.
    shown = {(line.kind, line.name) for line in lines}
    lines += [
        HandledLine(m.kind, m.scope, m) for m in view.handled if (m.kind, m.scope) not in shown
    ]
    withdrawn = view.status != ChangeStatus.ACTIVE
    return ChangePage(
        today=today,
        entry=entry,
        summary=change.summary,
        notices=tuple(
            SourceNotice(
                id=n.id or 0,
                title=n.title,
                url=n.url,
                published_at=n.published_at.astimezone(tz) if n.published_at else None,
                text=n.text,
                origin=n.origin,
                problem=n.problem,
            )
            for n in queries.notices_of_change(session, change_id=change_id)
        ),
        reminders=tuple(
            ReminderLine(
                view=r,
                attempts=tuple(
                    Attempt(
                        number=d.attempt,
                        started_at=d.started_at.astimezone(tz),
                        duration_ms=d.duration_ms,
                        outcome=d.outcome,
                        status_code=d.status_code,
                        reply=d.reply,
                        error=d.error,
                    )
                    for d in deliveries[r.id]
                ),
            )
            for r in reminders
        ),
        # The rule's changes whether or not a watch covers them: this one is among them.
        feed=None if withdrawn else feed_urls(settings, Filters(rule=rule.key), every_change=True),
        seen=version(change),
        history=tuple(revision_views(session, change_id=change_id, tz=tz)),
        siblings=tuple(
            other
            for other in change_views(session, today=today, tz=tz, rule=rule.key)
            if other.uid != uid and other.rule_key == rule.key
        ),
        handled=tuple(lines),
    )
