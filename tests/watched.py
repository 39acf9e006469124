"""Many watched changes stored at once, and the config that watches them, for the tests of
a channel's pace and of digests. Every change is on 1688 and announced on 2026-11-27.

``tests/`` is on ``sys.path``, so tests import this module as ``watched``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from alerts.config import Settings, parse_settings
from alerts.timeline.ingest import add_change
from store.db import session_scope

TZ = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    """``text`` (ISO, no offset) as an instant in the service time zone."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def settings_with(tmp_path: Path, channel: str) -> Settings:
    """A config whose one watch sends every change it stores to the channel "ops", whose
    keys after its name are ``channel`` (TOML lines)."""
    text = (
        '[service]\nbase_url = "https://rw.example.com"\n\n'
        '[[watch]]\nname = "all-1688"\nkeywords = ["管理规范"]\nchannels = ["ops"]\n\n'
        f'[[channels]]\nname = "ops"\n{channel}'
    )
    return parse_settings(text, path=tmp_path / "config.toml", environ={})


def add_changes(engine: Engine, count: int, *, spread_days: int = 1) -> None:
    """``count`` changes of as many rules, taking effect from 2026-12-15 over
    ``spread_days`` days, stored at the clock's now."""
    with session_scope(engine) as session:
        for n in range(count):
            add_change(
                session,
                rule=f"1688第{n}号管理规范",
                platform="1688",
                announced_on=date(2026, 11, 27),
                effective_on=date(2026, 12, 15) + timedelta(days=n % spread_days),
                title=f"《1688第{n}号管理规范》变更",
                now=datetime.now(TZ),
                tz=TZ,
            )
