"""What a digest adds at its end: the changes taking effect within ``messages.SOON_DAYS``
(a week) that the
watches sending to its channel have not all marked handled (尚未处理).

Read when a digest is rendered, not when its reminders were planned: a mark made since
then is counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from sqlmodel import Session

from alerts.config import Watch
from alerts.reminders.messages import SOON_DAYS, Unhandled
from alerts.timeline.handled import mark_of, marked_for
from alerts.timeline.views import select_changes
from alerts.watches import covering, facts_of
from store import handled
from store.models import ChangeStatus


def unhandled_soon(
    session: Session, watches: Sequence[Watch], *, channel: str, today: date, base_url: str
) -> list[Unhandled]:
    """The active changes taking effect from ``today`` to ``SOON_DAYS`` later that a watch
    sending to ``channel`` covers and has not marked handled, soonest first."""
    sending = [watch for watch in watches if channel in watch.channels]
    if not sending:
        return []
    last = today + timedelta(days=SOON_DAYS)
    rows = [
        (change, rule)
        for change, rule in select_changes(session, effective_from=today)
        if change.effective_on is not None
        and change.effective_on <= last
        and change.status == ChangeStatus.ACTIVE
    ]
    marks = handled.marks_of_changes(session, change_ids=[c.id for c, _ in rows if c.id])
    found = []
    for change, rule in rows:
        done = [mark_of(row) for row in marks.get(change.id or 0, [])]
        open_for = [
            watch.name
            for watch in covering(sending, facts_of(change, rule))
            if marked_for(watch, done) is None
        ]
        if open_for and change.effective_on is not None:
            found.append(
                Unhandled(
                    rule_name=rule.name,
                    platform=rule.platform,
                    effective_on=change.effective_on,
                    days_left=(change.effective_on - today).days,
                    watches=tuple(open_for),
                    link=f"{base_url}/changes/{change.uid}",
                )
            )
    return sorted(found, key=lambda u: (u.effective_on, u.rule_name))
