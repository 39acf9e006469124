"""The one source of "now" and of the service's calendar dates.

Everything that needs the time asks here, so tests move the clock (time-machine) and every
part of the service agrees on which day it is in the service time zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def now() -> datetime:
    """The current instant, time-zone aware (UTC)."""
    return datetime.now(UTC)


def today(tz: ZoneInfo) -> date:
    """Today's calendar date in the service time zone ``tz``."""
    return now().astimezone(tz).date()
