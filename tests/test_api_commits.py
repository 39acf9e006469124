"""An answer from the API means the write is committed: seen by every other connection, lost
by none, and a duplicate posted at the same moment is "stored": false, not a 500.

Served by a real uvicorn on loopback, with real concurrent clients, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server import running
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from alerts.config import parse_settings
from alerts.web.app import create_app
from store.db import connect, upgrade
from store.models import Notice

TOKEN = "commit-token-0123456789abcdef"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def _notice(n: int) -> dict[str, str]:
    return {
        "title": f"《淘宝网商品发布规范》第{n}次变更公示",
        "text": f"本次变更于2026年11月20日公示，2026年12月{1 + n % 28}日生效。",
        "published_at": "2026-11-20T10:00:00+08:00",
    }


@pytest.fixture
def base_url(tmp_path: Path, engine: Engine) -> Iterator[str]:
    settings = parse_settings(
        f'[api]\ntoken = "{TOKEN}"\n', path=tmp_path / "config.toml", environ={}
    )
    with running(create_app(settings, engine)) as url:
        yield url


def _stored(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.execute(select(func.count()).select_from(Notice)).scalar_one())


def test_every_answer_comes_after_its_commit(base_url: str, engine: Engine):
    # Another connection (a fresh engine, so no session or pool is shared) must see each
    # notice the moment its 201 arrives.
    other = connect(str(engine.url.render_as_string(hide_password=False)))
    try:
        with httpx.Client(base_url=base_url, headers=HEADERS, timeout=30) as client:
            for n in range(20):
                response = client.post("/api/notices", json=_notice(n))
                assert response.status_code == 201, response.text
                assert response.json()["stored"] is True
                assert _stored(other) == n + 1, f"answer {n} came before its commit"
    finally:
        other.dispose()


def test_identical_posts_at_once_store_one_and_say_so(base_url: str, engine: Engine):
    pairs = 15
    answers: list[tuple[int, bool | None]] = []
    lock = threading.Lock()

    def post(body: dict[str, str], start: threading.Barrier) -> None:
        with httpx.Client(base_url=base_url, headers=HEADERS, timeout=30) as client:
            start.wait()
            response = client.post("/api/notices", json=body)
        stored = response.json().get("stored") if response.status_code == 201 else None
        with lock:
            answers.append((response.status_code, stored))

    for n in range(pairs):
        start = threading.Barrier(2)
        body = _notice(n)
        threads = [threading.Thread(target=post, args=(body, start)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert [status for status, _ in answers] == [201] * (2 * pairs), answers
    assert sorted(stored for _, stored in answers).count(True) == pairs
    assert _stored(engine) == pairs


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
@pytest.mark.skipif(shutil.which("mount") is None, reason="no mount command")
def test_a_write_on_a_full_disk_is_a_503_and_stores_nothing(tmp_path: Path):
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(disk)], check=True)
    try:
        engine = connect(f"sqlite:///{disk / 'rulewatch.db'}")
        upgrade(engine)
        settings = parse_settings(
            f'[api]\ntoken = "{TOKEN}"\n', path=tmp_path / "config.toml", environ={}
        )
        with (
            running(create_app(settings, engine)) as url,
            httpx.Client(base_url=url, headers=HEADERS, timeout=30) as client,
        ):
            assert client.post("/api/notices", json=_notice(0)).status_code == 201
            filler = disk / "filler"
            # Unbuffered: a write cut short leaves nothing for close() to fail flushing.
            with filler.open("wb", buffering=0) as out:
                try:
                    while True:
                        out.write(b"\0" * 65536)
                        out.flush()
                except OSError:
                    pass
            big = _notice(1) | {"text": _notice(1)["text"] + "说明。" * 60_000}
            response = client.post("/api/notices", json=big)
            assert response.status_code == 503, response.text[:300]
            assert "full" in response.json()["detail"]
            filler.unlink()
            assert _stored(engine) == 1
            # With room again, the same notice is stored: nothing half-written blocks it.
            assert client.post("/api/notices", json=big).json()["stored"] is True
        engine.dispose()
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
