"""The HTTP face: in-process through TestClient, and `rulewatch serve` on loopback."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import time_machine
from sqlalchemy import Engine

from alerts.config import load_settings
from alerts.timeline.ingest import import_files
from alerts.web.app import create_app
from store.db import session_scope


@pytest.fixture
def client(tmp_path: Path, engine: Engine, seed_listing: Path):
    config = tmp_path / "config.toml"
    config.write_text('[service]\ntimezone = "Asia/Shanghai"\n', encoding="utf-8")
    settings = load_settings(config)
    with session_scope(engine) as session:
        import_files(session, [seed_listing], tz=ZoneInfo("Asia/Shanghai"))
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    return httpx.AsyncClient(transport=transport, base_url="http://rulewatch.test")


@pytest.mark.anyio
async def test_healthz_reports_the_store(client: httpx.AsyncClient):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["store"] == "ok"


@pytest.mark.anyio
@time_machine.travel("2024-03-10 12:00 +0800", tick=False)
async def test_changes_lists_the_timeline_with_days_left(client: httpx.AsyncClient):
    changes = (await client.get("/api/changes", params={"rule": "发货行为"})).json()
    by_date = {c["effective_on"]: c for c in changes}
    assert by_date["2024-03-14"]["days_left"] == 4
    assert by_date["2024-03-14"]["announced_on"] == "2024-03-06"
    assert by_date["2024-03-14"]["sources"][0]["published_at"] == "2024-03-06T16:55:35+08:00"
    upcoming = (await client.get("/api/changes", params={"upcoming": True})).json()
    assert [c["effective_on"] for c in upcoming] == [
        "2024-03-14",
        "2024-03-25",
        "2024-12-05",
        "2025-02-18",
    ]
    page = (await client.get("/api/changes", params={"limit": 2, "offset": 1})).json()
    assert len(page) == 2 and page[0] == (await client.get("/api/changes")).json()[1]


@pytest.mark.anyio
async def test_bad_query_parameters_get_422_naming_the_field(client: httpx.AsyncClient):
    response = await client.get("/api/changes", params={"limit": 0})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_runs_on_loopback_and_hints_at_the_sample(tmp_path: Path):
    port = _free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'[service]\nlisten = "127.0.0.1:{port}"\n', encoding="utf-8")
    rulewatch = Path(sys.executable).with_name("rulewatch")
    process = subprocess.Popen(
        [str(rulewatch), "--config", str(config), "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"serve did not come up: {process.stdout.read()}"
                    ) from None
                time.sleep(0.1)  # waiting for a process to listen, not for the clock
        assert response.json()["status"] == "ok"
        assert response.json()["scheduler"] == "running"
        assert response.json()["next_dispatch"] is not None
        assert httpx.get(f"http://127.0.0.1:{port}/api/changes").json() == []
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert "rulewatch import --sample" in output
    assert (tmp_path / "rulewatch.db").exists()


def test_the_api_docs_need_no_internet(tmp_path):
    """/docs loads Swagger UI from the service itself: on an intranet it is not blank."""
    from alerts.config import parse_settings
    from store.db import connect, upgrade

    engine = connect(f"sqlite:///{tmp_path / 'docs.db'}")
    upgrade(engine)
    settings = parse_settings("", path=tmp_path / "config.toml", environ={})
    transport = httpx.ASGITransport(app=create_app(settings, engine))

    async def fetch(*paths: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
            return [await client.get(path) for path in paths]

    page, js, css, schema = asyncio.run(
        fetch(
            "/docs",
            "/docs/assets/swagger-ui-bundle.js",
            "/docs/assets/swagger-ui.css",
            "/openapi.json",
        )
    )
    engine.dispose()
    assert page.status_code == 200
    assert "https://" not in page.text and "//cdn" not in page.text
    assert "/docs/assets/swagger-ui-bundle.js" in page.text
    assert js.status_code == 200 and "SwaggerUIBundle" in js.text
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert schema.json()["info"]["title"] == "rulewatch"


@pytest.mark.anyio
async def test_changes_are_searched_with_the_other_filters(client: httpx.AsyncClient):
    found = await client.get("/api/changes", params={"q": "发货"})
    rules = {c["rule_key"] for c in found.json()}
    assert rules == {"1688商家发货行为管理规范", "1688商家服务管理规范"}
    assert found.headers["X-Total-Count"] == str(len(found.json()))
    narrowed = await client.get("/api/changes", params={"q": "发货", "rule": "服务"})
    assert {c["rule_key"] for c in narrowed.json()} == {"1688商家服务管理规范"}
    assert narrowed.headers["X-Total-Count"] == str(len(narrowed.json()))
    none = await client.get("/api/changes", params={"q": "发货", "platform": "淘宝"})
    assert none.json() == [] and none.headers["X-Total-Count"] == "0"
    too_long = await client.get("/api/changes", params={"q": "x" * 201})
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["msg"] == "String should have at most 200 characters"
