"""When a channel may be sent to: its quiet hours, working days, digest window and rate limit.

Pure: the instant, the time zone, the working-day calendar and the store's counts come in
as arguments. Before each claim the dispatcher asks :func:`due_until` for each paced
channel (up to which due instant its reminders may go now, or None while it is closed) and
:func:`room` for each limited one (how many more messages its limits let out now).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from notifiers.pacing import Digest, Pacing, Quiet, RateLimit


def paced(pace: Pacing) -> bool:
    """Whether the channel's timing differs from "send what is due at once"."""
    return pace.digest is not None or pace.quiet is not None or pace.workdays_only


def due_until(
    pace: Pacing,
    now: datetime,
    *,
    tz: ZoneInfo,
    is_workday: Callable[[date], bool],
    opens_at: time = time(9),
) -> datetime | None:
    """The latest ``due_at`` of the reminders that may go to the channel at ``now``, or
    None while it is closed: inside its quiet hours, or with ``workdays_only`` on a day off
    and on the first working day after one until ``opens_at`` (``[reminders] at``), so what
    waited over a weekend goes at the hour reminders go, not at midnight. Without a digest
    that is ``now`` itself; with one, the start of the current window, so a window's
    reminders go out together once it has ended."""
    local = now.astimezone(tz)
    if pace.workdays_only:
        today = local.date()
        if not is_workday(today):
            return None
        if local.time() < opens_at and not is_workday(today - timedelta(days=1)):
            return None
    if pace.quiet is not None and _inside(pace.quiet, local.time()):
        return None
    if pace.digest is None:
        return now
    return _window_start(pace.digest, local).astimezone(now.tzinfo)


def gates(
    paces: Mapping[str, Pacing],
    now: datetime,
    *,
    tz: ZoneInfo,
    is_workday: Callable[[date], bool],
    opens_at: time = time(9),
) -> dict[str, datetime | None]:
    """:func:`due_until` of each paced channel at ``now``, by name (the others send what is
    due at once and are left out)."""
    return {
        name: due_until(pace, now, tz=tz, is_workday=is_workday, opens_at=opens_at)
        for name, pace in paces.items()
        if paced(pace)
    }


def _inside(quiet: Quiet, moment: time) -> bool:
    if quiet.start < quiet.end:
        return quiet.start <= moment < quiet.end
    return moment >= quiet.start or moment < quiet.end  # past midnight


def _window_start(digest: Digest, local: datetime) -> datetime:
    if digest.daily_at is not None:
        today = datetime.combine(local.date(), digest.daily_at, tzinfo=local.tzinfo)
        return today if today <= local else today - timedelta(days=1)
    assert digest.every is not None
    midnight = datetime.combine(local.date(), time(), tzinfo=local.tzinfo)
    windows = (local - midnight) // digest.every
    return midnight + windows * digest.every


def room(limits: tuple[RateLimit, ...], sent: Mapping[float, int]) -> int | None:
    """How many more messages ``limits`` let out now, given ``sent[seconds]``: the
    messages sent (or being sent) in the last ``seconds``. None when there is no limit."""
    if not limits:
        return None
    return max(0, min(limit.messages - sent.get(limit.seconds, 0) for limit in limits))
