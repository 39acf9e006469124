"""`rulewatch serve` as a process: a taken address is one line, an idle service is quiet, and it
runs on uvloop and httptools."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

RULEWATCH = str(Path(sys.executable).with_name("rulewatch"))


def _config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[service]\ndatabase = "sqlite:///store.db"\nlisten = "127.0.0.1:{port}"\n',
        encoding="utf-8",
    )
    return path


def test_an_address_in_use_is_one_line_naming_it(tmp_path: Path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [RULEWATCH, "--config", str(_config(tmp_path, port)), "serve"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    last = done.stderr.rstrip().rsplit("\n", 1)[-1]
    assert last == (
        f"error: cannot listen on 127.0.0.1:{port} ([service] listen): address already in use"
    )


def test_an_idle_service_writes_no_line_per_tick(tmp_path: Path):
    with socket.create_server(("127.0.0.1", 0)) as free:
        port = free.getsockname()[1]
    process = subprocess.Popen(
        [RULEWATCH, "--config", str(_config(tmp_path, port)), "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            if health["next_dispatch"] is not None:
                break  # the first tick, which runs at start, has been scheduled and run
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output[-2000:]
    # uvicorn[standard] is a dependency: the service runs on uvloop and httptools.
    assert (
        f"serving on http://127.0.0.1:{port} (event loop uvloop, HTTP parser httptools)" in output
    )
    for chatter in ("Running job", "executed successfully", "tick:"):
        assert chatter not in output, output[-2000:]


def _serving(config: Path, port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [RULEWATCH, "--config", str(config), "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)  # waiting for the process to listen
    process.kill()
    raise AssertionError(f"serve did not answer: {process.communicate()[0][-2000:]}")


def _stopped(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output[-2000:]
    return output


def test_the_feed_survives_a_restart_and_shows_another_process_s_writes(tmp_path: Path):
    with socket.create_server(("127.0.0.1", 0)) as free:
        port = free.getsockname()[1]
    config = _config(tmp_path, port)
    run = {"cwd": tmp_path, "capture_output": True, "text": True, "timeout": 120}
    imported = subprocess.run([RULEWATCH, "--config", str(config), "import", "--sample"], **run)
    assert imported.returncode == 0, imported.stderr
    feed = f"http://127.0.0.1:{port}/calendar.ics?all=1"
    process = _serving(config, port)
    try:
        before = httpx.get(feed, timeout=60)
    finally:
        stopped = _stopped(process)
    assert "kept 1 calendar feed(s) for the next start" in stopped, stopped[-2000:]
    process = _serving(config, port)  # a new process: only the store remembers the feed
    try:
        after = httpx.get(feed, timeout=60)
        assert after.status_code == before.status_code == 200
        assert after.content == before.content and after.headers["etag"] == before.headers["etag"]
        added = subprocess.run(
            [
                RULEWATCH,
                "--config",
                str(config),
                "add",
                "--rule",
                "淘宝新规则测试规范",
                "--platform",
                "淘宝",
                "--effective",
                "2027-03-01",
            ],
            **run,
        )
        assert added.returncode == 0, added.stderr
        # Another process wrote it: the service sees it within its bound (1 s), and a
        # generous deadline keeps a slow machine from failing the test.
        deadline = time.monotonic() + 20
        while (answer := httpx.get(feed, timeout=60)).headers["etag"] == after.headers["etag"]:
            assert time.monotonic() < deadline, "the added change never reached the feed"
            time.sleep(0.2)  # polling a real process; its clock is not ours to move
        assert "淘宝新规则测试规范" in answer.text
    finally:
        _stopped(process)
