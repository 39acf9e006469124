"""China's working days, for moving reminders off holidays (``shift = "previous_workday"``).

Uses the chinesecalendar package's statutory holidays and make-up working days (调休), with
``[workdays]`` of config.toml on top (the days of a year the package does not know yet). For a
year neither covers, weekends are the only days off: the log says so once per year, and
``uncovered`` names such years so that check-config and /healthz can warn ahead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Workdays:
    """The working-day calendar: the package's, then the configured exceptions."""

    days_off: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day in mainland China."""
        if day in self.workdays:
            return True
        if day in self.days_off:
            return False
        known = _package_says(day)
        if known is None:
            if not self._configured(day.year):
                _warn_no_data(day.year)
            return day.weekday() < 5
        return known

    def previous_workday(self, day: date) -> date:
        """``day`` itself when it is a working day, else the last working day before it."""
        while not self.is_workday(day):
            day -= timedelta(days=1)
        return day

    def uncovered(self, years: Iterable[int]) -> list[int]:
        """Those of ``years`` for which neither the package nor ``[workdays]`` lists days."""
        return [
            year
            for year in sorted(set(years))
            if _package_says(date(year, 1, 1)) is None and not self._configured(year)
        ]

    def _configured(self, year: int) -> bool:
        return any(d.year == year for d in (*self.days_off, *self.workdays))


def _package_says(day: date) -> bool | None:
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


def is_workday(day: date) -> bool:
    """Whether ``day`` is a working day, by the package alone."""
    return Workdays().is_workday(day)


def previous_workday(day: date) -> date:
    """``day`` itself when it is a working day, else the last working day before it (by the
    package alone)."""
    return Workdays().previous_workday(day)


@cache
def _warn_no_data(year: int) -> None:
    log.warning(
        "no holiday calendar for %d (chinesecalendar knows only some years; list that year's "
        "days off and make-up working days in [workdays] of config.toml, or upgrade the "
        "package when the State Council publishes them): only weekends count as days off",
        year,
    )


def coverage_warnings(workdays: Workdays, *, shifting: bool, today: date) -> list[str]:
    """What to warn of when reminders move off holidays (``shifting``) and this year or the
    next has no holiday calendar: reminders there would miss 调休."""
    if not shifting:
        return []
    return [
        f"no holiday calendar for {year}: reminders moved to the previous working day will "
        f"treat only weekends as days off; list {year}'s days off and make-up working days "
        "in [workdays] of config.toml"
        for year in workdays.uncovered([today.year, today.year + 1])
    ]
