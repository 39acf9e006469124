"""How fast and when a channel may be sent to: its rate limit, digest and quiet hours.

Every channel kind takes the same four keys, parsed here into values the dispatcher reads:

- ``rate = "20/min"`` (or a list, ``["5/s", "100/min"]``): at most that many messages in
  any such window, counted across every instance sharing the store. A chat kind defaults to
  its vendor's documented limit; webhook and email have none unless one is written.
- ``digest = "15m"`` (a window: s, m, h) or ``digest = "daily 09:00"``: the reminders that
  fall due within a window go out together as one message at its end.
- ``quiet = "22:00-08:00"``: what falls due inside (service time zone) waits until it ends.
- ``workdays_only = true``: nothing goes out on a day China does not work (the
  ``[workdays]`` calendar); it waits for the next working day.

This module only reads and checks the values; when a channel may send is decided by
``alerts.reminders.pacing``.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated, ClassVar, NamedTuple

from pydantic import BaseModel, BeforeValidator, PlainSerializer

from notifiers.checks import config_problem


class RateLimit(NamedTuple):
    """At most ``messages`` in any ``seconds``."""

    messages: int
    seconds: float

    def __str__(self) -> str:
        unit = {1: "s", 60: "min", 3600: "h"}.get(int(self.seconds), f"×{self.seconds:g}s")
        return f"{self.messages}/{unit}"


class Digest(NamedTuple):
    """Reminders gathered over ``every`` (windows from local midnight), or once a day at
    ``daily_at``: exactly one of the two is set."""

    every: timedelta | None = None
    daily_at: time | None = None


class Quiet(NamedTuple):
    """Local hours from ``start`` to ``end`` (past midnight when ``end`` is earlier)."""

    start: time
    end: time


_RATE = re.compile(r"\s*(\d{1,6})\s*/\s*(s|sec|second|min|minute|h|hour)\s*")
_UNITS = {"s": 1, "sec": 1, "second": 1, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
_WINDOW = re.compile(r"\s*(\d{1,5})\s*(s|m|min|h)\s*")
_CLOCK = r"([01]?\d|2[0-3]):([0-5]\d)"


def _rate(value: object) -> tuple[RateLimit, ...] | None:
    if value is None or isinstance(value, tuple):
        return value
    given = [value] if isinstance(value, str) else value
    if not isinstance(given, list) or not given:
        raise config_problem('must be like "20/min", or a list of them (["5/s", "100/min"])')
    limits = []
    for position, item in enumerate(given, 1):
        match = _RATE.fullmatch(item) if isinstance(item, str) else None
        if match is None or int(match[1]) < 1:
            which = f"entry {position} " if len(given) > 1 else ""
            raise config_problem(
                f'{which}is not a rate: write a count from 1 and a unit, "20/min", "5/s", "100/h"'
            )
        limits.append(RateLimit(int(match[1]), _UNITS[match[2]]))
    return tuple(limits)


def _digest(value: object) -> Digest | None:
    if value is None or isinstance(value, Digest):
        return value
    if isinstance(value, str):
        window = _WINDOW.fullmatch(value)
        if window is not None:
            amount, unit = int(window[1]), window[2]
            every = timedelta(**{{"s": "seconds", "h": "hours"}.get(unit, "minutes"): amount})
            if timedelta(minutes=1) <= every <= timedelta(hours=24):
                return Digest(every=every)
            raise config_problem("a digest window is from 1 minute to 24 hours")
        daily = re.fullmatch(rf"\s*daily\s+{_CLOCK}\s*", value)
        if daily is not None:
            return Digest(daily_at=time(int(daily[1]), int(daily[2])))
    raise config_problem('must be a window ("15m", "1h") or a time of day ("daily 09:00")')


def _quiet(value: object) -> Quiet | None:
    if value is None or isinstance(value, Quiet):
        return value
    match = (
        re.fullmatch(rf"\s*{_CLOCK}\s*-\s*{_CLOCK}\s*", value) if isinstance(value, str) else None
    )
    if match is None:
        raise config_problem('must be two local times, "22:00-08:00"')
    start, end = time(int(match[1]), int(match[2])), time(int(match[3]), int(match[4]))
    if start == end:
        raise config_problem("starts and ends at the same time: leave quiet out instead")
    return Quiet(start, end)


def _written_rate(value: tuple[RateLimit, ...] | None) -> list[str] | None:
    return None if value is None else [str(limit) for limit in value]


def _written_digest(value: Digest | None) -> str | None:
    if value is None:
        return None
    if value.daily_at is not None:
        return f"daily {value.daily_at:%H:%M}"
    seconds = int(value.every.total_seconds()) if value.every else 0
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


def _written_quiet(value: Quiet | None) -> str | None:
    return None if value is None else f"{value.start:%H:%M}-{value.end:%H:%M}"


# Each is read from what config.toml says and written back the same way (check-config --show).
Rate = Annotated[
    tuple[RateLimit, ...] | None, BeforeValidator(_rate), PlainSerializer(_written_rate)
]
DigestValue = Annotated[Digest | None, BeforeValidator(_digest), PlainSerializer(_written_digest)]
QuietValue = Annotated[Quiet | None, BeforeValidator(_quiet), PlainSerializer(_written_quiet)]


class Pacing(BaseModel):
    """The keys every channel kind shares for its pace (see the module docstring)."""

    rate: Rate = None
    digest: DigestValue = None
    quiet: QuietValue = None
    workdays_only: bool = False

    # A kind's documented limit, used when ``rate`` is not written.
    default_rate: ClassVar[tuple[RateLimit, ...]] = ()

    def rate_limits(self) -> tuple[RateLimit, ...]:
        return self.rate if self.rate is not None else self.default_rate
