"""The `rulewatch` command end to end, through Typer's runner, on a temporary SQLite store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from typer.testing import CliRunner

from alerts.cli import app
from store.db import head_revision

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[service]\ndatabase = "sqlite:///store.db"\n', encoding="utf-8")
    return path


def run(config: Path, *args: str, input: str | None = None):
    return runner.invoke(app, ["--config", str(config), *args], input=input)


def test_help_does_not_load_the_heavy_packages():
    # cron runs the command often: FastAPI, SQLModel and icalendar load only where needed.
    code = (
        "import sys; from alerts.cli import app; "
        "print(sorted(m for m in ('fastapi', 'sqlmodel', 'sqlalchemy', 'icalendar', 'uvicorn') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_extract_prints_one_json_line_per_notice(seed_listing: Path):
    result = runner.invoke(app, ["extract", str(seed_listing)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 20
    first = lines[0]
    assert first["published_at"] == "2024-03-18T18:00:32"
    assert first["changes"] == [
        {
            "rule": "1688商家服务管理规范",
            "rule_key": "1688商家服务管理规范",
            "platform": "1688",
            "kind": "amendment",
            "announced_on": "2024-03-18",
            "effective_on": "2024-03-25",
            "effective_at": None,
            "tentative": False,
            "postponed_from": None,
        }
    ]


def test_extract_reads_json_lines_from_stdin_and_keeps_ids():
    lines = [
        {
            "id": "a",
            "published_at": "2025-12-20T09:00:00+08:00",
            "title": "《拼多多商品描述规范》调整",
            "text": "新规1月5日起生效。",
        },
        {
            "id": "b",
            "published_at": None,
            "title": "《拼多多商品描述规范》调整",
            "text": "新规1月5日起生效。",
        },
    ]
    stdin = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    result = runner.invoke(app, ["extract", "-", "--format", "jsonl"], input=stdin)
    assert result.exit_code == 0, result.output
    a, b = (json.loads(line) for line in result.stdout.splitlines())
    assert (a["id"], a["changes"][0]["effective_on"]) == ("a", "2026-01-05")
    # Without a publish time the year of a bare month-day is unknown: null, not a guess.
    assert (b["id"], b["changes"][0]["effective_on"]) == ("b", None)


def test_extract_names_the_bad_json_line():
    result = runner.invoke(
        app,
        ["extract", "-", "--format", "jsonl"],
        input='{"id": "1", "title": "x", "text": "y"}\nnot json\n',
    )
    assert result.exit_code == 1
    assert "line 2" in result.stderr


def test_import_twice_then_show_the_timeline(config: Path, seed_listing: Path):
    first = run(config, "import", str(seed_listing))
    assert first.exit_code == 0, first.output
    assert "20 notice(s) stored" in first.stdout
    second = run(config, "import", str(seed_listing))
    assert "0 notice(s) stored, 20 already known" in second.stdout
    assert "0 added, 0 merged, 0 moved" in second.stdout

    result = run(config, "changes", "--rule", "发货行为", "--json")
    changes = json.loads(result.stdout)
    effective = [c["effective_on"] for c in changes if c["effective_on"]]
    assert effective == sorted(effective)
    assert "2025-02-18" in effective
    table = run(config, "changes", "--platform", "1688")
    assert "1688商家服务管理规范" in table.stdout
    searched = json.loads(run(config, "changes", "--search", "发货 服务", "--json").stdout)
    assert {c["rule_key"] for c in searched} == {"1688商家服务管理规范"}
    too_long = run(config, "changes", "-q", "发" * 201)
    assert too_long.exit_code == 1 and "at most 200 characters" in too_long.stderr
    rules = run(config, "rules")
    assert "1688商家发货行为管理规范" in rules.stdout


@time_machine.travel("2026-11-27 10:00 +0800", tick=False)
def test_add_then_upcoming_shows_days_left(config: Path):
    added = run(
        config,
        "add",
        "--rule",
        "商品发布规范",
        "--platform",
        "淘宝",
        "--announced",
        "2026-11-20",
        "--effective",
        "2026-12-04",
        "--time",
        "10:00",
        "--title",
        "淘宝商品发布规范调整",
    )
    assert added.exit_code == 0, added.output
    assert "added" in added.stdout
    run(config, "import", "--sample")
    upcoming = json.loads(run(config, "changes", "--upcoming", "--json").stdout)
    assert [(c["rule_key"], c["days_left"], c["effective_at"]) for c in upcoming] == [
        ("淘宝商品发布规范", 7, "10:00")
    ]


def test_import_sample_fills_an_empty_store(config: Path):
    result = run(config, "import", "--sample")
    assert result.exit_code == 0, result.output
    rules = run(config, "rules").stdout
    assert "1688商家发货行为管理规范" in rules and "1688直播平台管理规范" in rules


def test_bad_dates_are_named(config: Path):
    result = run(config, "add", "--rule", "x规范", "--effective", "2026-13-01")
    assert result.exit_code == 2
    assert "--effective" in result.stderr


def test_bad_config_stops_with_status_2_naming_the_file(tmp_path: Path):
    bad = tmp_path / "config.toml"
    bad.write_text('[service]\ntimezone = "Mars/Olympus"\n', encoding="utf-8")
    result = runner.invoke(app, ["--config", str(bad), "rules"])
    assert result.exit_code == 2
    assert str(bad) in result.stderr and "service.timezone" in result.stderr
    check = runner.invoke(app, ["--config", str(bad), "check-config"])
    assert check.exit_code == 2


def test_check_config_accepts_the_shipped_example():
    example = Path(__file__).resolve().parents[1] / "config.toml"
    result = runner.invoke(app, ["--config", str(example), "check-config"])
    assert result.exit_code == 0, result.output
    assert "config OK" in result.stdout


def test_db_upgrade_reports_the_revision(config: Path):
    result = run(config, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert f"is at revision {head_revision()}" in result.stdout


def test_extract_reads_several_files_like_import(tmp_path: Path, config: Path):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("《淘宝网商品发布规范》变更公示\n于2026年11月20日公示，2026年12月15日生效。\n")
    second.write_text("《淘宝网评价规范》变更公示\n于2026年11月21日公示，2026年12月16日生效。\n")
    done = run(config, "extract", str(first), str(second))
    assert done.exit_code == 0, done.output
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["changes"][0]["effective_on"] for line in lines] == ["2026-12-15", "2026-12-16"]
