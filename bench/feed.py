"""How fast the calendar feed is built and served, for 10,000 changes.

Run as ``.venv/bin/python bench/feed.py`` (``--changes N``, ``--seconds S`` per HTTP run).
It fills a fresh SQLite store in a temporary folder with N changes (5 per rule, 4 platforms,
one in ten at a time of day, one in twenty tentative, each with a source link), then:

1. builds the whole feed (``?all=1``) in process, each against the floor (the feed's rows
   read with SQLAlchemy Core and held event bytes joined): with nothing stored, then as a
   restarted service does (new engine and caches) after a crash (events read from the
   store) and after a stop (the feed kept by ``Feeds.keep``), after one change moved (only
   its events serialized again; best of three moves), unchanged (``Feeds.cached``, no I/O).
   Each of the three timed rebuilds after a move and each round of the floor starts after a
   garbage collection, so that none pays for the garbage an earlier step left;
2. serves the app with uvicorn on 127.0.0.1 (one process, as ``rulewatch serve`` does) and,
   beside it, the yardstick: a bare FastAPI endpoint in a process of its own that holds the
   same bytes (identity and gzip, with their ETags) and answers 200 or 304 the same way.
   For each feed and each kind of answer (full, full gzip, 304) it measures requests per
   second of rulewatch and of the yardstick in alternating runs (``--pairs``), with ``wrk``
   when it is installed (``apt-get install wrk``; 1 thread, 8 connections), else with an
   httpx client loop in this process, which is slower than the server and so measures
   itself as much as the server. Every run is bounded by ``--seconds``; the ratio printed is
   rulewatch's best over the yardstick's best.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from fastapi import FastAPI, Request, Response
from machine import cpu
from sqlalchemy import select as sql_select
from sqlmodel import col

from alerts.calendar.feed import FeedQuery, Feeds
from alerts.calendar.render import parse_alarms
from alerts.config import Settings, load_settings
from store import queries
from store.db import connect, session_scope, upgrade
from store.models import Rule, RuleChange

PLATFORMS = ["1688", "淘宝", "京东", "拼多多"]
CONFIG = """
[service]
database = "sqlite:///{database}"

[[watch]]
name = "shipping"
keywords = ["发货"]
tags = ["logistics"]

[[watch]]
name = "jd"
platforms = ["京东"]
tags = ["jd"]
"""


def fill(settings: Settings, count: int) -> None:
    engine = connect(settings.service.database)
    upgrade(engine)
    start = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
    with session_scope(engine) as session:
        for i in range(count):
            name = PLATFORMS[i % 4] + f"商家{'发货' if i % 10 == 0 else '经营'}管理规范第{i // 5}号"
            rule = queries.get_or_add_rule(session, key=name, name=name, platform=PLATFORMS[i % 4])
            published = start + timedelta(hours=i)
            announced = published.date()
            effective = announced + timedelta(days=7 + i % 23)
            title = f"《{name}》变更，{effective.month}月{effective.day}日生效"
            text = (
                f"{announced.month}月{announced.day}日消息,《{name}》变更,"
                "为了持续保障买家体验,同时为商家创造更好的营商环境,相关规则将进行调整; "
                f"本次变更{announced.isoformat()}公示,于{effective.isoformat()}生效。"
            )
            notice = queries.add_notice(
                session,
                content_hash=f"{i:064d}",
                title=title,
                text=text,
                published_at=published,
                url=f"https://rules.example.com/notice/{i}",
                origin="bench",
            )
            fields = _fields(f"bench{i:08d}", announced, effective, i, revision=0, at=published)
            queries.save_change(
                session, rule=rule, fields=fields, title=title, summary=text, notice=notice
            )
    engine.dispose()


def _fields(
    uid: str, announced: date, effective: date, i: int, *, revision: int, at: datetime
) -> queries.ChangeFields:
    return queries.ChangeFields(
        uid=uid,
        kind="amendment",
        announced_on=announced,
        effective_on=effective,
        effective_at=clock_time(10, 0) if i % 10 == 0 else None,
        tentative=i % 20 == 0,
        revision=revision,
        postponed_from=None,
        dated_by=at,
    )


def move_one(settings: Settings, round_: int = 0) -> None:
    """Postpone change 0 by a week, as a 延期 notice (the ``round_``-th) would."""
    engine = connect(settings.service.database)
    with session_scope(engine) as session:
        (change, rule), *_ = queries.list_changes(session, rule="第0号", limit=1)
        notice = queries.add_notice(
            session,
            content_hash=f"{round_:f>64}",
            title="延期",
            text="延期",
            published_at=datetime.now(UTC),
            url=None,
            origin="bench",
        )
        fields = _fields(
            change.uid,
            change.announced_on or date.today(),
            (change.effective_on or date.today()) + timedelta(days=7),
            0,
            revision=change.revision + 1,
            at=datetime.now(UTC),
        )
        queries.save_change(
            session, rule=rule, fields=fields, title=change.title, summary="", notice=notice
        )
    engine.dispose()


def floor(settings: Settings) -> float:
    """The yardstick of a build: the feed's rows read with SQLAlchemy Core and their event
    bytes, held in a dict, joined (best of 5, in seconds)."""
    engine = connect(settings.service.database)
    statement = sql_select(*queries.CHANGE_ROW).join(Rule, col(Rule.id) == col(RuleChange.rule_id))
    block = b"BEGIN:VEVENT\r\n" + b"x" * 800 + b"END:VEVENT\r\n"
    with engine.connect() as connection:
        held = {(row.uid, kind): block for row in connection.execute(statement) for kind in (0, 1)}
    best = float("inf")
    for _ in range(5):
        gc.collect()  # as before each build timed: no round pays for garbage of another
        started = time.perf_counter()
        with engine.connect() as connection:
            rows = connection.execute(statement).all()
        b"".join(held[(row.uid, kind)] for row in rows for kind in (0, 1))
        best = min(best, time.perf_counter() - started)
    engine.dispose()
    return best


def bench_build(settings: Settings) -> None:
    query = FeedQuery(all=True)
    engine = connect(settings.service.database)
    feeds = Feeds(engine, settings)
    started = time.perf_counter()
    feed = feeds.get(query)
    cold = time.perf_counter() - started
    events = feeds.cache.events.misses
    yardstick = floor(settings)
    print(f"feed: {events:,} events, {len(feed.body) / 1e6:.1f} MB")
    print(f"floor (Core rows + joining held bytes): {yardstick * 1000:8.0f} ms")

    def line(label: str, seconds: float, note: str = "") -> None:
        ratio = seconds / yardstick
        print(f"{label:38} {seconds * 1000:8.0f} ms  {ratio:5.1f}x the floor{note}")

    line("build, empty store of events", cold)

    def restarted() -> float:  # a new engine and new caches: what a new process has
        best = float("inf")
        for _ in range(3):
            again = connect(settings.service.database)
            started = time.perf_counter()
            Feeds(again, settings).get(query)
            best = min(best, time.perf_counter() - started)
            again.dispose()
        return best

    line("first build after a crash", restarted(), " (best of 3; events from the store)")
    feeds.keep()  # what `serve` does as it stops
    line("first build after a restart", restarted(), " (best of 3; the feed kept at the stop)")
    moved = float("inf")
    for round_ in range(3):
        events = feeds.cache.events.misses
        move_one(settings, round_)
        gc.collect()
        started = time.perf_counter()
        feeds.get(query)
        moved = min(moved, time.perf_counter() - started)
    serialized = feeds.cache.events.misses - events
    line("build after one change moved", moved, f" (best of 3; {serialized} events serialized)")
    rounds = 20_000
    started = time.perf_counter()
    for _ in range(rounds):
        feeds.cached(query)
    same = (time.perf_counter() - started) / rounds
    print(f"unchanged (Feeds.cached):               {same * 1e6:8.2f} µs")
    started = time.perf_counter()
    feeds.get(replace(query, alarms=parse_alarms("1d,2h")))
    alarms = time.perf_counter() - started
    line("first build with ?alarm=1d,2h", alarms, " (events from memory)")
    engine.dispose()


def serve(config: str, port: int, loop: str = "auto", http: str = "auto") -> None:
    """The app of ``config`` under uvicorn, as `rulewatch serve` runs it (one process)."""
    import uvicorn

    from alerts.web.app import create_app

    settings = load_settings(Path(config))
    app = create_app(settings, connect(settings.service.database))
    quiet = {"log_level": "warning", "access_log": False}
    uvicorn.run(app, host="127.0.0.1", port=port, loop=loop, http=http, **quiet)


def yardstick(folder: str, port: int) -> None:
    """A bare FastAPI endpoint answering /calendar.ics and /calendar.ics?all=1 with the bytes
    rulewatch gave, as rulewatch answers them (ETag, gzip when asked, 304 on a match)."""
    import uvicorn

    held = {}
    for name in ("watched", "all"):
        body = (Path(folder) / f"{name}.ics").read_bytes()
        zipped = (Path(folder) / f"{name}.ics.gz").read_bytes()
        etag = (Path(folder) / f"{name}.etag").read_text()
        held[name] = (body, zipped, etag, etag[:-1] + '-gzip"')
    app = FastAPI()

    @app.get("/calendar.ics")
    async def feed(request: Request, all: bool = False) -> Response:
        body, zipped, etag, gzip_etag = held["all" if all else "watched"]
        gzip = "gzip" in request.headers.get("accept-encoding", "")
        headers = {"ETag": gzip_etag if gzip else etag, "Vary": "Accept-Encoding"}
        if request.headers.get("if-none-match") in (etag, gzip_etag):
            return Response(status_code=304, headers=headers)
        if gzip:
            headers["Content-Encoding"] = "gzip"
            return Response(zipped, media_type="text/calendar; charset=utf-8", headers=headers)
        return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def bench_http(config: Path, seconds: int, count: int, pairs: int) -> None:
    folder = config.parent
    ours = _start(["--serve", str(config)])
    theirs: tuple[subprocess.Popen[bytes], str] | None = None
    try:
        feeds = (("watched", "/calendar.ics"), ("all", "/calendar.ics?all=1"))
        for name, path in feeds:
            plain = httpx.get(ours[1] + path, timeout=120)  # builds and caches it
            zipped = httpx.get(ours[1] + path, headers={"Accept-Encoding": "gzip"}, timeout=120)
            (folder / f"{name}.ics").write_bytes(plain.content)
            (folder / f"{name}.ics.gz").write_bytes(_raw(ours[1] + path))
            (folder / f"{name}.etag").write_text(plain.headers["etag"])
            if zipped.content != plain.content:
                raise SystemExit("the gzip answer decodes to other bytes")
        theirs = _start(["--yardstick", str(folder)])
        for name, path in feeds:
            etag = (folder / f"{name}.etag").read_text()
            size = (folder / f"{name}.ics").stat().st_size
            answers = (
                ("full", {}),
                ("full gzip", {"Accept-Encoding": "gzip"}),
                ("304", {"If-None-Match": etag}),
            )
            for answer, headers in answers:
                mine, bare = [], []
                for _ in range(pairs):
                    mine.append(_load(ours[1] + path, headers, seconds))
                    bare.append(_load(theirs[1] + path, headers, seconds))
                print(
                    f"GET {path} ({name}, {size / 1e3:,.0f} kB, {count:,} changes) {answer:9}: "
                    f"rulewatch {max(mine):7,.0f} req/s, bare FastAPI {max(bare):7,.0f} req/s, "
                    f"ratio {max(mine) / max(bare):.2f}"
                )
        peaks = [_peak_rss(server[0].pid) for server in (ours, theirs)]
        print(
            f"peak RSS after the runs: rulewatch {peaks[0] / 1e6:,.0f} MB, bare FastAPI "
            f"{peaks[1] / 1e6:,.0f} MB, ratio {peaks[0] / peaks[1]:.2f}"
        )
    finally:
        for server in (ours, theirs):
            if server is not None:
                server[0].terminate()
                server[0].wait(timeout=10)


def _peak_rss(pid: int) -> int:
    """The peak resident set of a live process, in bytes (Linux: VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise SystemExit(f"no VmHWM for process {pid}")


def _start(arguments: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, __file__, *arguments, str(port)], stdout=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    _wait_for(base, server)
    return server, base


def _raw(url: str) -> bytes:
    """The body as sent, still gzipped."""
    with httpx.stream("GET", url, headers={"Accept-Encoding": "gzip"}, timeout=120) as answer:
        if answer.headers.get("content-encoding") != "gzip":
            raise SystemExit(f"{url} did not answer gzip")
        return b"".join(answer.iter_raw())


def _wait_for(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited")
        try:
            httpx.get(base + "/healthz", timeout=1)  # the yardstick answers 404: it is up
            return
        except httpx.TransportError:
            time.sleep(0.1)  # waiting for the process to listen
    raise SystemExit("the server did not come up in 60 s")


def _load(url: str, headers: dict[str, str], seconds: int) -> float:
    if shutil.which("wrk"):
        command = ["wrk", "-t1", "-c8", f"-d{seconds}s", "--timeout", "30s", url]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        if "Non-2xx or 3xx" in output:
            raise SystemExit(f"wrk saw errors:\n{output}")
        match = re.search(r"Requests/sec:\s+([\d.]+)", output)
        if match is None:
            raise SystemExit(f"cannot read wrk's output:\n{output}")
        return float(match[1])
    return asyncio.run(_httpx_load(url, headers, seconds))


async def _httpx_load(url: str, headers: dict[str, str], seconds: int) -> float:
    done = 0
    deadline = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal done
        while time.monotonic() < deadline:
            response = await client.get(url, headers=headers)
            if response.status_code not in (200, 304):
                raise SystemExit(f"status {response.status_code}")
            done += 1

    async with httpx.AsyncClient(timeout=30) as client:
        started = time.monotonic()
        await asyncio.gather(*(worker(client) for _ in range(8)))
        return done / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--pairs", type=int, default=3, help="alternating runs per figure")
    parser.add_argument("--no-build", action="store_true", help="only the HTTP figures")
    parser.add_argument("--no-http", action="store_true", help="only the build figures")
    parser.add_argument("--serve", nargs=2, metavar=("CONFIG", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--yardstick", nargs=2, metavar=("DIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    if args.yardstick:
        yardstick(args.yardstick[0], int(args.yardstick[1]))
        return
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.toml"
        config.write_text(CONFIG.format(database=Path(folder) / "bench.db"), encoding="utf-8")
        settings = load_settings(config)
        started = time.perf_counter()
        fill(settings, args.changes)
        print(f"stored {args.changes:,} changes in {time.perf_counter() - started:.1f} s")
        if not args.no_build:
            bench_build(settings)
        if not args.no_http:
            bench_http(config, args.seconds, args.changes, args.pairs)
    print(f"python {platform.python_version()}, {os.cpu_count()} cpu(s), {cpu()}")
    print(f"load generator: {'wrk' if shutil.which('wrk') else 'httpx (in process)'}")


if __name__ == "__main__":
    main()
