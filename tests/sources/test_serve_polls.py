"""End to end, on real processes: a feed publishes a notice, two `rulewatch serve` instances
on one store poll it, the change is stored once, and the watched channel's receiver gets its
`announced` reminder once.
"""

from __future__ import annotations

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

pytestmark = pytest.mark.slow

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>规则公告</title><link>https://rules.example.com/</link>
<description>平台规则变更公告</description>
<item>
  <title>关于《淘宝网商品发布规范》变更的公示</title>
  <link>https://rules.example.com/notice/1001</link>
  <guid>https://rules.example.com/notice/1001</guid>
  <pubDate>Tue, 01 Dec 2026 10:00:00 +0800</pubDate>
  <description>&lt;p&gt;《淘宝网商品发布规范》本次变更于2026年12月1日公示，将于2027年1月10日起生效。&lt;/p&gt;</description>
</item>
</channel></rss>
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    yield request.getfixturevalue("postgres_database")


def config(tmp_path: Path, name: str, database: str, feed: str, hook: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f"""
[service]
database = "{database}"
listen = "127.0.0.1:{_free_port()}"

[polling]
per_host_seconds = 0

[[sources]]
name = "rules-feed"
kind = "rss"
url = "{feed}"
every = "1m"

[[watch]]
name = "taobao"
platforms = ["淘宝"]
channels = ["hook"]

[[channels]]
name = "hook"
kind = "webhook"
url = "{hook}"
secret = "{WHSEC}"
""",
        encoding="utf-8",
    )
    return path


def test_two_instances_store_a_published_notice_once_and_announce_it_once(
    tmp_path: Path, store_url: str
):
    site = Receiver(default=Reply(200, {"content-type": "application/rss+xml"}, FEED))
    with site, Receiver(secret=WHSEC) as hook:
        feed = site.url_for("/rules.xml")
        migrate = subprocess.run(
            [
                RULEWATCH,
                "--config",
                str(config(tmp_path, "a", store_url, feed, hook.url)),
                "db",
                "upgrade",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert migrate.returncode == 0, migrate.stderr
        instances = [
            subprocess.Popen(
                [
                    RULEWATCH,
                    "--config",
                    str(config(tmp_path, n, store_url, feed, hook.url)),
                    "serve",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=tmp_path,
            )
            for n in ("a", "b")
        ]
        try:
            (announced,) = hook.wait_for(1, timeout=60)
            # Both polled at their first minute's tick; one more reminder tick (every 15 s)
            # of each would send a repeat, if there were one to send.
            time.sleep(16)
        finally:
            for process in instances:
                process.send_signal(signal.SIGTERM)
            logs = [process.communicate(timeout=60)[0] for process in instances]
    assert [p.returncode for p in instances] == [0, 0], logs
    body = announced.json()
    assert body["type"] == "rule_change.announced", body
    assert body["change"]["effective_on"] == "2027-01-10"
    assert len(hook.requests) == 1, [r.json()["type"] for r in hook.requests]
    fetched = Counter(r.path for r in site.requests)
    assert fetched["/rules.xml"] == 1, fetched  # one round, one instance
    assert any("source rules-feed: 1 new item(s)" in log for log in logs), logs
