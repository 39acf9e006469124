"""Delivery under faults, on real processes: kill -9 at random moments, SIGTERM mid-claim,
a receiver slower than the lease with a second instance, several instances on PostgreSQL.

Each test runs `rulewatch` as its users do (separate processes on one store) against a
loopback receiver that counts what arrives by webhook-id. The figures asserted are the ones
docs/reliability.md states.
"""

from __future__ import annotations

import json
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from receiver import WHSEC, Receiver, Reply

RULEWATCH = str(Path(sys.executable).with_name("rulewatch"))
CONCURRENCY = 8  # the dispatcher's default in-flight count, which these runs use

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Project:
    """A config.toml, a store and a file of notices, as a user would have them."""

    def __init__(self, root: Path, database: str, hook: str, *, lease: float = 30) -> None:
        self.root = root
        self.database = database
        self.config = root / "config.toml"
        self.port = _free_port()
        self.config.write_text(
            f"""
[service]
database = "{database}"
listen = "127.0.0.1:{self.port}"

[reminders]
lease_seconds = {lease}
stop_grace_seconds = 5

[[watch]]
name = "all"
platforms = ["淘宝"]
channels = ["hook"]

[[channels]]
name = "hook"
kind = "webhook"
url = "{hook}"
secret = "{WHSEC}"
timeout = 20
""",
            encoding="utf-8",
        )

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [RULEWATCH, "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )

    def start(self, *args: str, to_be_killed: bool = False) -> subprocess.Popen[str]:
        # A process to be killed says nothing worth reading and would leave its pipes open.
        output = subprocess.DEVNULL if to_be_killed else subprocess.PIPE
        return subprocess.Popen(
            [RULEWATCH, "--config", str(self.config), *args],
            stdout=output,
            stderr=output,
            text=True,
            cwd=self.root,
        )

    def import_notices(self, count: int) -> None:
        """``count`` notices, each about a rule of its own, taking effect next year."""
        path = self.root / "notices.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for n in range(count):
                notice = {
                    "title": f"《淘宝网第{n}号测试规范》变更公示",
                    "text": f"《淘宝网第{n}号测试规范》于2026年11月20日公示，2027年3月1日生效。",
                    "published_at": "2026-11-20T10:00:00+08:00",
                }
                out.write(json.dumps(notice, ensure_ascii=False) + "\n")
        done = self.run("import", str(path))
        assert done.returncode == 0, done.stderr

    def reminders(self) -> list[dict[str, object]]:
        done = self.run("reminders", "--json")
        assert done.returncode == 0, done.stderr
        return list(json.loads(done.stdout))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    yield request.getfixturevalue("postgres_database")


def _ids(receiver: Receiver) -> Counter[str]:
    return Counter(r.headers["webhook-id"] for r in receiver.requests)


def _announced(project: Project) -> list[dict[str, object]]:
    return [r for r in project.reminders() if r["kind"] == "announced"]


def test_kill_9_at_random_moments_costs_at_most_one_repeat_per_sender(
    tmp_path: Path, store_url: str
):
    kills, notices = 4, 160
    rng = random.Random(20261202)
    with Receiver(secret=WHSEC, default=Reply(200, delay=0.05)) as receiver:
        project = Project(tmp_path, store_url, receiver.url, lease=3)
        project.import_notices(notices)
        for _ in range(kills):
            process = project.start("run-due", to_be_killed=True)
            # Until it has sent something, then a moment later: mid-claim, mid-record.
            deadline = time.monotonic() + 60
            before = len(receiver.requests)
            while len(receiver.requests) == before and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.05, 0.6))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        # What the killed runs held comes back when their leases run out.
        for _ in range(10):
            if all(r["status"] == "sent" for r in _announced(project)):
                break
            time.sleep(3.2)
            assert project.run("run-due").returncode == 0
        announced = _announced(project)
        assert [r["status"] for r in announced] == ["sent"] * notices
        received = _ids(receiver)
    assert len(received) == notices
    repeats = sum(received.values()) - len(received)
    assert repeats <= kills * CONCURRENCY, f"{repeats} repeats after {kills} kills"


def test_sigterm_mid_claim_finishes_what_is_in_flight_and_hands_back_the_rest(
    tmp_path: Path, store_url: str
):
    notices = 40
    with Receiver(secret=WHSEC, default=Reply(200, delay=1.0)) as receiver:
        project = Project(tmp_path, store_url, receiver.url)
        project.import_notices(notices)
        process = project.start("serve")
        receiver.wait_for(CONCURRENCY, timeout=60)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr[-2000:]
        assert "Traceback" not in stderr and "CancelledError" not in stderr, stderr[-2000:]
        announced = _announced(project)
        statuses = Counter(r["status"] for r in announced)
        # What went out was recorded; nothing is left claimed for the lease to free.
        assert statuses["sending"] == 0
        assert statuses["sent"] == len(receiver.requests)
        assert statuses["pending"] == notices - statuses["sent"] > 0
        # The next run sends the rest, each once.
        assert project.run("run-due").returncode == 0
        assert [r["status"] for r in _announced(project)] == ["sent"] * notices
        assert sorted(_ids(receiver).values()) == [1] * notices


def test_a_receiver_slower_than_the_lease_and_a_second_instance_give_no_repeats(
    tmp_path: Path, store_url: str
):
    # 30 reminders at 8 in flight and a second each: about 4 s, more than the 3 s lease.
    notices = 30
    with Receiver(secret=WHSEC, default=Reply(200, delay=1.0)) as receiver:
        project = Project(tmp_path, store_url, receiver.url, lease=3)
        project.import_notices(notices)
        first = project.start("run-due")
        receiver.wait_for(1, timeout=60)
        second = project.start("run-due")
        time.sleep(3.5)  # past the first lease: only renewals keep it
        third = project.start("run-due")
        for process in (first, second, third):
            _, stderr = process.communicate(timeout=60)
            assert process.returncode == 0, stderr[-2000:]
        assert [r["status"] for r in _announced(project)] == ["sent"] * notices
        assert sorted(_ids(receiver).values()) == [1] * notices


@pytest.mark.postgres
def test_three_instances_on_postgresql_one_killed_again_and_again(
    tmp_path: Path, postgres_database: str
):
    kills, notices = 3, 240
    rng = random.Random(7)
    url = postgres_database
    with Receiver(secret=WHSEC, default=Reply(200, delay=0.03)) as receiver:
        project = Project(tmp_path, url, receiver.url, lease=3)
        project.import_notices(notices)
        steady = [project.start("run-due") for _ in range(2)]
        for _ in range(kills):
            victim = project.start("run-due", to_be_killed=True)
            time.sleep(rng.uniform(0.3, 1.0))
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
        for process in steady:
            _, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, stderr[-2000:]
        for _ in range(10):
            if all(r["status"] == "sent" for r in _announced(project)):
                break
            time.sleep(3.2)
            assert project.run("run-due").returncode == 0
        assert [r["status"] for r in _announced(project)] == ["sent"] * notices
        received = _ids(receiver)
    assert len(received) == notices
    repeats = sum(received.values()) - notices
    assert repeats <= kills * CONCURRENCY, f"{repeats} repeats after {kills} kills"
