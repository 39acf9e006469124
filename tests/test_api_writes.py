"""The JSON API's writes, details and checks, in-process over httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import time_machine
from sqlalchemy import Engine

from alerts.config import parse_settings
from alerts.reminders.engine import ReminderEngine
from alerts.web.app import create_app

TOKEN = "test-token-0123456789abcdef"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
CONFIG = f"""
[api]
token = "{TOKEN}"
max_body_bytes = 4096

[[watch]]
name = "shipping"
rules = ["1688商家发货行为管理规范"]
channels = ["hook"]

[[channels]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:9/hook"
"""


@pytest.fixture
def settings(tmp_path: Path):
    return parse_settings(CONFIG, path=tmp_path / "config.toml", environ={})


@pytest.fixture
async def client(settings, engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
        yield client


NOTICE = {
    "title": "《淘宝网商品发布规范》变更公示",
    "text": "本次变更于2026年11月20日公示，2026年12月15日生效。",
    "published_at": "2026-11-20T10:00:00+08:00",
}


@pytest.mark.anyio
async def test_writes_need_the_bearer_token(client: httpx.AsyncClient):
    assert (await client.post("/api/notices", json=NOTICE)).status_code == 401
    wrong = {"Authorization": "Bearer nope-nope-nope-nope"}
    response = await client.post("/api/notices", json=NOTICE, headers=wrong)
    assert response.status_code == 401
    assert TOKEN not in response.text


@pytest.mark.anyio
async def test_without_a_configured_token_writes_are_refused(tmp_path: Path, engine: Engine):
    settings = parse_settings("", path=tmp_path / "config.toml", environ={})
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
        response = await client.post("/api/notices", json=NOTICE, headers=HEADERS)
    assert response.status_code == 403
    assert "[api] token" in response.json()["detail"]


@pytest.mark.anyio
@time_machine.travel(datetime(2026, 11, 27, 2, tzinfo=UTC), tick=False)
async def test_a_submitted_notice_is_read_stored_and_shown_in_detail(client: httpx.AsyncClient):
    response = await client.post("/api/notices", json=NOTICE, headers=HEADERS)
    assert response.status_code == 201
    result = response.json()
    assert result["stored"] is True
    (change,) = result["changes"]
    assert (change["action"], change["rule_key"], change["effective_on"]) == (
        "added",
        "淘宝商品发布规范",
        "2026-12-15",
    )
    again = (await client.post("/api/notices", json=NOTICE, headers=HEADERS)).json()
    assert (again["stored"], again["changes"]) == (False, [])

    detail = (await client.get(f"/api/changes/{change['uid']}")).json()
    assert (detail["announced_on"], detail["days_left"]) == ("2026-11-20", 18)
    assert detail["notices"][0]["text"] == NOTICE["text"]
    assert detail["notices"][0]["origin"] == "api"
    assert (await client.get("/api/changes/nope")).status_code == 404


@pytest.mark.anyio
@time_machine.travel(datetime(2026, 11, 27, 2, tzinfo=UTC), tick=False)
async def test_a_hand_entered_change_gets_reminders_visible_in_its_detail(
    client: httpx.AsyncClient, settings, engine: Engine
):
    body = {
        "rule": "商家发货行为管理规范",
        "platform": "1688",
        "effective_on": "2026-12-15",
        "effective_at": "10:00",
    }
    response = await client.post("/api/changes", json=body, headers=HEADERS)
    assert response.status_code == 201, response.text
    uid = response.json()["changes"][0]["uid"]
    async with httpx.AsyncClient() as http:
        ReminderEngine(settings, engine, http=http).plan(datetime.now(UTC))
    detail = (await client.get(f"/api/changes/{uid}")).json()
    assert detail["rule_key"] == "1688商家发货行为管理规范"
    assert detail["effective_at"] == "10:00"
    kinds = sorted(
        (r["kind"], r["lead_days"] if r["lead_days"] is not None else -1)
        for r in detail["reminders"]
    )
    assert kinds == [("announced", -1), ("lead", 0), ("lead", 1), ("lead", 7)]
    listed = (await client.get("/api/reminders", params={"status": "pending"})).json()
    assert len(listed) == 4
    assert (await client.get("/api/deliveries/failed")).json() == []


@pytest.mark.anyio
async def test_bad_bodies_get_422_naming_the_field(client: httpx.AsyncClient):
    response = await client.post(
        "/api/changes", json={"rule": "x规范", "effective_on": "2026-13-01"}, headers=HEADERS
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "effective_on"]
    unknown = await client.post(
        "/api/changes",
        json={"rule": "x规范", "effective_on": "2026-12-01", "colour": 1},
        headers=HEADERS,
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "colour"]


@pytest.mark.anyio
async def test_oversized_bodies_are_refused(client: httpx.AsyncClient):
    big = {**NOTICE, "text": "生效" * 3000}
    response = await client.post("/api/notices", json=big, headers=HEADERS)
    assert response.status_code == 413
    assert "max_body_bytes" in response.json()["detail"]

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    streamed = await client.post("/api/notices", content=chunks(), headers=HEADERS)
    assert streamed.status_code == 413


@pytest.mark.anyio
async def test_watches_added_through_the_api_persist_and_are_used(
    client: httpx.AsyncClient, settings, engine: Engine
):
    watch = {"name": "taobao", "platforms": ["淘宝"], "channels": ["hook"], "tags": ["tb"]}
    assert (await client.post("/api/watches", json=watch, headers=HEADERS)).status_code == 201
    assert (await client.post("/api/watches", json=watch, headers=HEADERS)).status_code == 409
    listed = {w["name"]: w["source"] for w in (await client.get("/api/watches")).json()}
    assert listed == {"shipping": "config", "taobao": "api"}

    # A new app on the same store still has it, and the planner routes by it.
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as fresh:
        names = [w["name"] for w in (await fresh.get("/api/watches")).json()]
    assert names == ["shipping", "taobao"]
    await client.post(
        "/api/notices",
        json={**NOTICE, "text": "2099年1月1日生效。", "published_at": "2098-12-01"},
        headers=HEADERS,
    )
    async with httpx.AsyncClient() as http:
        ReminderEngine(settings, engine, http=http).plan(datetime.now(UTC))
    reminders = (await client.get("/api/reminders")).json()
    assert {r["rule_key"] for r in reminders} == {"淘宝商品发布规范"}

    assert (await client.delete("/api/watches/shipping", headers=HEADERS)).status_code == 409
    assert (await client.delete("/api/watches/taobao", headers=HEADERS)).status_code == 204
    assert (await client.delete("/api/watches/taobao", headers=HEADERS)).status_code == 404


@pytest.mark.anyio
@pytest.mark.parametrize(
    "watch, loc",
    [
        pytest.param(
            {"name": "w", "regex": ["("], "channels": []}, ["body", "regex", 0], id="bad-regex"
        ),
        pytest.param(
            {"name": "w", "platforms": ["淘宝"], "channels": ["nope"]},
            ["body", "channels", 0],
            id="unknown-channel",
        ),
        pytest.param(
            {"name": "w", "regex": ["[a&&b]"]}, ["body", "regex", 0], id="regex-future-meaning"
        ),
        pytest.param({"name": "w", "tags": ["x"]}, ["body"], id="matches-nothing"),
        pytest.param(
            {"name": "w", "platforms": ["淘宝"], "channels": ["hook"], "mention": ["all"]},
            ["body", "mention"],
            id="mention-without-a-chat-channel",
        ),
        pytest.param({"name": "bad name!", "platforms": ["淘宝"]}, ["body", "name"], id="bad-name"),
    ],
)
async def test_bad_watches_are_refused_naming_the_field(client: httpx.AsyncClient, watch, loc):
    response = await client.post("/api/watches", json=watch, headers=HEADERS)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][: len(loc)] == loc


@pytest.mark.anyio
async def test_changes_are_paged_with_a_total(client: httpx.AsyncClient, seed_listing: Path):
    text = seed_listing.read_text(encoding="utf-8")
    from alerts.extract import read_notices

    for notice in read_notices(text, format="listing"):
        body = {
            "title": notice.title,
            "text": notice.text or notice.title,
            "published_at": notice.published_at.isoformat() + "+08:00",
        }
        assert (await client.post("/api/notices", json=body, headers=HEADERS)).status_code == 201
    first = await client.get("/api/changes", params={"limit": 5})
    total = int(first.headers["X-Total-Count"])
    assert total == 17
    pages = [first.json()]
    for offset in range(5, total, 5):
        pages.append(
            (await client.get("/api/changes", params={"limit": 5, "offset": offset})).json()
        )
    uids = [c["uid"] for page in pages for c in page]
    assert len(uids) == len(set(uids)) == total


@pytest.mark.anyio
async def test_metrics_count_reminders_and_deliveries(client: httpx.AsyncClient):
    text = (await client.get("/metrics")).text
    assert 'rulewatch_reminders{status="pending"} 0.0' in text
    assert "rulewatch_deliveries" in text and "rulewatch_feed_requests" in text


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path, body, loc",
    [
        pytest.param(
            "/api/notices",
            {**NOTICE, "published_at": "0001-01-01"},
            ["body", "published_at"],
            id="notice-year-1",
        ),
        pytest.param(
            "/api/changes",
            {"rule": "x规范", "effective_on": "9999-12-31"},
            ["body", "effective_on"],
            id="change-year-9999",
        ),
    ],
)
async def test_dates_outside_what_rulewatch_keeps_are_422(
    client: httpx.AsyncClient, path, body, loc
):
    response = await client.post(path, json=body, headers=HEADERS)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == loc


@pytest.mark.anyio
async def test_nul_characters_are_dropped_not_stored(client: httpx.AsyncClient):
    for url in ("/api/changes/a%00b", "/api/watches/a%00"):
        assert (await client.get(url)).status_code in (404, 405), url
    assert (await client.get("/api/changes?rule=%E5%8F%91%00")).status_code == 200
    body = {**NOTICE, "title": "《淘宝网评价\x00规范》变更", "text": "2026年12月15日\x00生效"}
    response = await client.post("/api/notices", json=body, headers=HEADERS)
    assert response.status_code == 201
    (change,) = response.json()["changes"]
    assert change["rule_key"] == "淘宝评价规范"
    detail = (await client.get(f"/api/changes/{change['uid']}")).json()
    assert detail["notices"][0]["text"] == "2026年12月15日生效"


@pytest.mark.anyio
async def test_a_limit_counts_the_nul_characters_as_the_schema_does(client: httpx.AsyncClient):
    # Found by schemathesis: a rule one over maxLength with a NUL in it was stored.
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    longest = schemas["ChangeIn"]["properties"]["rule"]["maxLength"]
    body = {"rule": "规" * longest + "\x00", "effective_on": "2026-12-15"}
    response = await client.post("/api/changes", json=body, headers=HEADERS)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "rule"]


@pytest.mark.anyio
async def test_a_hand_entered_change_says_what_its_author_wrote_and_nothing_else(
    client: httpx.AsyncClient,
):
    plain = {"rule": "商家发货行为管理规范", "platform": "1688", "effective_on": "2026-12-15"}
    noted = {
        "rule": "直播平台管理规范",
        "platform": "1688",
        "effective_on": "2026-12-20",
        "note": "运营部：12月18日前完成直播间自查",
    }
    uids = []
    for body in (plain, noted):
        response = await client.post("/api/changes", json=body, headers=HEADERS)
        assert response.status_code == 201, response.text
        uids.append(response.json()["changes"][0]["uid"])
    texts = [(await client.get(f"/api/changes/{uid}")).json()["notices"][0]["text"] for uid in uids]
    assert texts == ["", "运营部：12月18日前完成直播间自查"]
    feed = (await client.get("/calendar.ics")).text
    page = (await client.get(f"/changes/{uids[0]}")).text
    for shown in (feed, page):
        assert "rule_key:" not in shown and "tentative: False" not in shown
    assert "运营部：12月18日前完成直播间自查" in (await client.get(f"/changes/{uids[1]}")).text
    # Entering the same change again is still the same entry.
    again = await client.post("/api/changes", json=plain, headers=HEADERS)
    assert again.json()["stored"] is False


@pytest.mark.anyio
async def test_a_number_is_no_publish_time(client: httpx.AsyncClient):
    body = NOTICE | {"published_at": 1764000000}
    response = await client.post("/api/notices", json=body, headers=HEADERS)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "published_at"]


@pytest.mark.anyio
async def test_the_schema_says_what_a_watch_and_the_timeline_need(client: httpx.AsyncClient):
    schema = (await client.get("/openapi.json")).json()
    watch = schema["components"]["schemas"]["WatchIn"]
    assert {tuple(option["required"]) for option in watch["anyOf"]} == {
        ("rules",),
        ("platforms",),
        ("keywords",),
        ("regex",),
    }
    listed = schema["paths"]["/api/changes"]["get"]["responses"]["200"]
    assert "X-Total-Count" in listed["headers"]


@pytest.mark.anyio
async def test_a_method_not_allowed_names_every_method_of_the_path(client: httpx.AsyncClient):
    response = await client.put("/api/watches", json={}, headers=HEADERS)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "HEAD", "POST"}
    gone = await client.delete("/api/changes", headers=HEADERS)
    assert gone.status_code == 405 and "GET" in gone.headers["allow"]
    assert (await client.get("/api/nowhere")).status_code == 404


@pytest.mark.anyio
@pytest.mark.parametrize("flag", [0, 1, "true", "yes"])
async def test_a_flag_is_true_or_false_and_nothing_else(client: httpx.AsyncClient, flag):
    # 0 read as "not tentative" would store a guess the sender never made.
    body = {"rule": "1688商家发货行为管理规范", "effective_on": "2099-01-01", "tentative": flag}
    response = await client.post("/api/changes", json=body, headers=HEADERS)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "tentative"]


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/api/notices", "/api/changes", "/api/watches"])
async def test_a_body_that_is_not_utf8_is_a_documented_400(client: httpx.AsyncClient, path):
    response = await client.post(
        path,
        content="{'标题': 1}".encode("gbk"),
        headers=HEADERS | {"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert "UTF-8" in response.json()["detail"]
    schema = (await client.get("/openapi.json")).json()
    assert "400" in schema["paths"][path]["post"]["responses"]


@pytest.mark.anyio
async def test_the_schema_says_a_name_in_a_watch_is_not_empty(client: httpx.AsyncClient):
    schema = (await client.get("/openapi.json")).json()
    watch = schema["components"]["schemas"]["WatchIn"]["properties"]
    for key in ("channels", "rules", "platforms", "keywords", "tags"):
        assert watch[key]["items"].get("minLength") == 1, key


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path, field, body",
    [
        ("/api/changes", "effective_at", {"effective_at": 0}),
        ("/api/changes", "effective_on", {"effective_on": 4102444800}),
        ("/api/changes", "announced_on", {"announced_on": 4102444800}),
        ("/api/watches", "since", {"since": 0}),
    ],
)
async def test_a_number_is_no_date_or_time(client: httpx.AsyncClient, path, field, body):
    base = (
        {"rule": "1688商家发货行为管理规范", "effective_on": "2099-01-01"}
        if path == "/api/changes"
        else {"name": "numbers", "rules": ["x"]}
    )
    response = await client.post(path, json=base | body, headers=HEADERS)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]


@pytest.mark.anyio
async def test_a_rule_name_the_schema_allows_fits_with_any_platform(client: httpx.AsyncClient):
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]["ChangeIn"]
    longest = {
        "rule": "规" * schema["properties"]["rule"]["maxLength"],
        "platform": "台" * schema["properties"]["platform"]["anyOf"][0]["maxLength"],
        "effective_on": "2099-01-01",
    }
    response = await client.post("/api/changes", json=longest, headers=HEADERS)
    assert response.status_code == 201, response.text
