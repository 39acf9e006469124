"""China's working days with [workdays] on top (issue 9, item 13): the days of a year the
holiday package does not know yet, and warnings while such a year is near."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
import time_machine
from typer.testing import CliRunner

from alerts.cli import app
from alerts.config import parse_settings
from alerts.errors import ConfigError
from alerts.reminders.plan import timing

runner = CliRunner()
SHIFTING = '[reminders]\nshift = "previous_workday"\n'
# 2027 as a year chinesecalendar has no data for: a Wednesday off, a Saturday worked.
WORKDAYS_2027 = "[workdays]\ndays_off = [2027-02-10]\nworkdays = [2027-02-20]\n"


def settings(tmp_path: Path, text: str):
    return parse_settings(text, path=tmp_path / "config.toml", environ={})


def test_configured_days_move_reminders_in_a_year_the_package_does_not_know(tmp_path: Path):
    shift = timing(settings(tmp_path, SHIFTING + WORKDAYS_2027)).shift
    assert shift is not None
    assert shift(date(2027, 2, 10)) == date(2027, 2, 9)  # the configured day off
    assert shift(date(2027, 2, 20)) == date(2027, 2, 20)  # a Saturday worked (调休)
    assert shift(date(2027, 2, 21)) == date(2027, 2, 20)  # Sunday goes back to it
    plain = timing(settings(tmp_path, SHIFTING)).shift
    assert plain is not None and plain(date(2027, 2, 10)) == date(2027, 2, 10)


def test_a_day_both_off_and_worked_is_an_error_naming_it(tmp_path: Path):
    with pytest.raises(ConfigError, match="2027-02-10 is listed as a day off and as a working"):
        settings(tmp_path, "[workdays]\ndays_off = [2027-02-10]\nworkdays = [2027-02-10]\n")


@time_machine.travel(datetime(2026, 12, 2, 3, tzinfo=UTC), tick=False)
def test_check_config_warns_while_next_year_has_no_holidays(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(SHIFTING, encoding="utf-8")
    warned = runner.invoke(app, ["--config", str(path), "check-config"])
    assert warned.exit_code == 0
    assert "warning: no holiday calendar for 2027" in warned.stderr
    path.write_text(SHIFTING + WORKDAYS_2027, encoding="utf-8")
    quiet = runner.invoke(app, ["--config", str(path), "check-config"])
    assert quiet.exit_code == 0 and "warning" not in quiet.stderr


@time_machine.travel(datetime(2026, 12, 2, 3, tzinfo=UTC), tick=False)
def test_healthz_carries_the_same_warning(tmp_path: Path):
    import asyncio

    from alerts.web.app import create_app
    from store.db import connect, upgrade

    engine = connect(f"sqlite:///{tmp_path / 'h.db'}")
    upgrade(engine)
    transport = httpx.ASGITransport(app=create_app(settings(tmp_path, SHIFTING), engine))

    async def health() -> dict[str, object]:
        async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
            return dict((await client.get("/healthz")).json())

    body = asyncio.run(health())
    engine.dispose()
    assert body["status"] == "ok"
    assert any("2027" in str(w) for w in body["warnings"])  # type: ignore[union-attr]
