"""China's working days, for moving reminders off holidays (``shift = "previous_workday"``).

Uses the chinesecalendar package's statutory holidays and make-up working days (调休). For a
year it has no data for, weekends are the only days off, and the log says so once per year.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from functools import cache

log = logging.getLogger(__name__)


def is_workday(day: date) -> bool:
    """Whether ``day`` is a working day in mainland China."""
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        _warn_no_data(day.year)
        return day.weekday() < 5


def previous_workday(day: date) -> date:
    """``day`` itself when it is a working day, else the last working day before it."""
    while not is_workday(day):
        day -= timedelta(days=1)
    return day


@cache
def _warn_no_data(year: int) -> None:
    log.warning(
        "no holiday calendar for %d (chinesecalendar knows only some years; upgrade it when the "
        "State Council publishes the next one): only weekends count as days off",
        year,
    )
