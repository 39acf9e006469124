"""The calendar feed: real bytes from the app, read by three independent parsers.

The store holds the seed listing plus a timed change with a long Chinese name (so its
SUMMARY folds), a withdrawn change and a tentative one; the app is served in-process.
ical.js runs under node from tests/js (`npm ci --prefix tests/js` installs it).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest
import vobject
from server import running
from sqlalchemy import Engine, create_engine, event, text
from typer.testing import CliRunner

from alerts.calendar.feed import VERSION_BOUND, FeedQuery, Feeds, build_feed
from alerts.calendar.render import (
    CalendarChange,
    CalendarInfo,
    EventCache,
    EventKind,
    Source,
    event_key,
    parse_alarms,
    render_event,
)
from alerts.cli import app as cli_app
from alerts.config import Settings, load_settings, parse_settings
from alerts.extract.model import Notice
from alerts.timeline.ingest import add_change, import_files, ingest
from alerts.web.app import create_app
from store import handled, queries
from store.db import connect, session_scope
from store.events import KEPT_PER_CHANGE, StoredEvents

TZ = ZoneInfo("Asia/Shanghai")
JS = Path(__file__).parent / "js"
LONG_RULE = "淘宝网商品发布管理规范之虚假交易与不当获利行为认定及处理细则"  # 90 octets
LONG_KEY = "淘宝商品发布管理规范之虚假交易与不当获利行为认定及处理细则"  # its key: 淘宝网 is 淘宝
TITLE = "淘宝调整商品发布规范, 虚假交易认定; 处理细则"  # a comma and a semicolon, ASCII
SHIPPING = "1688商家发货行为管理规范"
WITHDRAWN = "1688直播平台管理规范"  # its one change is withdrawn
UNWATCHED = "1688多渠道分销及销售市场管理规范"  # no watch covers it
TOKEN = "feed-token-0123456789abcdef"

pytestmark = pytest.mark.anyio


def config(token: str | None = None) -> str:
    return (
        '[service]\ntimezone = "Asia/Shanghai"\nbase_url = "https://rw.example.com"\n\n'
        '[[watch]]\nname = "shipping"\nrules = ["1688商家发货行为管理规范"]\n'
        'tags = ["logistics"]\n\n'
        '[[watch]]\nname = "service"\nrules = ["1688商家服务管理规范", "1688直播平台管理规范"]\n'
        'tags = ["service"]\n\n'
        '[[watch]]\nname = "taobao"\nplatforms = ["淘宝"]\ntags = ["taobao", "发布", "淘宝"]\n\n'
        '[calendar]\nname = "规则日历"\nrefresh = "PT30M"\n'
        + (f'token = "{token}"\n' if token else "")
    )


def settings_for(tmp_path: Path, token: str | None = None) -> Settings:
    return parse_settings(config(token), path=tmp_path / "config.toml", environ={})


@pytest.fixture
def store(engine: Engine, seed_listing: Path) -> Engine:
    with session_scope(engine) as session:
        import_files(session, [seed_listing], tz=TZ)
        add_change(
            session,
            rule=LONG_RULE,
            platform="淘宝",
            announced_on=date(2026, 12, 1),
            effective_on=date(2026, 12, 15),
            effective_at=time(10, 0),
            title=TITLE,
            url="https://rules.example.com/notice?id=1&lang=zh",
            now=datetime(2026, 12, 1, 9, 0, tzinfo=TZ),
            tz=TZ,
        )
        add_change(
            session,
            rule="1688商家服务管理规范",
            platform="1688",
            effective_on=date(2027, 3, 1),
            tentative=True,
            title="1688商家服务管理规范预计3月1日生效",
            now=datetime(2026, 12, 2, 9, 0, tzinfo=TZ),
            tz=TZ,
        )
        (live,) = [c for c, rule in queries.list_changes(session) if rule.key == WITHDRAWN]
        queries.withdraw_change(session, uid=live.uid, now=datetime(2026, 12, 3, tzinfo=TZ))
    return engine


def client_for(settings: Settings, engine: Engine) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    return httpx.AsyncClient(transport=transport, base_url="http://rulewatch.test")


@pytest.fixture
def client(tmp_path: Path, store: Engine) -> httpx.AsyncClient:
    return client_for(settings_for(tmp_path), store)


def announce_shipping(engine: Engine) -> None:
    """A change of the shipping rule: 公示 2026-11-27, 生效 2026-12-15."""
    text = "本次变更于2026年11月27日公示，2026年12月15日生效。"
    _ingest(engine, f"《{SHIPPING}》变更", f"《{SHIPPING}》{text}", "2026-11-27 10:00")


def postpone_shipping(engine: Engine) -> None:
    """A notice that moves that change's 生效 by two weeks."""
    text = "原定于2026年12月15日生效，现延期至2026年12月31日生效。"
    _ingest(engine, f"《{SHIPPING}》生效时间调整", f"《{SHIPPING}》{text}", "2026-12-01 10:00")


def _ingest(engine: Engine, title: str, text: str, published: str) -> None:
    instant = datetime.fromisoformat(published).replace(tzinfo=TZ)
    with session_scope(engine) as session:
        ingest(session, [Notice(title=title, text=text, published_at=instant)], origin="t", tz=TZ)


# --- the three parsers, each read into the same shape -----------------------------------


def _when(value: date | datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S") if isinstance(value, datetime) else str(value)


def read_icalendar(body: bytes) -> list[dict[str, object]]:
    calendar = icalendar.Calendar.from_ical(body)
    return [
        {
            "uid": str(e["UID"]),
            "summary": str(e["SUMMARY"]),
            "description": str(e["DESCRIPTION"]),
            "sequence": int(e["SEQUENCE"]),
            "start": _when(e.decoded("DTSTART")),
            "end": _when(e.decoded("DTEND")),
        }
        for e in calendar.walk("VEVENT")
    ]


def read_vobject(body: bytes) -> list[dict[str, object]]:
    calendar = vobject.readOne(body.decode("utf-8"))
    return [
        {
            "uid": e.uid.value,
            "summary": e.summary.value,
            "description": e.description.value,
            "sequence": int(e.sequence.value),
            "start": _when(e.dtstart.value),
            "end": _when(e.dtend.value),
        }
        for e in calendar.vevent_list
    ]


@pytest.fixture(scope="session")
def icaljs() -> Path:
    """tests/js/parse.mjs, checked runnable: missing node or ical.js fails, never skips."""
    if shutil.which("node") is None or not (JS / "node_modules" / "ical.js").is_dir():
        pytest.fail(
            "node or the ical.js package is missing: the feed must be checked by Thunderbird's "
            "parser. Install it with `npm ci --prefix tests/js` (node and npm from the system)."
        )
    return JS / "parse.mjs"


def run_icaljs(script: Path, body: bytes) -> dict[str, object]:
    done = subprocess.run(
        ["node", str(script)], input=body, capture_output=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def read_icaljs(script: Path, body: bytes) -> list[dict[str, object]]:
    return [
        {
            "uid": e["uid"],
            "summary": e["summary"],
            "description": e["description"],
            "sequence": e["sequence"],
            "start": e["start"],
            "end": e["end"],
        }
        for e in run_icaljs(script, body)["events"]  # type: ignore[attr-defined]
    ]


def physical_lines(body: bytes) -> list[bytes]:
    assert body.endswith(b"\r\n")
    return body[:-2].split(b"\r\n")


def unfolded(body: bytes) -> list[str]:
    return body.decode().replace("\r\n ", "").split("\r\n")


# --- content --------------------------------------------------------------------------


async def test_three_parsers_read_the_same_events(client, store, icaljs):
    response = await client.get("/calendar.ics", params={"all": "1"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    body = response.content
    by_icalendar = read_icalendar(body)
    assert by_icalendar == read_vobject(body) == read_icaljs(icaljs, body)

    with session_scope(store) as session:
        rows = queries.list_changes(session)  # withdrawn ones left out
    expected = sum((c.announced_on is not None) + (c.effective_on is not None) for c, _ in rows)
    assert len(by_icalendar) == expected > 20
    events = {e["uid"]: e for e in by_icalendar}
    timed = [e for e in by_icalendar if e["summary"] == f"【生效】{LONG_KEY}"]
    assert len(timed) == 1
    assert (timed[0]["start"], timed[0]["end"]) == ("2026-12-15T10:00:00", "2026-12-15T11:00:00")
    description = str(timed[0]["description"])
    assert TITLE in description and "\n" in description
    assert "公示 2026-12-01，生效 2026-12-15 10:00，相隔 14 天" in description
    assert "https://rules.example.com/notice?id=1&lang=zh" in description
    announced = events[str(timed[0]["uid"]).replace("-effective", "-announced")]
    assert (announced["start"], announced["end"]) == ("2026-12-01", "2026-12-02")
    assert announced["summary"] == f"【公示】{LONG_KEY}"
    assert all(WITHDRAWN not in str(e["summary"]) for e in by_icalendar)
    assert any(UNWATCHED in str(e["summary"]) for e in by_icalendar)


async def test_icaljs_sees_the_zone_alarms_and_calendar_properties(client, icaljs):
    body = (await client.get("/calendar.ics", params={"alarm": "1d,2h"})).content
    read = run_icaljs(icaljs, body)
    assert read["name"] == "规则日历" and read["refresh"] == "PT30M"
    events = read["events"]
    (timed,) = [e for e in events if e["tzid"]]  # type: ignore[union-attr]
    assert timed["tzid"] == "Asia/Shanghai"
    # 10:00 in Shanghai is 02:00 UTC: ical.js resolved the VTIMEZONE we sent.
    assert timed["utc_start"] == datetime(2026, 12, 15, 2, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    for e in events:  # type: ignore[union-attr]
        effective = e["summary"].startswith("【生效】")
        assert e["alarms"] == (["-P1D", "-PT2H"] if effective else [])


async def test_bytes_are_crlf_folded_at_75_octets_between_characters(client):
    body = (await client.get("/calendar.ics", params={"all": "1"})).content
    assert body.count(b"\n") == body.count(b"\r\n") and body.count(b"\r") == body.count(b"\r\n")
    lines = physical_lines(body)
    assert max(len(line) for line in lines) <= 75
    for line in lines:
        line.decode("utf-8")  # raises when a fold split a character
    summary = f"SUMMARY:【生效】{LONG_KEY}"
    assert len(summary.encode()) > 75
    assert summary in unfolded(body)
    assert summary.encode() not in body  # so it was folded
    assert any(line.startswith(b" ") and not line[1:].isascii() for line in lines)


async def test_event_properties_and_calendar_header(client, store):
    body = (await client.get("/calendar.ics", params={"all": "1"})).content
    text = unfolded(body)
    head = text[: text.index("BEGIN:VEVENT")]
    for line in (
        "VERSION:2.0",
        "NAME:规则日历",
        "X-WR-CALNAME:规则日历",
        "X-WR-TIMEZONE:Asia/Shanghai",
        "REFRESH-INTERVAL;VALUE=DURATION:PT30M",
        "X-PUBLISHED-TTL:PT30M",
    ):
        assert line in head
    assert any(line.startswith("PRODID:") for line in head)
    assert any(line.startswith("X-WR-CALDESC:") for line in head)
    assert not any(line.startswith(("UID:", "DTSTAMP:")) for line in head)
    assert text.count("BEGIN:VTIMEZONE") == 1 and "TZID:Asia/Shanghai" in text
    # A feed is no iTIP message (METHOD without ORGANIZER breaks RFC 5546), and RFC 5545
    # allows no COMMENT directly in VTIMEZONE.
    assert not any(line.startswith("METHOD:") for line in text)
    zone = text[text.index("BEGIN:VTIMEZONE") : text.index("END:VTIMEZONE")]
    assert not any(line.startswith("COMMENT:") for line in zone)
    for line in (x for x in text if x.startswith("CATEGORIES:")):
        cats = line.removeprefix("CATEGORIES:").split(",")
        assert len(cats) == len(set(cats)), line  # a tag equal to the platform: once

    calendar = icalendar.Calendar.from_ical(body)
    with session_scope(store) as session:
        rows = {c.uid: (c, rule) for c, rule in queries.list_changes(session)}
    for e in calendar.walk("VEVENT"):
        uid, kind = str(e["UID"]).rsplit("-", 1)
        change, rule = rows[uid]
        assert kind in ("announced", "effective")
        assert e.decoded("DTSTAMP") == change.updated_at.replace(microsecond=0)
        assert e.decoded("LAST-MODIFIED") == change.updated_at.replace(microsecond=0)
        assert int(e["SEQUENCE"]) == change.revision
        assert str(e["URL"]) == f"https://rw.example.com/changes/{uid}"
        assert str(e["STATUS"]) == ("TENTATIVE" if change.tentative else "CONFIRMED")
        categories = [str(c) for c in e["CATEGORIES"].cats]
        assert categories[0] == rule.platform
        if not isinstance(e.decoded("DTSTART"), datetime):
            assert e.decoded("DTEND") - e.decoded("DTSTART") == timedelta(days=1)
    tentative = [e for e in calendar.walk("VEVENT") if str(e["STATUS"]) == "TENTATIVE"]
    assert len(tentative) >= 2 and all("（预计）" in str(e["SUMMARY"]) for e in tentative)
    taobao = [e for e in calendar.walk("VEVENT") if LONG_KEY in str(e["SUMMARY"])]
    assert [str(c) for c in taobao[0]["CATEGORIES"].cats] == ["淘宝", "taobao", "发布"]


async def test_unchanged_data_gives_identical_bytes_even_in_a_new_app(tmp_path, client, store):
    first = (await client.get("/calendar.ics")).content
    assert (await client.get("/calendar.ics")).content == first
    async with client_for(settings_for(tmp_path), store) as fresh:
        assert (await fresh.get("/calendar.ics")).content == first


# --- selection --------------------------------------------------------------------------


def summaries(body: bytes) -> list[str]:
    return [str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(body).walk("VEVENT")]


@pytest.mark.parametrize(
    ("params", "wanted"),
    [
        pytest.param({}, {SHIPPING, "1688商家服务管理规范", LONG_KEY}, id="watched-only"),
        pytest.param({"all": "true"}, {SHIPPING, UNWATCHED, LONG_KEY}, id="all"),
        pytest.param({"platform": "淘宝"}, {LONG_KEY}, id="platform"),
        pytest.param({"rule": "发货行为"}, {SHIPPING}, id="rule"),
        pytest.param({"tag": "logistics"}, {SHIPPING}, id="tag"),
        pytest.param({"watch": "service"}, {"1688商家服务管理规范"}, id="watch"),
        pytest.param({"watch": "no-such-watch"}, set(), id="unknown-watch"),
    ],
)
async def test_filters_narrow_the_feed(client, params, wanted):
    response = await client.get("/calendar.ics", params=params)
    assert response.status_code == 200
    found = {s.split("】", 1)[1].removesuffix("（预计）") for s in summaries(response.content)}
    assert wanted <= found if params.get("all") else found == wanted


async def test_kind_keeps_one_date_of_each_change(client):
    announced = summaries((await client.get("/calendar.ics?kind=announced")).content)
    effective = summaries((await client.get("/calendar.ics?kind=effective")).content)
    both = summaries((await client.get("/calendar.ics")).content)
    assert announced and all(s.startswith("【公示】") for s in announced)
    assert effective and all(s.startswith("【生效】") for s in effective)
    assert sorted(announced + effective) == sorted(both)


async def test_alarms_go_before_each_effective_event_only(client):
    calendar = icalendar.Calendar.from_ical(
        (await client.get("/calendar.ics", params={"alarm": "2h,1d"})).content
    )
    for e in calendar.walk("VEVENT"):
        triggers = [a.decoded("TRIGGER") for a in e.walk("VALARM")]
        if str(e["SUMMARY"]).startswith("【生效】"):
            assert triggers == [-timedelta(days=1), -timedelta(hours=2)]
            assert all(str(a["ACTION"]) == "DISPLAY" for a in e.walk("VALARM"))
        else:
            assert triggers == []


@pytest.mark.parametrize("alarm", ["1x", "1000d", "1d,2d,3d,4d,5d,6d", "-1d", "1d,"])
async def test_a_bad_alarm_is_422_naming_it(client, alarm):
    response = await client.get("/calendar.ics", params={"alarm": alarm})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "alarm"]


def test_parse_alarms_reads_units_largest_first():
    assert parse_alarms("30m, 1w,2h,1d,2h") == (
        timedelta(weeks=1),
        timedelta(days=1),
        timedelta(hours=2),
        timedelta(minutes=30),
    )


# --- postponement, HTTP validators, token --------------------------------------------------


async def test_postponing_keeps_the_uid_and_raises_the_sequence(client, store, icaljs):
    announce_shipping(store)
    before = await client.get("/calendar.ics", params={"rule": "发货行为"})
    postpone_shipping(store)
    after = await client.get(
        "/calendar.ics",
        params={"rule": "发货行为"},
        headers={"If-None-Match": before.headers["etag"]},
    )
    assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]

    def moved(body: bytes) -> list[dict[str, object]]:
        return [e for e in read_icaljs(icaljs, body) if "2026-12" in str(e["start"])]

    (old,) = [e for e in moved(before.content) if str(e["uid"]).endswith("-effective")]
    (new,) = [e for e in moved(after.content) if str(e["uid"]).endswith("-effective")]
    assert new["uid"] == old["uid"]
    assert int(new["sequence"]) > int(old["sequence"])  # type: ignore[call-overload]
    assert (old["start"], new["start"]) == ("2026-12-15", "2026-12-31")
    assert "原定 2026-12-15 生效，已延期" in str(new["description"])
    assert len(read_icaljs(icaljs, after.content)) == len(read_icaljs(icaljs, before.content))


async def test_etag_and_last_modified_answer_304(client):
    first = await client.get("/calendar.ics")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = await client.get("/calendar.ics", headers={"If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["etag"] == etag and again.headers["last-modified"] == modified
    assert (
        await client.get("/calendar.ics", headers={"If-None-Match": f"W/{etag}"})
    ).status_code == 304
    assert (
        await client.get("/calendar.ics", headers={"If-Modified-Since": modified})
    ).status_code == 304
    stale = await client.get("/calendar.ics", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200 and stale.content == first.content
    older = format_datetime(first_modified(first) - timedelta(days=1), usegmt=True)
    assert (
        await client.get("/calendar.ics", headers={"If-Modified-Since": older})
    ).status_code == 200
    # Another feed (other filters) has its own validators.
    other = await client.get("/calendar.ics", params={"all": "1"})
    assert other.headers["etag"] != etag
    metrics = (await client.get("/metrics")).text
    assert 'rulewatch_feed_requests_total{status="304"} 3.0' in metrics
    assert 'rulewatch_feed_requests_total{status="200"} 4.0' in metrics


def first_modified(response: httpx.Response) -> datetime:
    from email.utils import parsedate_to_datetime

    return parsedate_to_datetime(response.headers["last-modified"])


async def test_validators_change_only_with_the_content(client, store):
    first = await client.get("/calendar.ics", params={"platform": "淘宝"})
    with session_scope(store) as session:  # a change outside this feed
        add_change(
            session,
            rule="1688商家服务管理规范",
            platform="1688",
            effective_on=date(2027, 5, 1),
            now=datetime(2026, 12, 5, tzinfo=TZ),
            tz=TZ,
        )
    same = await client.get("/calendar.ics", params={"platform": "淘宝"})
    assert same.content == first.content
    assert same.headers["etag"] == first.headers["etag"]
    assert same.headers["last-modified"] == first.headers["last-modified"]
    with session_scope(store) as session:  # the one change in it leaves
        ((change, _),) = queries.list_changes(session, platform="淘宝")
        queries.withdraw_change(session, uid=change.uid, now=datetime(2026, 12, 6, tzinfo=TZ))
    gone = await client.get(
        "/calendar.ics",
        params={"platform": "淘宝"},
        headers={"If-Modified-Since": first.headers["last-modified"]},
    )
    assert gone.status_code == 200 and "VEVENT" not in gone.text
    assert first_modified(gone) > first_modified(first)


async def test_the_token_guards_the_feed(tmp_path, store):
    async with client_for(settings_for(tmp_path, TOKEN), store) as guarded:
        for url in (
            "/calendar.ics",
            "/calendar.ics?token=wrong-token-0123456789",
            "/calendar/wrong-token-0123456789.ics",
            f"/calendar/{TOKEN}x.ics",
        ):
            response = await guarded.get(url)
            assert response.status_code == 404, url
            assert "VCALENDAR" not in response.text
        in_path = await guarded.get(f"/calendar/{TOKEN}.ics", params={"kind": "effective"})
        in_query = await guarded.get("/calendar.ics", params={"token": TOKEN, "kind": "effective"})
        assert in_path.status_code == in_query.status_code == 200
        assert in_path.content == in_query.content and b"BEGIN:VEVENT" in in_path.content
        assert in_path.headers["cache-control"] == "private, no-cache"
        metrics = (await guarded.get("/metrics")).text
        assert 'rulewatch_feed_requests_total{status="404"} 4.0' in metrics
    async with client_for(settings_for(tmp_path), store) as open_feed:
        assert (await open_feed.get(f"/calendar/{TOKEN}.ics")).status_code == 404
        assert (await open_feed.get("/calendar.ics")).status_code == 200


async def test_a_cached_feed_is_answered_as_the_route_answered_it(tmp_path, store):
    # In a new app the first request of a feed builds it (the route answers); the next one
    # is answered from the cache in front of the app, and must not differ in any header.
    settings = settings_for(tmp_path, TOKEN)
    requests: list[tuple[str, str, dict[str, str]]] = [
        ("GET", f"/calendar/{TOKEN}.ics", {"Accept-Encoding": "identity"}),
        ("GET", f"/calendar.ics?token={TOKEN}&kind=effective", {"Accept-Encoding": "gzip"}),
        ("HEAD", f"/calendar/{TOKEN}.ics?all=1", {"Accept-Encoding": "gzip, br"}),
    ]
    for method, url, headers in requests:
        async with client_for(settings, store) as http:
            built = await http.request(method, url, headers=headers)
        validators = [
            {"If-None-Match": built.headers["etag"]},
            {"If-Modified-Since": built.headers["last-modified"]},
        ]
        for extra in ({}, *validators):
            async with client_for(settings, store) as http:
                by_route = await http.request(method, url, headers={**headers, **extra})
                cached = await http.request(method, url, headers={**headers, **extra})
            assert cached.status_code == by_route.status_code == (304 if extra else 200)
            assert cached.headers.multi_items() == by_route.headers.multi_items(), url
            assert cached.content == by_route.content


async def test_a_cached_feed_still_refuses_what_the_route_refuses(tmp_path, store):
    async with client_for(settings_for(tmp_path, TOKEN), store) as guarded:
        assert (await guarded.get(f"/calendar/{TOKEN}.ics")).status_code == 200  # cached now
        for url in (
            "/calendar.ics",
            "/calendar/wrong-token-0123456789.ics",
            f"/calendar.ics?token={TOKEN}x",
            f"/calendar//{TOKEN}.ics",
        ):
            assert (await guarded.get(url)).status_code == 404, url
        bad = await guarded.get(f"/calendar/{TOKEN}.ics", params={"alarm": "soon"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "alarm"]
        # NUL is dropped from the URL by the guard behind the cache, as for any route.
        cleaned = await guarded.get(f"/calendar/{TOKEN}.ics?kind=effective%00")
        assert cleaned.status_code == 200 and b"BEGIN:VEVENT" in cleaned.content
        posted = await guarded.post(f"/calendar/{TOKEN}.ics")
        assert posted.status_code == 405
        for length in ("99999999", "abc"):  # the body limit judges what a request declares
            declared = await guarded.get(
                f"/calendar/{TOKEN}.ics", headers={"Content-Length": length}
            )
            assert declared.status_code == 413, length
        metrics = (await guarded.get("/metrics")).text
        assert 'rulewatch_feed_requests_total{status="404"} 3.0' in metrics


# --- cost ----------------------------------------------------------------------------------


@pytest.fixture
def statements(store: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(store, "before_cursor_execute", record)
    yield seen
    event.remove(store, "before_cursor_execute", record)


async def test_an_unchanged_feed_costs_no_query_and_no_rendering(client, statements):
    first = await client.get("/calendar.ics")
    cache = client._transport.app.state.feeds.cache  # type: ignore[attr-defined]
    assert cache.builds == 1
    misses = cache.events.misses
    statements.clear()
    for _ in range(3):
        again = await client.get("/calendar.ics", headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        assert (await client.get("/calendar.ics")).content == first.content
    assert cache.builds == 1 and cache.events.misses == misses
    assert statements == []  # answered from memory


async def test_a_write_of_the_serving_process_shows_at_once(client, store, statements):
    first = await client.get("/calendar.ics", params={"all": "1"})
    postpone_shipping(store)  # through the engine the app serves from
    statements.clear()
    moved = await client.get("/calendar.ics", params={"all": "1"})
    assert moved.headers["etag"] != first.headers["etag"]
    assert "DTSTART;VALUE=DATE:20261231" in moved.text
    assert "DTSTART;VALUE=DATE:20261231" not in first.text
    assert len([s for s in statements if "count" in s.lower()]) == 1  # the version, read again


def test_a_write_of_another_process_shows_within_the_bound(tmp_path, store):
    now = [100.0]
    feeds = Feeds(store, settings_for(tmp_path), clock=lambda: now[0])
    query = FeedQuery(all=True)
    first = feeds.get(query)
    assert feeds.cached(query) is first
    # Another instance on the same store: its commits are not this process's to count.
    other = connect(store.url.render_as_string(hide_password=False))
    try:
        postpone_shipping(other)
    finally:
        other.dispose()
    now[0] += VERSION_BOUND * 0.9
    assert feeds.cached(query) is first  # the documented lag
    now[0] += VERSION_BOUND * 0.1
    assert feeds.cached(query) is None
    moved = feeds.get(query)
    assert b"DTSTART;VALUE=DATE:20261231" in moved.body
    assert feeds.cached(query) is moved


async def test_a_rebuilt_feed_replaces_the_one_it_outdates(client, store):
    cache = client._transport.app.state.feeds.cache  # type: ignore[attr-defined]
    await client.get("/calendar.ics")
    await client.get("/calendar.ics", params={"all": "1"})
    assert cache.held() == 2
    postpone_shipping(store)
    moved = await client.get("/calendar.ics", params={"all": "1"})
    assert "DTSTART;VALUE=DATE:20261231" in moved.text
    assert cache.held() == 2  # the old ?all=1 is gone; the watched feed waits to be asked
    await client.get("/calendar.ics")
    assert cache.held() == 2


async def test_changing_one_rule_reserializes_only_its_events(client, store):
    announce_shipping(store)
    await client.get("/calendar.ics", params={"alarm": "1d"})
    cache = client._transport.app.state.feeds.cache  # type: ignore[attr-defined]
    total = cache.events.misses
    assert total > 10 and cache.events.hits == 0
    postpone_shipping(store)
    body = (await client.get("/calendar.ics", params={"alarm": "1d"})).content
    assert cache.builds == 2
    assert cache.events.misses - total == 2  # its 公示 and its 生效
    assert cache.events.hits == len(summaries(body)) - 2


def _descriptions(body: bytes, rule: str) -> list[str]:
    return [str(e["description"]) for e in read_icalendar(body) if rule in str(e["summary"])]


def _second_source(session, change):  # type: ignore[no-untyped-def]
    """Link one more notice to ``change``, and nothing else: its own row stays as it was."""
    again = queries.add_notice(
        session,
        content_hash="a" * 64,
        title="淘宝再次提醒商品发布规范调整",
        text="",
        published_at=datetime(2026, 12, 2, 9, 0, tzinfo=TZ),
        url="https://rules.example.com/again",
        origin="t",
    )
    queries.add_source(session, change=change, notice=again)
    return again


def test_a_source_linked_or_unlinked_alone_shows_in_the_next_build(tmp_path, store):
    feeds = Feeds(store, settings_for(tmp_path))
    query = FeedQuery(all=True)
    (first,) = set(_descriptions(feeds.get(query).body, LONG_KEY))
    assert "notice?id=1&lang=zh" in first
    with session_scope(store) as session:
        (change, _), *_ = queries.list_changes(session, rule=LONG_KEY)
        (linked,) = queries.notices_of_changes(session, change_ids=[change.id or 0])[change.id]
        _second_source(session, change)
    (added,) = set(_descriptions(feeds.get(query).body, LONG_KEY))
    assert "rules.example.com/again" in added and "notice?id=1&lang=zh" in added
    with session_scope(store) as session:
        queries.unlink_notice(session, change_id=change.id or 0, notice_id=linked.id or 0)
    (left,) = set(_descriptions(feeds.get(query).body, LONG_KEY))
    assert "rules.example.com/again" in left and "notice?id=1&lang=zh" not in left


def test_a_link_that_moves_while_a_build_reads_does_not_leave_stale_sources(
    tmp_path, store, monkeypatch
):
    settings = settings_for(tmp_path)
    feeds = Feeds(store, settings)
    query = FeedQuery(all=True)
    feeds.get(query)
    with session_scope(store) as session:
        (change, _), *_ = queries.list_changes(session, rule=LONG_KEY)
        again = _second_source(session, change)
    read = queries.sources_of_changes

    def unlinked_meanwhile(session, *, change_ids):  # type: ignore[no-untyped-def]
        # Another writer, between the build's read of the links and of the sources.
        with session_scope(store) as other:
            queries.unlink_notice(other, change_id=change.id or 0, notice_id=again.id or 0)
        monkeypatch.setattr(queries, "sources_of_changes", read)
        return read(session, change_ids=change_ids)

    monkeypatch.setattr(queries, "sources_of_changes", unlinked_meanwhile)
    feeds.get(query)
    with session_scope(store) as session:
        queries.add_source(session, change=change, notice=again)
        stored = session.get(type(change), change.id)
        assert stored is not None
        queries.update_change(
            session, stored, {"title": "淘宝商品发布规范调整（更正）"}, now=datetime.now(TZ)
        )
    rebuilt = feeds.get(query).body
    (shown,) = set(_descriptions(rebuilt, LONG_KEY))
    assert "rules.example.com/again" in shown
    assert rebuilt == Feeds(store, settings).get(query).body  # as a build from nothing


def test_a_rebuild_reads_again_only_the_sources_of_what_changed(tmp_path, store):
    feeds = Feeds(store, settings_for(tmp_path))
    query = FeedQuery(all=True)
    feeds.get(query)
    asked: list[list[object]] = []

    def record(_conn, _cursor, statement, parameters, *_args):  # type: ignore[no-untyped-def]
        if "notice.title" in statement:  # the read of the sources the feed cites
            values = parameters.values() if isinstance(parameters, dict) else parameters
            asked.append(list(values))

    postpone_shipping(store)
    with session_scope(store) as session:
        (moved,) = [
            change
            for change, _ in queries.list_changes(session, rule=SHIPPING)
            if change.effective_on == date(2026, 12, 31)
        ]
    event.listen(store, "before_cursor_execute", record)
    try:
        assert b"DTSTART;VALUE=DATE:20261231" in feeds.get(query).body
    finally:
        event.remove(store, "before_cursor_execute", record)
    assert asked == [[moved.id]]  # its sources; the others' are the last build's


REBUILT_QUERIES = [
    FeedQuery(all=True),
    FeedQuery(watch="a"),
    FeedQuery(tag="t2"),
    FeedQuery(kind=EventKind.effective, alarms=parse_alarms("1d")),
    FeedQuery(),
]


def _random_write(session, rng: random.Random, step: int) -> None:  # type: ignore[no-untyped-def]
    """One write of the kinds a running service sees, to a change picked at random."""
    when = datetime(2026, 12, 1, 9, 0, tzinfo=TZ) + timedelta(hours=step)
    change = rng.choice([c for c, _ in queries.list_changes(session, include_withdrawn=True)])
    what = rng.choice(["link", "unlink", "mark", "unmark", "move", "withdraw", "restore"])
    if what == "link":
        notice = queries.add_notice(
            session,
            content_hash=f"{step:064d}",
            title=f"第{step}篇转载",
            text="",
            published_at=when - timedelta(days=rng.randint(0, 5)),
            url=f"https://news.example.com/{step}",
            origin="t",
        )
        queries.add_source(session, change=change, notice=notice)
    elif what == "unlink":
        notices = queries.notices_of_change(session, change_id=change.id or 0)
        if len(notices) > 1:
            unlinked = rng.choice(notices).id or 0
            queries.unlink_notice(session, change_id=change.id or 0, notice_id=unlinked)
    elif what == "mark":
        kind, scope = rng.choice([("watch", "a"), ("watch", "b"), ("tag", "t1"), ("tag", "t2")])
        handled.mark(
            session,
            change_id=change.id or 0,
            scope_kind=kind,
            scope=scope,
            by="t",
            note=f"第{step}次",
            now=when,
        )
    elif what == "unmark":
        for mark in handled.marks_of_changes(session, change_ids=[change.id or 0]).get(
            change.id or 0, []
        )[:1]:
            handled.unmark(
                session, change_id=change.id or 0, scope_kind=mark.scope_kind, scope=mark.scope
            )
    else:
        moved: dict[str, object] = {"revision": change.revision + 1}
        if what == "move":
            moved["effective_on"] = (change.effective_on or date(2027, 1, 1)) + timedelta(days=1)
        else:
            moved["status"] = "withdrawn" if what == "withdraw" else "active"
        queries.update_change(session, change, moved, now=when)


def test_every_rebuild_after_random_writes_is_a_build_from_nothing(tmp_path, engine):
    settings = parse_settings(
        '[service]\ntimezone = "Asia/Shanghai"\nbase_url = "https://rw.example.com"\n'
        '[[watch]]\nname = "a"\nplatforms = ["淘宝"]\ntags = ["t1"]\n'
        '[[watch]]\nname = "b"\nkeywords = ["发货"]\ntags = ["t2"]\n',
        path=tmp_path / "config.toml",
        environ={},
    )
    with session_scope(engine) as session:
        for i in range(6):
            add_change(
                session,
                rule=f"淘宝{'发货' if i % 3 == 0 else '经营'}管理规范第{i}号",
                platform="淘宝",
                announced_on=date(2026, 12, 1),
                effective_on=date(2026, 12, 10 + i),
                effective_at=time(10, 0) if i % 2 else None,
                title=f"第{i}号规范调整",
                url=f"https://rules.example.com/{i}",
                now=datetime(2026, 12, 1, 9, i, tzinfo=TZ),
                tz=TZ,
            )
    feeds = Feeds(engine, settings)
    rng = random.Random(14)
    for step in range(60):
        for query in REBUILT_QUERIES:
            with session_scope(engine, commit_at_end=False) as session:
                expected = build_feed(session, settings, query).body
            assert feeds.get(query).body == expected, (step, query)
        with session_scope(engine) as session:
            _random_write(session, rng, step)


def test_a_restart_reads_the_stored_events_and_serves_the_same_bytes(tmp_path, store):
    announce_shipping(store)
    settings = settings_for(tmp_path)
    query = FeedQuery(all=True)
    before = Feeds(store, settings).get(query)
    url = store.url.render_as_string(hide_password=False)
    restarted, again = connect(url), connect(url)  # new processes: nothing in memory
    try:
        feeds = Feeds(restarted, settings)
        after = feeds.get(query)
        events = feeds.cache.events
        assert after.body == before.body and after.etag == before.etag
        assert events.misses == 0 and events.loaded == len(summaries(after.body)) > 10
        postpone_shipping(restarted)
        moved = Feeds(again, settings)
        moved.get(query)
        assert moved.cache.events.misses == 2  # the moved change's 公示 and 生效 only
    finally:
        restarted.dispose()
        again.dispose()


def test_a_restart_serves_the_feeds_kept_at_the_stop_without_building(tmp_path, store):
    settings = settings_for(tmp_path)
    queries_ = [FeedQuery(all=True), FeedQuery(platform="1688", alarms=parse_alarms("1d"))]
    stopping = Feeds(store, settings)
    before = [stopping.get(query) for query in queries_]
    assert stopping.keep() == 2
    url = store.url.render_as_string(hide_password=False)
    restarted = connect(url)  # a new process: nothing in memory
    seen: list[str] = []
    event.listen(restarted, "before_cursor_execute", lambda *a: seen.append(a[2]))
    try:
        feeds = Feeds(restarted, settings)
        after = [feeds.get(query) for query in queries_]
        assert [(f.body, f.etag, f.last_modified) for f in after] == [
            (f.body, f.etag, f.last_modified) for f in before
        ]
        events = feeds.cache.events
        assert (events.misses, events.loaded) == (0, 0)  # nothing built, nothing serialized
        assert not [s for s in seen if "rule_change" in s and "count" not in s.lower()]
    finally:
        restarted.dispose()


def test_a_kept_feed_is_not_served_once_what_it_was_built_from_changed(tmp_path, store):
    settings = settings_for(tmp_path)
    query = FeedQuery(all=True)
    stopping = Feeds(store, settings)
    before = stopping.get(query)
    stopping.keep()
    url = store.url.render_as_string(hide_password=False)
    renamed = parse_settings(
        config().replace('name = "规则日历"', 'name = "另一个日历"'),
        path=tmp_path / "config.toml",
        environ={},
    )
    other = connect(url)
    try:
        named = Feeds(other, renamed).get(query)  # the settings differ
        assert "X-WR-CALNAME:另一个日历" in named.body.decode() and named.body != before.body
        # Even where only a URL's query differs, which the settings' repr masks.
        for tenant in ("a", "b"):
            text = config().replace("rw.example.com", f"rw.example.com/?tenant={tenant}")
            tenanted = parse_settings(text, path=tmp_path / "config.toml", environ={})
            feeds = Feeds(other, tenanted)
            served = feeds.get(query)
            assert f"tenant={tenant}".encode() in served.body
            feeds.keep()
        postpone_shipping(store)  # the store changed while no service ran
        moved = Feeds(other, settings).get(query)
        assert b"DTSTART;VALUE=DATE:20261231" in moved.body
        assert b"DTSTART;VALUE=DATE:20261231" not in before.body
    finally:
        other.dispose()


def test_a_feed_kept_by_one_process_is_served_by_another(tmp_path, store):
    config_path = tmp_path / "config.toml"
    config_path.write_text(config(), encoding="utf-8")
    url = store.url.render_as_string(hide_password=False)
    stopping = Feeds(store, load_settings(config_path))
    before = stopping.get(FeedQuery(all=True))
    assert stopping.keep() == 1
    child = (
        "import sys\n"
        "from pathlib import Path\n"
        "from alerts.calendar.feed import FeedQuery, Feeds\n"
        "from alerts.config import load_settings\n"
        "from store.db import connect\n"
        "feeds = Feeds(connect(sys.argv[1]), load_settings(Path(sys.argv[2])))\n"
        "feed = feeds.get(FeedQuery(all=True))\n"
        "events = feeds.cache.events\n"
        "print(feed.etag, events.misses + events.loaded)\n"
    )
    for seed in ("1", "2"):  # str hashes differ: nothing of the key may depend on them
        done = subprocess.run(
            [sys.executable, "-c", child, url, str(config_path)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [before.etag, "0"]  # served as kept: no event read


def test_only_feeds_of_the_current_data_version_are_kept(tmp_path, store):
    feeds = Feeds(store, settings_for(tmp_path))
    feeds.get(FeedQuery(all=True))
    postpone_shipping(store)  # the feed held is outdated now
    assert feeds.keep() == 0


def test_keeping_feeds_replaces_those_kept_before(tmp_path, store):
    settings = settings_for(tmp_path)
    first = Feeds(store, settings)
    first.get(FeedQuery(all=True))
    first.get(FeedQuery(platform="淘宝"))
    assert first.keep() == 2
    assert Feeds(store, settings).keep() == 0  # a service no poll reached leaves them
    with store.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM calendar_feed")).scalar() == 2
    second = Feeds(store, settings)
    second.get(FeedQuery(kind=EventKind.effective))
    assert second.keep() == 1
    with store.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM calendar_feed")).scalar() == 1


def test_polls_waiting_for_a_build_leave_the_build_its_connections(tmp_path, store, caplog):
    # A pool of two: the build and its event store need both. Polls that wait for the
    # build must not hold one meanwhile, or the build waits for the pool and gives up.
    url = store.url.render_as_string(hide_password=False)
    small = create_engine(url, pool_size=2, max_overflow=0, pool_timeout=1)
    try:
        feeds = Feeds(small, settings_for(tmp_path))
        with ThreadPoolExecutor(4) as pool:
            bodies = {f.body for f in pool.map(lambda _: feeds.get(FeedQuery(all=True)), range(4))}
        assert len(bodies) == 1 and feeds.cache.builds == 1
        assert not [r for r in caplog.records if r.name == "store.events"]
    finally:
        small.dispose()


def test_each_change_keeps_only_its_newest_stored_events(store):
    stored = StoredEvents(store)
    stored.save([(f"{n:064x}", "u1", b"old %d" % n) for n in range(KEPT_PER_CHANGE + 5)])
    stored.save([("f" * 64, "u2", b"other")])
    kept = stored.load([f"{n:064x}" for n in range(KEPT_PER_CHANGE + 5)])
    assert sorted(kept.values()) == sorted(b"old %d" % n for n in range(5, KEPT_PER_CHANGE + 5))
    assert stored.load(["f" * 64]) == {"f" * 64: b"other"}


def test_a_failing_event_store_costs_serializing_never_the_feed(tmp_path, store, caplog):
    first = Feeds(store, settings_for(tmp_path)).get(FeedQuery(all=True))
    with store.begin() as connection:
        connection.execute(text("DROP TABLE calendar_event"))
    feeds = Feeds(store, settings_for(tmp_path))
    assert feeds.get(FeedQuery(all=True)).body == first.body
    assert feeds.cache.events.loaded == 0 and feeds.cache.events.misses > 10
    warned = [r.getMessage() for r in caplog.records if r.name == "store.events"]
    assert any("could not read the stored calendar events" in line for line in warned)
    assert any("could not store calendar events" in line for line in warned)


def test_every_field_an_event_shows_is_in_its_stored_key():
    info = CalendarInfo("日历", "", "Asia/Shanghai", timedelta(hours=1), "https://rw.example.com")
    change = CalendarChange(
        uid="c1",
        rule=SHIPPING,
        platform="1688",
        title=TITLE,
        summary="摘要",
        announced_on=date(2026, 12, 1),
        effective_on=date(2026, 12, 15),
        effective_at=None,
        tentative=False,
        revision=0,
        postponed_from=None,
        updated_at=datetime(2026, 12, 1, 9, 30, tzinfo=TZ),
    )
    others = {
        "uid": "c2",
        "rule": LONG_RULE,
        "platform": "淘宝",
        "title": "别的",
        "summary": "别的",
        "announced_on": date(2026, 12, 2),
        "effective_on": date(2026, 12, 16),
        "effective_at": time(10, 0),
        "tentative": True,
        "revision": 1,
        "postponed_from": date(2026, 12, 8),
        "updated_at": datetime(2026, 12, 1, 9, 31, tzinfo=TZ),
        "sources": (Source("来源", None),),
        "tags": ("logistics",),
        "handled": True,
    }
    assert set(others) == {f.name for f in dataclasses.fields(CalendarChange) if f.repr}
    key = event_key(change, EventKind.effective, info)
    assert key == event_key(dataclasses.replace(change), EventKind.effective, info)
    for name, value in others.items():
        assert (
            event_key(dataclasses.replace(change, **{name: value}), EventKind.effective, info)
            != key
        ), name
    assert event_key(change, EventKind.announced, info) != key
    assert event_key(change, EventKind.effective, dataclasses.replace(info, name="别的")) != key


# --- the command -------------------------------------------------------------------------


async def test_ics_command_writes_what_http_serves(tmp_path, seed_listing):
    database = tmp_path / "rulewatch.db"
    path = tmp_path / "config.toml"
    text = config().replace("[service]\n", f'[service]\ndatabase = "sqlite:///{database}"\n', 1)
    path.write_text(text, encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(cli_app, ["-c", str(path), "import", str(seed_listing)]).exit_code == 0
    out = tmp_path / "feed.ics"
    done = runner.invoke(cli_app, ["-c", str(path), "ics", "--out", str(out), "--tag", "logistics"])
    assert done.exit_code == 0, done.output
    body = out.read_bytes()
    assert summaries(body) and all(SHIPPING in s for s in summaries(body))
    searched = runner.invoke(cli_app, ["-c", str(path), "ics", "--all", "--search", "发货 服务"])
    assert searched.exit_code == 0, searched.output
    engine = connect(f"sqlite:///{database}")
    async with client_for(load_settings(path), engine) as http:
        served = await http.get("/calendar.ics", params={"tag": "logistics"})
        found = await http.get("/calendar.ics", params={"all": "1", "q": "发货 服务"})
        every = await http.get("/calendar.ics", params={"all": "1"})
    assert served.content == body
    assert summaries(found.content) == summaries(searched.stdout.encode())
    assert 0 < len(summaries(found.content)) < len(summaries(every.content))
    engine.dispose()
    printed = runner.invoke(cli_app, ["-c", str(path), "ics", "--kind", "effective", "--all"])
    assert printed.exit_code == 0, printed.output
    assert "BEGIN:VCALENDAR" in printed.stdout and "【公示】" not in printed.stdout
    assert runner.invoke(cli_app, ["-c", str(path), "ics", "--kind", "someday"]).exit_code == 2
    nowhere = runner.invoke(cli_app, ["-c", str(path), "ics", "--out", str(tmp_path / "no/f.ics")])
    assert nowhere.exit_code == 1 and "cannot write" in nowhere.stderr


def test_spliced_alarms_are_the_bytes_icalendar_writes():
    info = CalendarInfo("日历", "", "Asia/Shanghai", timedelta(hours=1), "https://rw.example.com")
    change = CalendarChange(
        uid="c1",
        rule=LONG_RULE,
        platform="淘宝",
        title=TITLE,
        summary="第一行,\n第二行; 第三行",
        announced_on=date(2026, 12, 1),
        effective_on=date(2026, 12, 15),
        effective_at=time(10, 0),
        tentative=True,
        revision=3,
        postponed_from=date(2026, 12, 8),
        updated_at=datetime(2026, 12, 1, 9, 30, tzinfo=TZ),
        sources=(Source("来源, 一", "https://rules.example.com/1"),),
        tags=("a,b", "c;d"),
    )
    cache = EventCache()
    for alarms in [(), parse_alarms("1d,2h"), parse_alarms("30m")]:
        for kind in EventKind:
            assert cache.blocks([(change, kind)], alarms, info) == [
                render_event(change, kind, alarms, info)
            ]
    assert cache.misses == 2 and cache.hits == 4


def test_served_by_uvicorn_on_loopback(tmp_path, store):
    app = create_app(settings_for(tmp_path, TOKEN), store)
    with running(app, lifespan="off") as base, httpx.Client(base_url=base) as http:
        url = f"/calendar/{TOKEN}.ics"
        full = http.get(url, headers={"Accept-Encoding": "identity"})
        assert full.status_code == 200 and full.content.startswith(b"BEGIN:VCALENDAR\r\n")
        assert int(full.headers["content-length"]) == len(full.content)
        assert "content-encoding" not in full.headers
        head = http.head(url, headers={"Accept-Encoding": "identity"})
        assert (head.status_code, head.content) == (200, b"")
        assert head.headers["etag"] == full.headers["etag"]
        again = http.get(url, headers={"If-None-Match": full.headers["etag"]})
        assert (again.status_code, again.content) == (304, b"")
        assert http.get("/calendar.ics").status_code == 404
        assert http.head("/calendar.ics").status_code == 404


def test_the_feed_goes_gzipped_to_clients_that_take_it(tmp_path, store):
    app = create_app(settings_for(tmp_path, TOKEN), store)
    url = f"/calendar/{TOKEN}.ics"
    with running(app, lifespan="off") as base, httpx.Client(base_url=base) as http:
        plain = http.get(url, headers={"Accept-Encoding": "identity"})
        zipped = http.get(url, headers={"Accept-Encoding": "gzip"})
        refused = http.get(url, headers={"Accept-Encoding": "gzip;q=0, identity"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert "content-encoding" not in refused.headers
        # httpx decodes it: the same calendar, in a fraction of the bytes, under its own tag.
        assert zipped.content == plain.content
        assert int(zipped.headers["content-length"]) * 3 < len(plain.content)
        assert zipped.headers["etag"] != plain.headers["etag"]
        assert zipped.headers["vary"] == plain.headers["vary"] == "Accept-Encoding"
        for response in (plain, zipped):
            again = http.get(
                url,
                headers={
                    "If-None-Match": response.headers["etag"],
                    "Accept-Encoding": response.request.headers["accept-encoding"],
                },
            )
            assert again.status_code == 304


async def test_a_long_query_string_is_answered_but_not_kept(client):
    from alerts.web import feed as feed_routes

    padding = "x" * 3000  # an unknown parameter: ignored, as FastAPI ignored it
    kept = feed_routes._parsed.cache_info().currsize
    answer = await client.get("/calendar.ics", params={"all": "1", "pad": padding})
    refused = await client.get("/calendar.ics", params={"kind": "both", "pad": padding})
    assert answer.status_code == 200 and refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["query", "kind"]
    assert feed_routes._parsed.cache_info().currsize == kept
