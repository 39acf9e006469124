"""How fast the dispatcher empties a full outbox, against a bare loop on the same client as
the ceiling.

Run as ``.venv/bin/python bench/dispatch.py [--reminders 10000] [--concurrency 1 4 8 16 32]``
(add ``--database postgresql+psycopg://postgres@127.0.0.1:5432/postgres`` to run on
PostgreSQL: that URL is only used to create throwaway databases, which are dropped at the end).

What it does, in one run:

1. starts a lean ASGI receiver (uvicorn, its own process, so it does not compete with the
   sender for the GIL) that answers 200, checks every Standard Webhooks signature and counts
   requests and distinct ``webhook-id`` values;
2. builds a store the way the service does: a config with one signed webhook channel and a
   watch, the channel recorded by the planner, then ``--reminders / 2`` changes entered with
   ``alerts.timeline.ingest.add_change`` (each with its notice), then ``ReminderEngine.plan`` at the
   instant their 7-day lead reminders fall due. Each change then has four reminders in the
   outbox (announced, lead 7, 1 and 0 days): the announced and 7-day ones are due, the
   other half wait for later, as in a real outbox;
3. for each concurrency: on a fresh copy of that store, times ``Dispatcher.run_once``
   (through ``ReminderEngine``, as ``serve`` and ``run-due`` build it) sending every due
   reminder; then, on the same receiver, a bare loop posting the same bodies with the same
   headers (signed beforehand) with the same number in flight, through the client the
   service sends with (``notifiers.http.sending_client``), so the ratio is rulewatch's. Each
   measurement runs in a child process of its own so its peak RSS is its own; the service
   is run once more under tracemalloc for its peak of Python allocations (not timed).

4. with ``--digest`` (default ``15m``), for each concurrency once more with the channel's
   ``digest`` set: every due reminder falls in one window, so they go out as digests of up
   to a claim's worth (the dispatcher's batch, 500) each; it prints reminders per second and
   the CPU a reminder costs.

5. with ``--clients``, in each round the service and the bare loop once more on httpx's own
   transport (``httpx.AsyncClient()``), and the bare loop on a plain ``aiohttp.ClientSession``,
   to compare clients.

It fails loudly unless every due reminder ended ``sent`` with one delivery row, the other
half is still pending, and the receiver counted exactly ``--reminders`` requests (distinct
ids, valid signatures) for the service and for the bare loop.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TZ = ZoneInfo("Asia/Shanghai")
# 32 bytes, base64: a secret of the kind `rulewatch channels new-secret` prints.
WHSEC = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD1BFz5LQY/7k="
CHANNEL = "bench-hook"
LEAD_DAYS = (7, 1, 0)
DEFAULT_CONCURRENCY = (1, 4, 8, 16, 32)
# Before each timed run, wait up to this long for the machine to be idle (it may be shared).
QUIET_WAIT = float(os.environ.get("BENCH_QUIET_WAIT", "60"))


# --- the receiver (its own process) --------------------------------------------------------


def serve_receiver(secret: str) -> None:
    """Run the receiver until stdin closes; print its port first."""
    import uvicorn

    key = base64.b64decode(secret.removeprefix("whsec_"))
    state: dict[str, Any] = {"count": 0, "bad": 0, "ids": set()}
    ok_start = {"type": "http.response.start", "status": 200, "headers": []}
    ok_body = {"type": "http.response.body", "body": b""}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        path = scope["path"]
        if path == "/hook":
            headers = dict(scope["headers"])
            msg_id = headers.get(b"webhook-id", b"")
            signed = msg_id + b"." + headers.get(b"webhook-timestamp", b"") + b"." + body
            digest = hmac.new(key, signed, hashlib.sha256).digest()
            expected = b"v1," + base64.b64encode(digest)
            if headers.get(b"webhook-signature") != expected:
                state["bad"] += 1
            state["count"] += 1
            state["ids"].add(msg_id)
            await send(ok_start)
            await send(ok_body)
            return
        if path == "/reset":
            state.update(count=0, bad=0, ids=set())
        stats = {
            "count": state["count"],
            "distinct_ids": len(state["ids"]),
            "bad_signatures": state["bad"],
            "cpu_seconds": time.process_time(),
        }
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps(stats).encode()})

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        interface="asgi3",
        http="h11",
        ws="none",
        log_level="warning",
        access_log=False,
        backlog=256,
    )
    server = uvicorn.Server(config)

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the receiver did not start")
            await asyncio.sleep(0.01)
        print(server.servers[0].sockets[0].getsockname()[1], flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # the parent closes stdin to stop us
        server.should_exit = True
        await task

    asyncio.run(run())


@contextmanager
def receiver() -> Iterator[str]:
    """Start the receiver process; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, __file__, "_receiver"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        if not port.isdigit():
            raise RuntimeError("the receiver did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def receiver_stats(base: str, action: str = "stats") -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/{action}", timeout=10) as response:
        return dict(json.loads(response.read()))


# --- building the store ----------------------------------------------------------------------


def config_text(database: str, hook_url: str, digest: str | None = None) -> str:
    pace = f'digest = "{digest}"\n' if digest else ""
    return (
        f'[service]\ndatabase = "{database}"\nbase_url = "https://rulewatch.example.com"\n'
        'timezone = "Asia/Shanghai"\n\n'
        f'[reminders]\nlead_days = {list(LEAD_DAYS)}\nat = "09:00"\n\n'
        f'[[watch]]\nname = "all-1688"\nplatforms = ["1688"]\nchannels = ["{CHANNEL}"]\n\n'
        f'[[channels]]\nname = "{CHANNEL}"\nkind = "webhook"\nurl = "{hook_url}"\n'
        f'secret = "{WHSEC}"\ntimeout = 30\n{pace}'
    )


def load(config_path: Path) -> Any:
    from alerts.config import parse_settings

    return parse_settings(config_path.read_text("utf-8"), path=config_path, environ={})


def dispatch_instant(effective_on: date) -> datetime:
    """When the 7-day lead reminders of changes taking effect on ``effective_on`` are due."""
    return datetime.combine(effective_on - timedelta(days=7), datetime.min.time(), TZ).replace(
        hour=9
    )


def build_store(config_path: Path, changes: int, effective_on: date) -> int:
    """Fill the store named in the config; returns how many reminders are due."""
    from alerts.reminders.engine import ReminderEngine
    from alerts.timeline.ingest import add_change
    from notifiers.http import sending_client
    from store import outbox
    from store.db import connect, session_scope, upgrade

    settings = load(config_path)
    engine = connect(settings.service.database)
    upgrade(engine)
    http = sending_client()  # planning sends nothing; closed below
    try:
        service = ReminderEngine(settings, engine, http=http)
        # The channel exists before the changes are stored, so they get announced reminders.
        service.plan(datetime.now(UTC) - timedelta(minutes=1))
        with session_scope(engine) as session:
            for i in range(changes):
                add_change(
                    session,
                    rule=f"1688商家第{i:05d}号经营行为管理规范",
                    platform="1688",
                    announced_on=date.today(),
                    effective_on=effective_on,
                    title=f"关于修订《1688商家第{i:05d}号经营行为管理规范》的公告",
                    url=f"https://rulechannel.1688.com/notice/{100000 + i}.html",
                    now=datetime.now(TZ),
                    tz=TZ,
                )
        now = dispatch_instant(effective_on)
        planned = service.plan(now)
        if planned.created != changes * (1 + len(LEAD_DAYS)):
            raise SystemExit(f"planning made {planned.created} reminders for {changes} changes")
        with session_scope(engine) as session:
            due = len(outbox.due_reminders(session, now=now, limit=None))
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                # What autovacuum does within a minute of a bulk load: without statistics
                # the planner takes the fresh outbox for a handful of rows.
                connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "ANALYZE"
                )
    finally:
        asyncio.run(http.aclose())
        engine.dispose()
    return due


class Stores:
    """A template store and fresh copies of it, on SQLite files or PostgreSQL databases."""

    def __init__(self, workdir: Path, database: str) -> None:
        self.workdir = workdir
        self.admin = None if database == "sqlite" else database
        self.made: list[str] = []

    def url(self, name: str) -> str:
        if self.admin is None:
            return f"sqlite:///{self.workdir / (name + '.db')}"
        database = f"rulewatch_bench_{name}_{uuid.uuid4().hex[:8]}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        self.made.append(database)
        return self.admin.rsplit("/", 1)[0] + "/" + database

    def copy(self, template: str, name: str) -> str:
        if self.admin is None:
            target = self.workdir / (name + ".db")
            shutil.copyfile(template.removeprefix("sqlite:///"), target)
            return f"sqlite:///{target}"
        source = template.rsplit("/", 1)[1]
        database = f"rulewatch_bench_{name}_{uuid.uuid4().hex[:8]}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{database}" TEMPLATE "{source}"')
        self.made.append(database)
        return self.admin.rsplit("/", 1)[0] + "/" + database

    def drop(self, url: str) -> None:
        if self.admin is None:
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
            return
        database = url.rsplit("/", 1)[1]
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        self.made.remove(database)

    def close(self) -> None:
        if self.admin is not None:
            with self._admin() as conn:
                for database in self.made:
                    conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            self.made.clear()

    @contextmanager
    def _admin(self) -> Iterator[Any]:
        import psycopg

        assert self.admin is not None
        with psycopg.connect(self.admin.replace("+psycopg", ""), autocommit=True) as conn:
            yield conn


# --- one measurement (a child process) ---------------------------------------------------------


def machine_busy() -> float:
    """CPU seconds all processes on the machine have used so far (from /proc/stat)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(limit: float) -> float:
    """Wait (up to ``limit`` seconds) until other processes leave the machine idle for a
    second, so that a shared machine's other work does not land in the figures; returns
    the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        before = machine_busy()
        time.sleep(1)
        if machine_busy() - before < 0.1:
            break
    return time.perf_counter() - started


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure_service(
    config_path: Path, concurrency: int, now: datetime, trace: bool, client: str = "service"
) -> dict[str, Any]:
    """Time ``Dispatcher.run_once`` over the outbox; check every reminder ended sent.
    ``client`` is "service" (``sending_client``) or "httpx" (httpx's own transport)."""
    import httpx

    from alerts.reminders.engine import ReminderEngine
    from alerts.server import settle_heap
    from notifiers.http import sending_client
    from store import outbox
    from store.db import connect, session_scope

    settings = load(config_path)
    engine = connect(settings.service.database)
    hook = settings.channels[0].url
    base = hook.rsplit("/", 1)[0]
    with session_scope(engine) as session:
        before = outbox.count_by_status(session)
        due = len(outbox.due_reminders(session, now=now, limit=None))
    rss_before = maxrss_mb()
    rx_cpu: list[float] = []
    waited: list[float] = []

    async def run() -> tuple[Any, float, float, float]:
        async with httpx.AsyncClient() if client == "httpx" else sending_client() as http:
            service = ReminderEngine(settings, engine, http=http, concurrency=concurrency)
            settle_heap()  # as `serve` does once started
            waited.append(wait_for_quiet(QUIET_WAIT))
            rx_cpu.append(receiver_stats(base, "reset")["cpu_seconds"])
            if trace:
                tracemalloc.start()
            busy, cpu, start = machine_busy(), time.process_time(), time.perf_counter()
            report = await service.dispatcher.run_once(now=now)
            seconds = time.perf_counter() - start
            return report, seconds, time.process_time() - cpu, machine_busy() - busy

    report, seconds, cpu, busy = asyncio.run(run())
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    tracemalloc.stop()
    got = receiver_stats(base)
    with session_scope(engine) as session:
        after = outbox.count_by_status(session)
        deliveries = session.connection().exec_driver_sql("SELECT count(*) FROM delivery").scalar()
    engine.dispose()
    problems = []
    if report.sent != due or (report.retrying, report.dead, report.coalesced, report.missed) != (
        0,
        0,
        0,
        0,
    ):
        problems.append(f"run_once reported {report!r:.300}")
    if after.get(outbox.SENT, 0) != due:
        problems.append(f"{after.get(outbox.SENT, 0)} of {due} due reminders ended sent: {after}")
    if after.get(outbox.PENDING, 0) != before.get(outbox.PENDING, 0) - due:
        problems.append(f"the reminders not yet due changed: {before} → {after}")
    if deliveries != due:
        problems.append(f"{deliveries} delivery rows for {due} reminders")
    # One request per message: per reminder, or per digest when the channel has one.
    messages = len(report.messages)
    if settings.channels[0].digest is None and messages != due:
        problems.append(f"{messages} messages for {due} reminders, one each expected")
    if (got["count"], got["distinct_ids"], got["bad_signatures"]) != (messages, messages, 0):
        problems.append(f"the receiver saw {got} for {messages} messages")
    return {
        "due": due,
        "messages": messages,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "machine_cpu_seconds": busy,
        "receiver_cpu_seconds": got["cpu_seconds"] - rx_cpu[0],
        "waited_seconds": waited[0],
        "maxrss_before_mb": rss_before,
        "maxrss_mb": maxrss_mb(),
        "tracemalloc_peak_mb": peak,
        "problems": problems,
    }


def measure_bare(
    config_path: Path, concurrency: int, now: datetime, client: str = "service"
) -> dict[str, Any]:
    """Post the same bodies with the same headers from a bare loop: the ceiling. ``client``
    is "service" (the service's own, ``sending_client``), "httpx" (httpx's own transport)
    or "aiohttp" (a plain ``aiohttp.ClientSession``)."""
    import aiohttp
    import httpx
    from sqlmodel import Session

    from alerts.reminders.dispatcher import reminder_facts
    from alerts.reminders.messages import render
    from alerts.server import settle_heap
    from notifiers.http import sending_client
    from notifiers.webhook import sign
    from store import outbox, queries
    from store.db import connect

    settings = load(config_path)
    channel = settings.channels[0]
    keys = channel.signing_keys()
    assert keys, "the bench's channel is signed"
    key = keys[0]  # the service signs with every key; one is enough for the receiver
    engine = connect(settings.service.database)
    requests: list[tuple[bytes, dict[str, str]]] = []
    timestamp = int(time.time())
    with Session(engine) as session:
        rows = outbox.due_reminders(session, now=now, limit=None)
        sources = queries.notices_of_changes(session, change_ids=[c.id or 0 for _, c, _ in rows])
        for reminder, change, rule in rows:
            facts = reminder_facts(
                reminder,
                change,
                rule,
                sources.get(change.id or 0, []),
                settings.service.base_url,
                settings.service.tz,
            )
            message = render(facts, today=now.astimezone(TZ).date())
            body = json.dumps(message.payload, ensure_ascii=False, separators=(",", ":")).encode()
            headers = {
                "user-agent": "rulewatch-webhook",
                "content-type": "application/json",
                "webhook-id": message.id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(key, message.id, timestamp, body),
            }
            requests.append((body, headers))
        session.rollback()
    engine.dispose()
    body_bytes = sum(len(body) for body, _ in requests)
    base = channel.url.rsplit("/", 1)[0]
    rss_before = maxrss_mb()
    rx_cpu: list[float] = []
    waited: list[float] = []

    async def run() -> tuple[list[int], float, float, float]:
        statuses: list[int] = []
        queue = iter(requests)
        async with contextlib.AsyncExitStack() as stack:
            if client == "aiohttp":
                session = await stack.enter_async_context(aiohttp.ClientSession())

                async def post(body: bytes, headers: dict[str, str]) -> int:
                    async with session.post(channel.url, data=body, headers=headers) as answer:
                        await answer.read()
                        return answer.status

            else:
                http = await stack.enter_async_context(
                    httpx.AsyncClient() if client == "httpx" else sending_client()
                )

                async def post(body: bytes, headers: dict[str, str]) -> int:
                    answer = await http.post(channel.url, content=body, headers=headers)
                    return answer.status_code

            async def worker() -> None:
                for body, headers in queue:
                    statuses.append(await post(body, headers))

            settle_heap()  # as the service's side does
            waited.append(wait_for_quiet(QUIET_WAIT))
            rx_cpu.append(receiver_stats(base, "reset")["cpu_seconds"])
            busy, cpu, start = machine_busy(), time.process_time(), time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            seconds = time.perf_counter() - start
            return statuses, seconds, time.process_time() - cpu, machine_busy() - busy

    statuses, seconds, cpu, busy = asyncio.run(run())
    got = receiver_stats(base)
    problems = []
    if statuses.count(200) != len(requests):
        problems.append(f"{statuses.count(200)} of {len(requests)} posts answered 200")
    if (got["count"], got["distinct_ids"], got["bad_signatures"]) != (
        len(requests),
        len(requests),
        0,
    ):
        problems.append(f"the receiver saw {got} for {len(requests)} posts")
    return {
        "due": len(requests),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "machine_cpu_seconds": busy,
        "receiver_cpu_seconds": got["cpu_seconds"] - rx_cpu[0],
        "waited_seconds": waited[0],
        "mean_body_bytes": body_bytes / max(len(requests), 1),
        "maxrss_before_mb": rss_before,
        "maxrss_mb": maxrss_mb(),
        "problems": problems,
    }


def child(
    mode: str, config_path: Path, concurrency: int, now: datetime, due: int
) -> dict[str, Any]:
    """Run one measurement in a fresh process; returns what it printed as JSON."""
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "_measure",
            mode,
            str(config_path),
            str(concurrency),
            now.isoformat(),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the {mode} measurement at concurrency {concurrency} failed")
    result = dict(json.loads(done.stdout.strip().splitlines()[-1]))
    if result["due"] != due:
        result["problems"].append(f"{result['due']} reminders were due, expected {due}")
    if result["problems"]:
        raise SystemExit(
            f"{mode} at concurrency {concurrency}: FAILED CHECKS:\n  "
            + "\n  ".join(result["problems"])
        )
    return result


# --- the whole run -----------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cpu(s), {model}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reminders", type=int, default=10_000, help="due reminders (even)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(DEFAULT_CONCURRENCY))
    parser.add_argument(
        "--database",
        default="sqlite",
        help='"sqlite" (default), or a PostgreSQL URL used to create throwaway databases',
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="measure each side this many times; the best counts"
    )
    parser.add_argument(
        "--no-tracemalloc", action="store_true", help="skip the tracemalloc pass of the service"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=QUIET_WAIT,
        help="seconds to wait at most for an idle machine before each timed run (60)",
    )
    parser.add_argument(
        "--clients",
        action="store_true",
        help="also time the bare loop on httpx's own transport and on plain aiohttp",
    )
    parser.add_argument(
        "--digest",
        default="15m",
        help='also time the service with the channel\'s digest = WINDOW ("15m"); "" skips it',
    )
    args = parser.parse_args()
    os.environ["BENCH_QUIET_WAIT"] = str(args.quiet_wait)  # read by the measuring children
    if args.reminders <= 0 or args.reminders % 2:
        parser.error("--reminders must be a positive even number (two due per change)")

    effective_on = date.today() + timedelta(days=30)
    now = dispatch_instant(effective_on)
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="rulewatch-bench-") as tmp, receiver() as base:
        workdir = Path(tmp)
        stores = Stores(workdir, args.database)
        try:
            template = stores.url("template")
            config = workdir / "template.toml"
            config.write_text(config_text(template, f"{base}/hook"), "utf-8")
            started = time.perf_counter()
            due = build_store(config, args.reminders // 2, effective_on)
            print(
                f"store: {'PostgreSQL' if stores.admin else 'SQLite'}, "
                f"{args.reminders // 2} changes, "
                f"{due} reminders due of {args.reminders * 2} in the outbox "
                f"(built in {time.perf_counter() - started:.0f} s)"
            )
            if due != args.reminders:
                raise SystemExit(f"expected {args.reminders} due reminders, found {due}")
            print(HEADER)
            rows = []
            modes = ["bare", "service"]
            if args.clients:
                modes += ["bare-httpx", "service-httpx", "bare-aiohttp"]
            for concurrency in args.concurrency:
                runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
                service_runs, bare_runs = runs["service"], runs["bare"]
                for round_ in range(args.rounds):
                    # The bare loop only reads the outbox: it reads the template. The service
                    # gets a fresh copy each time. Odd rounds go the other way round, so
                    # no side always runs first.
                    for mode in modes if round_ % 2 == 0 else modes[::-1]:
                        if mode.startswith("bare"):
                            runs[mode].append(child(mode, config, concurrency, now, due))
                            continue
                        url = stores.copy(template, f"c{concurrency}r{round_}")
                        run_config = workdir / f"c{concurrency}-r{round_}.toml"
                        run_config.write_text(config_text(url, f"{base}/hook"), "utf-8")
                        runs[mode].append(child(mode, run_config, concurrency, now, due))
                        stores.drop(url)
                    if args.rounds > 1:
                        print(
                            f"{'':>9}   round {round_ + 1}: "
                            + round_line(service_runs[-1], bare_runs[-1], due)
                        )
                traced = None
                if not args.no_tracemalloc:
                    url = stores.copy(template, f"c{concurrency}trace")
                    run_config = workdir / f"c{concurrency}-trace.toml"
                    run_config.write_text(config_text(url, f"{base}/hook"), "utf-8")
                    traced = child("traced", run_config, concurrency, now, due)
                    stores.drop(url)
                row = summarize(concurrency, due, service_runs, bare_runs, traced)
                rows.append(row)
                print(row["line"], flush=True)
                if args.clients:
                    print(f"{'':>9}   {compare_clients(runs, due)}", flush=True)
            if args.digest:
                for concurrency in args.concurrency:
                    url = stores.copy(template, f"c{concurrency}digest")
                    run_config = workdir / f"c{concurrency}-digest.toml"
                    run_config.write_text(config_text(url, f"{base}/hook", args.digest), "utf-8")
                    run = child("service", run_config, concurrency, now, due)
                    stores.drop(url)
                    print(
                        f"digest = {args.digest!r}, {concurrency} in flight: {due:,} reminders "
                        f"as {run['messages']:,} messages in {run['seconds']:.2f} s, "
                        f"{due / run['seconds']:,.0f} reminders/s, "
                        f"{run['cpu_seconds'] / due * 1e6:,.0f} µs CPU a reminder",
                        flush=True,
                    )
            body = bare_runs[0]["mean_body_bytes"]
            print(
                f"each request: a {body:,.0f}-byte JSON body, signed (HMAC-SHA256); "
                f"best of {args.rounds} round(s) each"
            )
            best = max(rows, key=lambda r: r["service_per_s"])
            print(
                f"fastest service: {best['service_per_s']:,.0f} reminders/s "
                f"at {best['concurrency']} in flight"
            )
        finally:
            stores.close()


HEADER = (
    f"{'in flight':>9} | {'service/s':>9} | {'bare POST/s':>11} | {'ratio':>5} | "
    f"{'svc CPU/msg':>11} | {'bare CPU/msg':>12} | {'others':>6} | {'svc maxrss':>10} | "
    f"{'tracemalloc':>11} | {'bare maxrss':>11}"
)


def others(run: dict[str, Any]) -> float:
    """Cores used by other processes on the machine while ``run`` was timed."""
    ours = float(run["cpu_seconds"] + run["receiver_cpu_seconds"])
    return max(float(run["machine_cpu_seconds"]) - ours, 0.0) / float(run["seconds"])


def compare_clients(runs: dict[str, list[dict[str, Any]]], due: int) -> str:
    """The other clients' best rounds, beside the service's own client."""
    per_s = {mode: due / min(r["seconds"] for r in done) for mode, done in runs.items()}
    return (
        f"on httpx's own transport: service {per_s['service-httpx']:,.0f}/s, bare "
        f"{per_s['bare-httpx']:,.0f}/s, ratio {per_s['service-httpx'] / per_s['bare-httpx']:.2f}"
        f"; plain aiohttp bare {per_s['bare-aiohttp']:,.0f}/s"
    )


def round_line(service: dict[str, Any], bare: dict[str, Any], due: int) -> str:
    return (
        f"service {due / service['seconds']:,.0f}/s, bare {due / bare['seconds']:,.0f}/s, "
        f"ratio {bare['seconds'] / service['seconds']:.2f}; other processes used "
        f"{others(service):.2f} and {others(bare):.2f} cores"
    )


def summarize(
    concurrency: int,
    due: int,
    service_runs: list[dict[str, Any]],
    bare_runs: list[dict[str, Any]],
    traced: dict[str, Any] | None,
) -> dict[str, Any]:
    """The best round of each side (noise only ever slows a run down)."""
    service_run = min(service_runs, key=lambda r: r["seconds"])
    bare_run = min(bare_runs, key=lambda r: r["seconds"])
    service, bare = due / service_run["seconds"], due / bare_run["seconds"]
    svc_cpu = service_run["cpu_seconds"] / due * 1e6
    bare_cpu = bare_run["cpu_seconds"] / due * 1e6
    busy = max(others(r) for r in service_runs + bare_runs)
    svc_rss = max(r["maxrss_mb"] for r in service_runs)
    bare_rss = max(r["maxrss_mb"] for r in bare_runs)
    peak = f"{traced['tracemalloc_peak_mb']:.1f} MB" if traced else "-"
    line = (
        f"{concurrency:>9} | {service:>9,.0f} | {bare:>11,.0f} | {service / bare:>5.2f} | "
        f"{svc_cpu:>8,.0f} µs | {bare_cpu:>9,.0f} µs | {busy:>6.2f} | {svc_rss:>7.0f} MB | "
        f"{peak:>11} | {bare_rss:>8.0f} MB"
    )
    return {
        "concurrency": concurrency,
        "service_per_s": service,
        "bare_per_s": bare,
        "ratio": service / bare,
        "line": line,
    }


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_receiver":
        serve_receiver(WHSEC)
    elif len(sys.argv) > 1 and sys.argv[1] == "_measure":
        mode, path, concurrency, instant = sys.argv[2:6]
        when = datetime.fromisoformat(instant)
        if mode.startswith("bare"):
            client = mode.partition("-")[2] or "service"
            result = measure_bare(Path(path), int(concurrency), when, client)
        else:
            client = mode.partition("-")[2] or "service"
            result = measure_service(
                Path(path), int(concurrency), when, trace=mode == "traced", client=client
            )
        print(json.dumps(result))
    else:
        main()
