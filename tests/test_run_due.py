"""`rulewatch run-due` for cron users: exact messages, idempotence, and a crash mid-send."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine
from receiver import Receiver, Reply, refused_url
from typer.testing import CliRunner

from alerts.cli import app

WHSEC = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD1BFz5LQY/7k="
runner = CliRunner()


def write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[service]
database = "sqlite:///store.db"

[[watch]]
name = "shipping"
rules = ["1688商家发货行为管理规范"]
channels = ["hook"]

[[watch]]
name = "live"
rules = ["1688直播平台管理规范"]
channels = ["hook"]

[[channels]]
name = "hook"
kind = "webhook"
url = "{url}"
secret = "{WHSEC}"
""",
        encoding="utf-8",
    )
    return path


def cli(config: Path, *args: str):
    result = runner.invoke(app, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result


def test_run_due_over_the_seed_sends_exactly_what_is_due(tmp_path: Path, seed_listing: Path):
    with (
        Receiver(secret=WHSEC) as receiver,
        time_machine.travel(datetime(2026, 11, 27, 2, tzinfo=UTC), tick=False),
    ):
        config = write_config(tmp_path, receiver.url)
        cli(config, "import", str(seed_listing))
        cli(
            config,
            "add",
            "--rule",
            "商家发货行为管理规范",
            "--platform",
            "1688",
            "--announced",
            "2026-11-27",
            "--effective",
            "2026-12-15",
        )

        preview = cli(config, "run-due", "--now", "2026-12-08T09:00:00+08:00", "--dry-run")
        assert preview.stdout.count("would send") == 2
        assert receiver.requests == []

        result = cli(config, "run-due", "--now", "2026-12-08T09:00:00+08:00", "--send-ahead")
        # The seed's changes all took effect long ago: only the new change is announced,
        # and its 7-day reminder is due at 09:00 on 12-08.
        bodies = [r.json() for r in receiver.wait_for(2)]
        assert sorted((b["kind"], b["days_left"]) for b in bodies) == [
            ("announced", 7),
            ("lead", 7),
        ]
        assert all(r.verified for r in receiver.requests)
        assert "sent 2" in result.stdout

        again = cli(config, "run-due", "--now", "2026-12-08T09:00:00+08:00", "--send-ahead")
        assert "sent 0" in again.stdout
        assert len(receiver.requests) == 2

        listed = cli(config, "reminders", "--sent", "--json")
        assert len(json.loads(listed.stdout)) == 2


def test_a_crash_mid_send_resends_the_claimed_reminder_with_the_same_id(tmp_path: Path):
    with Receiver(secret=WHSEC) as receiver:
        receiver.script(Reply(200, delay=60))  # the first answer never comes in time
        config = write_config(tmp_path, receiver.url)
        cli(config, "add", "--rule", "1688直播平台管理规范", "--effective", "2099-01-01")
        start = datetime.now(UTC) + timedelta(minutes=1)
        rulewatch = str(Path(sys.executable).with_name("rulewatch"))
        process = subprocess.Popen(
            [
                rulewatch,
                "--config",
                str(config),
                "run-due",
                "--now",
                start.isoformat(),
                "--send-ahead",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=os.environ,
        )
        try:
            (first,) = receiver.wait_for(1, timeout=30)
        finally:
            process.kill()  # dies holding the claim, mid-send
            process.wait(timeout=10)
        # Within the lease nobody else takes it…
        early = cli(
            config, "run-due", "--now", (start + timedelta(minutes=1)).isoformat(), "--send-ahead"
        )
        assert "sent 0" in early.stdout and len(receiver.requests) == 1
        # …after it, the reminder is claimed again and sent with the same webhook-id.
        later = cli(
            config, "run-due", "--now", (start + timedelta(minutes=10)).isoformat(), "--send-ahead"
        )
        assert "sent 1" in later.stdout
        second = receiver.wait_for(2)[1]
        assert second.headers["webhook-id"] == first.headers["webhook-id"]
        assert second.verified
        listed = json.loads(cli(config, "reminders", "--json").stdout)
        announced = [r for r in listed if r["kind"] == "announced"]
        assert [(r["status"], r["attempts"]) for r in announced] == [("sent", 2)]


def test_run_due_rejects_an_instant_without_offset(tmp_path: Path):
    config = write_config(tmp_path, "http://127.0.0.1:9/hook")
    result = runner.invoke(app, ["--config", str(config), "run-due", "--now", "2026-12-08T09:00"])
    assert result.exit_code == 2
    assert "--now" in result.stderr


def test_reminders_lists_failed_and_pending_separately(tmp_path: Path):
    with refused_url() as down:
        config = write_config(tmp_path, down)
        text = config.read_text(encoding="utf-8").replace(
            "[service]", "[reminders]\nmax_attempts = 1\n\n[service]"
        )
        config.write_text(text, encoding="utf-8")
        cli(config, "add", "--rule", "1688直播平台管理规范", "--effective", "2099-01-01")
        ran = cli(
            config,
            "run-due",
            "--now",
            (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
            "--send-ahead",
        )
    # Its one try failed and was its last: the line says it is dead, not that it will retry.
    (line,) = [x for x in ran.stdout.splitlines() if x.startswith("hook:")]
    assert line.startswith("hook: dead — ") and "已达最多尝试次数" in line
    failed = json.loads(cli(config, "reminders", "--failed", "--json").stdout)
    assert [(r["kind"], r["status"], r["attempts"]) for r in failed] == [("announced", "dead", 1)]
    assert failed[0]["last_delivery"]["outcome"] == "retry"
    assert "已达最多尝试次数" in failed[0]["reason"]
    pending = json.loads(cli(config, "reminders", "--pending", "--json").stdout)
    assert sorted(r["lead_days"] for r in pending) == [0, 1, 7]
    table = cli(config, "reminders", "--failed").stdout
    assert "dead" in table and "announced" in table


def test_sending_ahead_of_the_clock_needs_saying_so(tmp_path: Path):
    with Receiver(secret=WHSEC) as receiver:
        config = write_config(tmp_path, receiver.url)
        cli(config, "add", "--rule", "1688直播平台管理规范", "--effective", "2099-01-01")
        ahead = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        refused = runner.invoke(app, ["--config", str(config), "run-due", "--now", ahead])
        assert refused.exit_code == 2
        said = " ".join(refused.output.replace("│", " ").split())  # Typer boxes and wraps it
        assert "ahead of the clock" in said and "--send-ahead" in said
        assert "would send" in cli(config, "run-due", "--now", ahead, "--dry-run").stdout
        assert receiver.requests == []
        assert "sent 1" in cli(config, "run-due", "--now", ahead, "--send-ahead").stdout


def test_a_dry_run_says_what_a_channels_quiet_hours_hold_back(tmp_path: Path):
    with time_machine.travel(datetime(2026, 11, 27, 2, tzinfo=UTC), tick=False):
        config = write_config(tmp_path, "http://127.0.0.1:9/hook")
        config.write_text(
            config.read_text(encoding="utf-8") + 'quiet = "22:00-08:00"\n', encoding="utf-8"
        )
        cli(config, "run-due")  # the channel is known before the change is stored
        cli(
            config,
            "add",
            "--rule",
            "商家发货行为管理规范",
            "--platform",
            "1688",
            "--effective",
            "2026-12-15",
        )
        at_night = cli(config, "run-due", "--now", "2026-11-27T23:00:00+08:00", "--dry-run")
        morning = cli(config, "run-due", "--now", "2026-11-28T08:00:00+08:00", "--dry-run")
    assert "hook: would wait — 渠道处于免打扰时段或非工作日" in at_night.stdout
    assert "0 would be sent" in at_night.stdout
    assert "hook: would send" in morning.stdout and "1 would be sent" in morning.stdout
