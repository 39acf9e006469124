"""Every platform filter takes any spelling of a platform: CLI, API, page and feed.

The store keeps the canonical name (抖音电商); ``--platform 抖店``, ``?platform=Douyin`` and
``?platform=抖音电商`` find the same changes. A rule entered by hand and a notice spelling its
platform another way (淘宝 / 《淘宝网…》) are one rule, so a postponement moves its change.
Each test runs on a SQLite file and on PostgreSQL.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import icalendar
import pytest
import time_machine
from sqlalchemy import Engine
from typer.testing import CliRunner

from alerts.cli import app
from alerts.config import load_settings
from alerts.web.app import create_app
from store.db import connect

runner = CliRunner()
DOUYIN = "抖音电商商品发布规范"
TAOBAO = "淘宝商品发布规范"
NOTICES = [
    {
        "id": "douyin",
        "published_at": "2026-12-01T10:00:00+08:00",
        "title": "抖店调整《商品发布规范》",
        "text": "抖店《商品发布规范》于2026年12月1日公示，2026年12月20日生效。",
    },
    {
        "id": "taobao",
        "published_at": "2026-12-01T11:00:00+08:00",
        "title": "《淘宝网商品发布规范》变更公示",
        "text": "本次变更于2026年12月1日公示，2026年12月15日生效。",
    },
]


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[service]\ntimezone = "Asia/Shanghai"\ndatabase = "{database_url}"\n',
        encoding="utf-8",
    )
    return path


def run(config: Path, *args: str):
    result = runner.invoke(app, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def stored(config: Path, tmp_path: Path) -> Path:
    """A 抖音电商 change (from a notice that says 抖店) and a 淘宝 one, imported by the CLI."""
    notices = tmp_path / "notices.jsonl"
    notices.write_text(
        "".join(json.dumps(n, ensure_ascii=False) + "\n" for n in NOTICES), encoding="utf-8"
    )
    run(config, "import", "--format", "jsonl", str(notices))
    return config


@pytest.fixture
def engine(stored: Path, database_url: str):
    engine = connect(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def client(stored: Path, engine: Engine) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(load_settings(stored), engine))
    return httpx.AsyncClient(transport=transport, base_url="http://rulewatch.test")


SPELLINGS = ["抖店", "抖音", "douyin", " 抖音电商 "]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_changes_platform_takes_any_spelling(stored: Path, spelling: str):
    changes = json.loads(run(stored, "changes", "--platform", spelling, "--json").stdout)
    assert [(c["rule_key"], c["platform"]) for c in changes] == [(DOUYIN, "抖音电商")]
    table = run(stored, "changes", "--platform", "淘宝网").stdout
    assert TAOBAO in table and DOUYIN not in table


def test_ics_platform_takes_any_spelling(stored: Path):
    body = run(stored, "ics", "--all", "--platform", "抖店").stdout_bytes
    events = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert {str(e["SUMMARY"]) for e in events} == {f"【公示】{DOUYIN}", f"【生效】{DOUYIN}"}


@pytest.mark.anyio
@pytest.mark.parametrize("spelling", SPELLINGS)
async def test_api_platform_takes_any_spelling(client: httpx.AsyncClient, spelling: str):
    response = await client.get("/api/changes", params={"platform": spelling})
    assert [(c["rule_key"], c["platform"]) for c in response.json()] == [(DOUYIN, "抖音电商")]
    assert response.headers["X-Total-Count"] == "1"


@pytest.mark.anyio
@time_machine.travel("2026-12-02 10:00 +0800", tick=False)
async def test_page_platform_takes_any_spelling(client: httpx.AsyncClient):
    html = (await client.get("/", params={"platform": "抖店"})).text
    assert set(re.findall(r'data-rule="([^"]+)"', html)) == {DOUYIN}
    # The form shows the platform by its canonical name, not as a second, unknown one.
    assert '<option value="抖音电商" selected>' in html
    assert 'value="抖店"' not in html


@pytest.mark.anyio
async def test_feed_platform_takes_any_spelling(client: httpx.AsyncClient):
    body = (await client.get("/calendar.ics", params={"all": "1", "platform": "抖店"})).content
    events = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert {str(e["SUMMARY"]) for e in events} == {f"【公示】{DOUYIN}", f"【生效】{DOUYIN}"}


@time_machine.travel("2026-11-27 10:00 +0800", tick=False)
def test_a_notice_spelling_the_platform_otherwise_moves_the_hand_entered_change(
    config: Path, tmp_path: Path
):
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
    )
    assert "added" in added.stdout
    (before,) = json.loads(run(config, "changes", "--json").stdout)
    postponed = {
        "id": "later",
        "published_at": "2026-11-27T15:00:00+08:00",
        "title": "《淘宝网商品发布规范》生效时间调整",
        "text": "《淘宝网商品发布规范》原定于2026年12月4日生效，现延期至2026年12月18日生效。",
    }
    notice = tmp_path / "postponed.jsonl"
    notice.write_text(json.dumps(postponed, ensure_ascii=False) + "\n", encoding="utf-8")
    imported = run(config, "import", "--format", "jsonl", str(notice))
    assert "0 added, 0 merged, 1 moved" in imported.stdout
    (after,) = json.loads(run(config, "changes", "--json").stdout)
    assert (after["uid"], after["rule_key"], after["platform"]) == (before["uid"], TAOBAO, "淘宝")
    assert (after["effective_on"], after["postponed_from"], after["revision"]) == (
        "2026-12-18",
        "2026-12-04",
        before["revision"] + 1,
    )
    assert len(after["sources"]) == 2
    rules = run(config, "rules").stdout
    assert TAOBAO in rules and "淘宝网" not in rules


def test_wechat_typed_by_a_person_is_the_wechat_shop_but_not_read_in_notices():
    from alerts.extract import Notice, extract
    from alerts.extract.platforms import canonical_platform

    assert canonical_platform("微信") == "微信小店"
    [found] = extract(Notice(title="《商家客服规范》修订", text="商家须通过微信客服回复。"))
    assert found.platform is None
