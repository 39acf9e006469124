"""What the faces say of sources: the page's 数据源 section, /healthz, /metrics, the API and
`rulewatch sources`, for a source that works and one that keeps failing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import time_machine
from sqlalchemy import Engine
from typer.testing import CliRunner

from alerts.cli import app as cli
from alerts.config import Settings, parse_settings
from alerts.sources.catalog import find
from alerts.sources.service import Poller, manners
from alerts.sources.web import HttpWeb
from alerts.web.app import create_app
from store.db import session_scope

pytestmark = pytest.mark.anyio
TOKEN = "test-token-0123456789abcdef"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
START = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
NOTICE = "关于调整商品发布规范的公告\n本规范于2026年12月1日公示，自2026年12月20日起生效。\n"


def config(database_url: str) -> str:
    return (
        f'[service]\ndatabase = "{database_url}"\n\n[api]\ntoken = "{TOKEN}"\n\n'
        '[[sources]]\nname = "drop"\nkind = "folder"\npath = "drop"\n\n'
        '[[sources]]\nname = "gone"\nkind = "folder"\npath = "no-such-folder"\n'
    )


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    text = config(database_url)  # the store of the `engine` fixture, which the CLI opens too
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    (tmp_path / "drop").mkdir()
    (tmp_path / "drop" / "a.txt").write_text(NOTICE, encoding="utf-8")
    return parse_settings(text, path=tmp_path / "config.toml", environ={})


@pytest.fixture
async def polled(settings: Settings, engine: Engine, http: httpx.AsyncClient) -> Settings:
    poller = Poller(settings, engine, web=HttpWeb(http, manners(settings)))
    for n in range(3):
        with time_machine.travel(START + timedelta(hours=n), tick=False):
            for name in ("drop", "gone"):
                with session_scope(engine) as session:
                    source = find(settings, session, name)
                await poller.poll(source, on_demand=True)
    return settings


@pytest.fixture
async def client(polled: Settings, engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(polled, engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
        yield client


async def test_the_page_shows_each_source_and_why_one_fails(client: httpx.AsyncClient):
    page = (await client.get("/")).text
    section = page[page.index('id="sources"') :]
    assert 'data-source="drop" data-state="ok"' in section and "已收到 1 条" in section
    assert 'data-source="gone" data-state="failing"' in section
    assert "连续 3 次读取失败" in section and "is not a folder that can be read" in section


async def test_healthz_names_the_failing_source_and_stays_up(client: httpx.AsyncClient):
    health = (await client.get("/healthz")).json()
    assert health["status"] == "ok" and health["sources"] == {"drop": "ok", "gone": "failing"}
    assert any(w.startswith("source gone failed 3 poll(s) in a row") for w in health["warnings"])


async def test_metrics_count_each_sources_failures_and_items(client: httpx.AsyncClient):
    metrics = (await client.get("/metrics")).text
    assert 'rulewatch_source_failures{source="gone"} 3.0' in metrics
    assert 'rulewatch_source_failures{source="drop"} 0.0' in metrics
    assert 'rulewatch_source_items{source="drop"} 1.0' in metrics
    assert 'rulewatch_source_last_success_timestamp_seconds{source="drop"}' in metrics


async def test_the_api_lists_sources_and_guards_what_it_adds(client: httpx.AsyncClient):
    listed = {s["name"]: s for s in (await client.get("/api/sources")).json()}
    assert listed["gone"]["state"] == "failing" and listed["gone"]["failures"] == 3
    assert listed["drop"]["items_seen"] == 1 and listed["drop"]["added_by"] == "config"
    folder = {"name": "mine", "kind": "folder", "path": "/etc"}
    refused = await client.post("/api/sources", json=folder, headers=HEADERS)
    assert refused.status_code == 400 and "config.toml" in refused.json()["detail"]
    unknown = await client.post("/api/sources", json={"name": "x", "kind": "ftp"}, headers=HEADERS)
    assert unknown.status_code == 422
    assert (await client.post("/api/sources", json={"name": "x"})).status_code == 401
    assert (await client.delete("/api/sources/drop", headers=HEADERS)).status_code == 409
    assert (await client.delete("/api/sources/nope", headers=HEADERS)).status_code == 404


async def test_the_command_lists_sources_as_a_table_and_as_json(polled: Settings, tmp_path: Path):
    runner = CliRunner()
    shown = runner.invoke(cli, ["--config", str(tmp_path / "config.toml"), "sources"])
    assert shown.exit_code == 0, shown.output
    assert "failing" in shown.output and "not a folder that can be read" in shown.output
    as_json = runner.invoke(cli, ["--config", str(tmp_path / "config.toml"), "sources", "--json"])
    states = {s["name"]: s["state"] for s in json.loads(as_json.output)}
    assert states == {"drop": "ok", "gone": "failing"}


async def test_the_api_answers_a_kind_that_is_not_a_name_with_422(client: httpx.AsyncClient):
    body = {"name": "x", "kind": ["rss"], "url": "https://rules.example.com/feed"}
    answer = await client.post("/api/sources", json=body, headers=HEADERS)
    assert answer.status_code == 422, answer.text


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/admin",
        "http://localhost/rules",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/list",
        "http://[::1]/feed",
        "http://127.1/rules",  # the forms a resolver takes for 127.0.0.1
        "http://2130706433/rules",
        "http://0x7f.0.0.1/rules",
        "http://[64:ff9b::a00:5]/list",  # NAT64 of 10.0.0.5
        "http://[::ffff:192.168.1.1]/list",
    ],
)
async def test_the_api_adds_no_source_on_this_machine_or_the_intranet(
    client: httpx.AsyncClient, url: str
):
    body = {"name": "inside", "kind": "rss", "url": url}
    answer = await client.post("/api/sources", json=body, headers=HEADERS)
    assert answer.status_code == 400, answer.text
    assert "api_private_addresses" in answer.json()["detail"]
    assert "inside" not in {s["name"] for s in (await client.get("/api/sources")).json()}


def test_trying_a_source_reads_what_a_poll_would_store(site, tmp_path: Path):
    # A UTC feed's 17:00 on 31 December is New Year's Day in Shanghai, and the notice names
    # no platform: `try` shows the day and the platform a poll would store.
    feed = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>公告</title>'
        "<item><title>关于调整《商品标题规范》的公告</title><link>/notice/1</link>"
        "<pubDate>Thu, 31 Dec 2026 17:00:00 GMT</pubDate>"
        "<description>《商品标题规范》调整后的条款自今日起生效。</description></item>"
        "</channel></rss>"
    )
    site.put("/rss", feed, content_type="application/rss+xml")
    (tmp_path / "config.toml").write_text("[polling]\nper_host_seconds = 0\n", encoding="utf-8")
    args = ["--config", str(tmp_path / "config.toml"), "sources", "try", site.url_for("/rss")]
    shown = CliRunner().invoke(cli, [*args, "--kind", "rss", "--set", "platform=抖店"])
    assert shown.exit_code == 0, shown.output
    assert "生效 2027-01-01" in shown.output and "抖音" in shown.output, shown.output
    assert "nothing was stored" in shown.output
