"""The timeline as the faces show it: one read model for `rulewatch changes --json` and the API.

Every face selects changes through :func:`select_changes` and :func:`count_selected`, so a
platform filter in any spelling (抖店, Douyin, 抖音电商) finds the same changes everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo

from sqlmodel import Session

from alerts.extract.platforms import canonical_platform
from store import queries
from store.models import Notice, Rule, RuleChange


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
    limit: int | None = None,
    offset: int = 0,
) -> list[ChangeView]:
    """The timeline, filtered; ``upcoming`` keeps changes taking effect ``today`` or later.

    Publish times are shown in ``tz``, the service time zone.
    """
    rows = select_changes(
        session,
        effective_from=today if upcoming else None,
        rule=rule,
        platform=platform,
        uid=uid,
        limit=limit,
        offset=offset,
    )
    notices = queries.notices_of_changes(
        session, change_ids=[change.id for change, _ in rows if change.id is not None]
    )
    return [
        _view(change, rule_row, notices.get(change.id or 0, []), today, tz)
        for change, rule_row in rows
    ]


def stored_platform(platform: str | None) -> str | None:
    """How the store spells a platform asked for in any spelling (抖店, douyin → 抖音电商).

    A spelling the platform table does not know is kept as given: a platform entered by hand
    is stored that way.
    """
    if not platform:
        return None
    return canonical_platform(platform) or platform


def select_changes(
    session: Session,
    *,
    effective_from: date | None = None,
    rule: str | None = None,
    platform: str | None = None,
    uid: str | None = None,
    include_withdrawn: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[tuple[RuleChange, Rule]]:
    """:func:`store.queries.list_changes` with the platform in any spelling: how every face
    (CLI, API, page, feed) selects changes."""
    return queries.list_changes(
        session,
        effective_from=effective_from,
        rule=rule,
        platform=stored_platform(platform),
        uid=uid,
        include_withdrawn=include_withdrawn,
        limit=limit,
        offset=offset,
    )


def count_selected(
    session: Session,
    *,
    effective_from: date | None = None,
    rule: str | None = None,
    platform: str | None = None,
) -> int:
    """How many changes :func:`select_changes` selects with the same filters, all pages."""
    return queries.count_changes(
        session, effective_from=effective_from, rule=rule, platform=stored_platform(platform)
    )


def _view(
    change: RuleChange, rule: Rule, notices: list[Notice], today: date, tz: tzinfo
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
