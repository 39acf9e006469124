"""What goes wrong gets a one-line message and an exit status (or a 4xx), never a traceback:
a store file that is no database, bytes that are not UTF-8, two imports of one file at once,
a rule name too long for the store, a request body the API cannot read.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from alerts.config import parse_settings
from alerts.web.app import create_app
from store.db import connect, upgrade
from store.models import Notice

RULEWATCH = str(Path(sys.executable).with_name("rulewatch"))
TOKEN = "failure-token-0123456789abcdef"


def rulewatch(
    config: Path, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [RULEWATCH, "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        cwd=config.parent,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def config_for(tmp_path: Path, database: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[service]\ndatabase = "{database}"\n\n[api]\ntoken = "{TOKEN}"\n', "utf-8")
    return path


def one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    """The command failed (status 1) saying why on its last line, with no traceback."""
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    last = done.stderr.rstrip("\n").rsplit("\n", 1)[-1]
    assert last.startswith("error:"), done.stderr[-2000:]
    for word in words:
        assert word in last, done.stderr[-2000:]


@pytest.mark.parametrize(
    "args",
    [
        ("changes",),
        ("import", "--sample"),
        ("run-due",),
        ("reminders",),
        ("ics",),
        ("db", "upgrade"),
        ("serve",),
    ],
    ids=lambda args: " ".join(args),
)
def test_a_store_file_that_is_no_database_is_named_in_one_line(tmp_path: Path, args):
    store = tmp_path / "store.db"
    store.write_bytes(b"this is a spreadsheet, not a database\n" * 200)
    done = rulewatch(config_for(tmp_path, f"sqlite:///{store}"), *args)
    one_line_error(done, "store.db", "not a database")
    assert store.read_bytes().startswith(b"this is a spreadsheet")  # left as it was


def test_healthz_fails_when_the_store_cannot_be_read(tmp_path: Path):
    store = tmp_path / "store.db"
    engine = connect(f"sqlite:///{store}")
    upgrade(engine)
    settings = parse_settings("", path=tmp_path / "config.toml", environ={})
    transport = httpx.ASGITransport(app=create_app(settings, engine))

    async def health() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
            return await client.get("/healthz")

    assert asyncio.run(health()).status_code == 200
    # The file is overwritten under the running service (a restore gone wrong, a bad disk).
    engine.dispose()
    for name in ("store.db-wal", "store.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    store.write_bytes(b"\x00garbage" * 4096)
    response = asyncio.run(health())
    engine.dispose()
    assert response.status_code == 503
    assert response.json()["status"] == "failing"
    assert "not a database" in response.json()["store"]


def test_extract_says_where_standard_input_is_not_utf8(tmp_path: Path):
    line = '{"title": "淘宝", "text": "规则'.encode() + "变更".encode("gbk") + b'"}\n'
    done = rulewatch(config_for(tmp_path, "sqlite:///s.db"), "extract", "-", stdin=line)
    one_line_error(done, "standard input is not UTF-8", "line 1")


def test_two_imports_of_one_file_at_once_store_each_notice_once(tmp_path: Path, database_url: str):
    notices = tmp_path / "notices.jsonl"
    with notices.open("w", encoding="utf-8") as out:
        for n in range(60):
            notice = {
                "title": f"《淘宝网第{n}号并发规范》变更公示",
                "text": f"《淘宝网第{n}号并发规范》于2026年11月20日公示，2027年1月1日生效。",
                "published_at": "2026-11-20T10:00:00+08:00",
            }
            out.write(json.dumps(notice, ensure_ascii=False) + "\n")
    config = config_for(tmp_path, database_url)
    assert rulewatch(config, "db", "upgrade").returncode == 0
    command = [RULEWATCH, "--config", str(config), "import", str(notices)]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]  # fmt: skip
    outputs = [run.communicate(timeout=120) for run in runs]
    for run, (_, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stderr[-2000:]
    engine = connect(database_url)
    with Session(engine) as session:
        stored = session.execute(select(func.count()).select_from(Notice)).scalar_one()
    engine.dispose()
    assert stored == 60


@pytest.mark.postgres
def test_a_rule_name_too_long_for_the_store_is_refused_by_name(
    tmp_path: Path, postgres_database: str
):
    config = config_for(tmp_path, postgres_database)
    done = rulewatch(
        config, "add", "--rule", "规" * 199, "--platform", "淘宝", "--effective", "2027-01-01"
    )
    one_line_error(done, "199 characters", "198 at most")
    assert rulewatch(config, "changes").returncode == 0


def test_the_api_reads_a_body_that_is_not_utf8_as_a_422(tmp_path: Path, engine: Engine):
    settings = parse_settings(
        f'[api]\ntoken = "{TOKEN}"\n', path=tmp_path / "config.toml", environ={}
    )
    transport = httpx.ASGITransport(app=create_app(settings, engine))

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
            return await client.post(
                "/api/notices",
                content="标题=规则".encode("gbk") + b"\xff\xfe",
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/plain"},
            )

    response = asyncio.run(post())
    assert response.status_code == 422, response.text[:500]
    assert response.json()["detail"][0]["loc"][0] == "body"
