"""Imports order notices the way a user means them (issue 9, item 1): a stated postponement
moves its change whatever its publish time, `--published` dates a file's notices, and a
notice without a publish time is ordered by when it was received."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from typer.testing import CliRunner

from alerts.cli import app

runner = CliRunner()
FIRST = {
    "title": "《淘宝商品发布规范》变更公示",
    "text": "《淘宝商品发布规范》于2026年11月20日公示，2026年12月15日生效。",
    "published_at": "2026-11-20T10:00:00+08:00",
}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[service]\ndatabase = "sqlite:///{tmp_path / "s.db"}"\n', "utf-8")
    return path


def run(config: Path, *args: str):
    done = runner.invoke(app, ["--config", str(config), *args])
    assert done.exit_code == 0, done.output
    return done


def changes(config: Path) -> list[dict[str, object]]:
    return list(json.loads(run(config, "changes", "--json").stdout))


@time_machine.travel(datetime(2026, 12, 2, 3, tzinfo=UTC), tick=False)
def test_a_postponement_read_from_a_file_moves_the_change(tmp_path: Path, config: Path):
    first = tmp_path / "first.jsonl"
    first.write_text(json.dumps(FIRST, ensure_ascii=False) + "\n", "utf-8")
    run(config, "import", str(first))
    postpone = tmp_path / "postpone.txt"
    postpone.write_text(
        "《淘宝商品发布规范》延期生效\n"
        "《淘宝网商品发布规范》原定于2026年12月15日生效，现延期至2026年12月31日生效。\n",
        "utf-8",
    )
    done = run(config, "import", str(postpone))
    assert "1 moved" in done.stdout
    [change] = changes(config)
    assert (change["effective_on"], change["postponed_from"]) == ("2026-12-31", "2026-12-15")


@time_machine.travel(datetime(2026, 12, 2, 3, tzinfo=UTC), tick=False)
def test_published_dates_the_notices_of_a_file(tmp_path: Path, config: Path):
    path = tmp_path / "notice.txt"
    path.write_text("淘宝网评价规范变更\n本次变更于12月1日公示，12月15日生效。\n", "utf-8")
    run(config, "import", "--published", "2026-11-30", str(path))
    [change] = changes(config)
    assert (change["announced_on"], change["effective_on"]) == ("2026-12-01", "2026-12-15")


def test_a_notice_without_a_publish_time_is_ordered_by_when_it_came(tmp_path: Path, config: Path):
    first = tmp_path / "first.jsonl"
    first.write_text(json.dumps(FIRST, ensure_ascii=False) + "\n", "utf-8")
    with time_machine.travel(datetime(2026, 11, 21, 3, tzinfo=UTC), tick=False):
        run(config, "import", str(first))
    later = tmp_path / "later.txt"
    later.write_text(
        "《淘宝商品发布规范》生效时间调整\n"
        "《淘宝商品发布规范》于2026年11月20日公示，调整为2026年12月20日生效。\n",
        "utf-8",
    )
    with time_machine.travel(datetime(2026, 12, 2, 3, tzinfo=UTC), tick=False):
        done = run(config, "import", str(later))
    assert "1 moved" in done.stdout
    [change] = changes(config)
    assert change["effective_on"] == "2026-12-20"


def test_days_without_a_year_are_said_at_import_and_flagged_everywhere(
    tmp_path: Path, config: Path
):
    path = tmp_path / "notice.txt"
    path.write_text("淘宝网评价规范变更\n本次变更于12月1日公示，12月15日生效。\n", "utf-8")
    done = run(config, "import", str(path))
    assert "no year: 淘宝网评价规范变更: 12月1日, 12月15日" in done.stderr
    assert "--published" in done.stderr
    [change] = changes(config)
    assert (change["effective_on"], change["without_year"]) == (None, "12月1日, 12月15日")
    table = run(config, "changes").stdout
    assert "no year: 12月1日, 12月15日" in table
    # Given its publish time, the same text is placed, and the change is whole.
    run(config, "import", "--published", "2026-11-30", str(path))
    placed = [c for c in changes(config) if c["effective_on"]]
    assert [(c["effective_on"], c["without_year"]) for c in placed] == [("2026-12-15", None)]


def test_the_api_and_the_page_flag_a_change_left_without_its_year(tmp_path: Path):
    import asyncio

    import httpx

    from alerts.config import parse_settings
    from alerts.web.app import create_app
    from store.db import connect, upgrade

    engine = connect(f"sqlite:///{tmp_path / 'api.db'}")
    upgrade(engine)
    token = "year-token-0123456789abcdef"
    settings = parse_settings(f'[api]\ntoken = "{token}"\n', path=tmp_path / "c.toml", environ={})
    transport = httpx.ASGITransport(app=create_app(settings, engine))

    async def go() -> tuple[dict[str, object], dict[str, object], str]:
        async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
            body = {"title": "淘宝网评价规范变更", "text": "本次变更于12月1日公示，12月15日生效。"}
            posted = await client.post(
                "/api/notices", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            listed = (await client.get("/api/changes")).json()
            page = (await client.get("/")).text
            return posted.json(), listed, page

    posted, listed, page = asyncio.run(go())
    engine.dispose()
    assert posted["without_year"] == ["12月1日", "12月15日"]
    assert listed[0]["without_year"] == "12月1日, 12月15日"  # type: ignore[index]
    assert "缺年份：12月1日, 12月15日" in page
