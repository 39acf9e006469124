"""The timeline page at /: server-rendered with Jinja2, no front-end build step.

One GET with optional ``platform``, ``rule`` and ``tag`` filters and a search ``q`` (搜索:
words that a change's rule, title or source texts must all hold) shows the changes still to
take effect (by 生效, with days left), each rule's history as a line from 征求意见/公示 to
生效, the reminders that failed for good, and links to subscribe to the calendar feed.
Links on the page carry the filters, so a narrowed view stays narrowed. The page has no
JavaScript, so its Content-Security-Policy forbids scripts altogether. The page of one
change (alerts/web/change_page.py) is built from the same pieces: the headers, the template
environment, ``Entry``, the watch tags and the feed addresses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlmodel import Session

from alerts import clock
from alerts.sources.catalog import SourceView, source_views
from alerts.timeline.search import MAX_QUERY
from alerts.timeline.views import (
    ChangeView,
    ReminderView,
    change_views,
    reminder_views,
    select_changes,
    stored_platform,
)
from alerts.watches import covering, current_watches, facts_of, tags_of
from alerts.web.deps import SessionDep, SettingsDep
from alerts.web.signin import csrf_token, signed_in
from store import queries

if TYPE_CHECKING:
    from alerts.config import Settings

router = APIRouter(tags=["page"])

# A page of thousands of rule lines helps nobody; past this the filters are the way in.
MAX_RULES = 100
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    # The subscribe links may carry the feed token; no page URL goes to the sources linked.
    "Referrer-Policy": "no-referrer",
}
_KINDS = {"consultation": "征求意见", "new": "新规", "amendment": "修订", "repeal": "废止"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Filters:
    """What the visitor narrowed the page to; empty strings from the form mean "any"."""

    platform: str | None = None
    rule: str | None = None
    tag: str | None = None
    q: str | None = None  # the search: words a change must all hold

    @classmethod
    def of(
        cls, platform: str | None, rule: str | None, tag: str | None, q: str | None = None
    ) -> Filters:
        # The platform by its canonical name, so the form and its links show the one the
        # store knows, whichever spelling the visitor typed.
        return cls(stored_platform(_clean(platform)), _clean(rule), _clean(tag), _clean(q))

    @property
    def active(self) -> bool:
        return any((self.platform, self.rule, self.tag, self.q))

    def params(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}

    def link(self, **changes: str | None) -> str:
        """A relative link to the page with these filters changed and the others kept."""
        query = urlencode(replace(self, **changes).params())
        return f"?{query}" if query else "?"


@dataclass(frozen=True)
class Entry:
    """A change as the page shows it: its view, the tags of the watches that cover it, and
    its reminders that failed for good."""

    view: ChangeView
    tags: tuple[str, ...]
    failed: tuple[ReminderView, ...]

    @property
    def kind(self) -> str:
        return _KINDS.get(self.view.kind, self.view.kind)

    @property
    def noted_on(self) -> date | None:
        """The day the first source was published: the only date some changes have."""
        published = [s.published_at for s in self.view.sources if s.published_at]
        return min(published).date() if published else None

    @property
    def anchor(self) -> date | None:
        """Where the change sits on its rule's line."""
        return self.view.effective_on or self.view.announced_on or self.noted_on

    @property
    def notice_days(self) -> int | None:
        """Days between 公示 and 生效, when both are known."""
        v = self.view
        return (v.effective_on - v.announced_on).days if v.effective_on and v.announced_on else None

    @property
    def link(self) -> str | None:
        """The first source's address, when it is one a browser should follow."""
        return next((s.url for s in self.view.sources if web_url(s.url)), None)


@dataclass(frozen=True)
class RuleLine:
    """One rule's history, oldest first; ``None`` among the entries marks today."""

    key: str
    name: str
    platform: str | None
    entries: list[Entry | None]

    @property
    def count(self) -> int:
        return sum(entry is not None for entry in self.entries)


@dataclass(frozen=True)
class Feed:
    """The addresses to subscribe to the calendar feed with."""

    https: str
    webcal: str
    google: str


# How far back "近期已生效" looks: a change that took effect lately may still need work.
RECENT_DAYS = 90


@dataclass(frozen=True)
class Timeline:
    """Everything the template shows."""

    today: date
    filters: Filters
    upcoming: list[Entry]
    recent: list[Entry]  # took effect in the last RECENT_DAYS, newest first
    lines: list[RuleLine]
    more_rules: int
    failed: list[ReminderView]
    platforms: list[str]
    rules: list[str]  # keys, for the rule filter
    tags: list[str]
    total: int
    sources: list[SourceView]  # what rulewatch polls, and how that goes


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def timeline_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    platform: Annotated[str | None, Query(max_length=200)] = None,
    rule: Annotated[str | None, Query(max_length=200)] = None,
    tag: Annotated[str | None, Query(max_length=200)] = None,
    q: Annotated[str | None, Query(max_length=MAX_QUERY)] = None,
) -> HTMLResponse:
    """The timeline page, narrowed by ``platform``, ``rule`` (part of a name or key),
    ``tag`` (a tag of a watch that covers the change) and the search ``q``."""
    filters = Filters.of(platform, rule, tag, q)
    today = clock.today(settings.service.tz)
    timeline = build_timeline(session, settings, filters=filters, today=today)
    who = signed_in(request)
    return render(
        "page.html.j2",
        settings,
        t=timeline,
        recent_days=RECENT_DAYS,
        max_query=MAX_QUERY,
        feed=feed_urls(settings, filters),
        tz=settings.service.timezone,
        zone=settings.service.tz,
        who=who,
        # Only a signed-in user's page carries a form (sign out): a visitor's page sets
        # no cookie.
        csrf=csrf_token(request) if who else "",
        can_sign_in=any(user.password_hash for user in settings.users),
    )


def filtered_entries(
    session: Session,
    settings: Settings,
    *,
    filters: Filters,
    today: date,
    dead: Sequence[ReminderView] = (),
) -> list[Entry]:
    """The changes ``filters`` leave, each with its watches' tags and its ``dead`` reminders:
    what the page lists and the exports hold."""
    tz = settings.service.tz
    watches = current_watches(session, settings)
    rule, platform, search = filters.rule, filters.platform, filters.q
    views = change_views(session, today=today, tz=tz, rule=rule, platform=platform, search=search)
    # ChangeView has no summary, yet a watch's keywords and regex look at it: read the rows
    # too so the page tags exactly the changes the planner sends reminders about.
    rows = select_changes(session, rule=rule, platform=platform, search=search)
    facts = {change.uid: facts_of(change, rule) for change, rule in rows}
    dead_of: dict[str, list[ReminderView]] = {}
    for reminder in dead:
        dead_of.setdefault(reminder.change_uid, []).append(reminder)
    entries = [
        Entry(
            view=view,
            tags=tags_of(covering(watches, facts[view.uid])) if view.uid in facts else (),
            failed=tuple(dead_of.get(view.uid, ())),
        )
        for view in views
    ]
    if filters.tag:
        entries = [entry for entry in entries if filters.tag in entry.tags]
    return entries


def build_timeline(
    session: Session, settings: Settings, *, filters: Filters, today: date
) -> Timeline:
    """Read what the page shows for ``filters``, with days left counted from ``today``."""
    watches = current_watches(session, settings)
    dead = reminder_views(session, tz=settings.service.tz, show=["failed"])
    entries = filtered_entries(session, settings, filters=filters, today=today, dead=dead)
    shown = {entry.view.uid for entry in entries}
    # Unfiltered, every failure shows, even one about a change since withdrawn.
    failed = dead if not filters.active else [r for r in dead if r.change_uid in shown]
    lines = _lines(entries, today)
    known_rules = queries.list_rules(session)
    return Timeline(
        today=today,
        filters=filters,
        upcoming=[e for e in entries if e.view.effective_on and e.view.effective_on >= today],
        recent=sorted(
            (
                e
                for e in entries
                if e.view.effective_on
                and today - timedelta(days=RECENT_DAYS) <= e.view.effective_on < today
            ),
            key=lambda e: e.view.effective_on or today,
            reverse=True,
        ),
        lines=lines[:MAX_RULES],
        more_rules=max(0, len(lines) - MAX_RULES),
        failed=failed,
        platforms=sorted({r.platform for r, _ in known_rules if r.platform}),
        rules=[
            r.key
            for r, n in known_rules
            if n and (not filters.platform or r.platform == filters.platform)
        ],
        tags=sorted({tag for watch in watches for tag in watch.tags}),
        total=len(entries),
        sources=source_views(settings, session),
    )


def feed_urls(settings: Settings, filters: Filters, *, every_change: bool = False) -> Feed:
    """The feed's https, webcal:// and Google Calendar addresses, with the page's filters;
    with ``every_change``, also ``all=1``: the changes no watch covers too.

    With ``[calendar] token`` set the feed lives at /calendar/<token>.ics, so whoever can
    read the page can subscribe: the page is as private as the feed.
    """
    token = settings.calendar.token
    path = f"/calendar/{token.get_secret_value()}.ics" if token else "/calendar.ics"
    query = urlencode(filters.params() | ({"all": "1"} if every_change else {}))
    https = settings.service.base_url + path + (f"?{query}" if query else "")
    webcal = re.sub(r"^https?://", "webcal://", https)
    google = "https://calendar.google.com/calendar/render?" + urlencode({"cid": webcal})
    return Feed(https=https, webcal=webcal, google=google)


def _lines(entries: Sequence[Entry], today: date) -> list[RuleLine]:
    by_rule: dict[str, list[Entry]] = {}
    for entry in entries:
        by_rule.setdefault(entry.view.rule_key, []).append(entry)
    lines = []
    for key, found in by_rule.items():
        ordered = sorted(found, key=lambda e: (e.anchor or date.max, e.view.uid))
        marked: list[Entry | None] = []
        for entry in ordered:
            if None not in marked and (entry.anchor or date.max) >= today:
                marked.append(None)
            marked.append(entry)
        if None not in marked:
            marked.append(None)
        first = found[0].view
        lines.append(RuleLine(key=key, name=first.rule, platform=first.platform, entries=marked))
    # The rule that moved last comes first: that is where a visitor's attention belongs.
    lines.sort(key=lambda line: _latest(line.entries), reverse=True)
    return lines


def _latest(entries: Iterable[Entry | None]) -> date:
    return max((e.anchor for e in entries if e is not None and e.anchor), default=date.min)


def _clean(value: str | None) -> str | None:
    # Control characters never belong in a filter, and PostgreSQL refuses NUL in a string.
    cleaned = _CONTROL.sub("", value or "").strip()
    return cleaned or None


def web_url(url: str | None) -> bool:
    """Whether ``url`` may be a link on a page: http(s) only, for a source URL entered
    through the API could be javascript: or data:."""
    return bool(url) and re.match(r"https?://", url or "", re.IGNORECASE) is not None


def _reminder_label(reminder: ReminderView) -> str:
    if reminder.kind == "lead" and reminder.lead_days is not None:
        return f"提前 {reminder.lead_days} 天提醒"
    return {"announced": "新公示提醒", "changed": "变更通知"}.get(reminder.kind, reminder.kind)


def render(template: str, settings: Settings, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A page from ``template``, titled as the service is, with the pages' headers."""
    context = {"title": settings.calendar.name, "status": status, **context}
    html = environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


@cache
def environment() -> Environment:
    """The Jinja2 environment of the pages (autoescaped, strict), loaded once."""
    env = Environment(
        loader=PackageLoader("alerts", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    filters: dict[str, Any] = {"reminder_label": _reminder_label}
    env.filters.update(filters)
    return env
