"""No secret in anything `rulewatch serve` writes: every kind is planted, used, and looked for.

A real `serve` on PostgreSQL (for a database password), a webhook receiver that refuses once
(so a failure is logged), an SMTP server asking for a password, and chat robots whose
addresses and signing secrets are secrets (one refuses the signature, so that is logged);
the feed is read at its secret address and with a token in the query, the API written to
with the right and a wrong bearer token. Then everything the process printed is searched
for each secret.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from mailserver import MailServer
from receiver import WHSEC, Receiver, Reply
from vendors import DingTalkRobot, FeishuBot

from alerts.server import redacted_path
from alerts.users import hash_password

RULEWATCH = str(Path(sys.executable).with_name("rulewatch"))

URL_PASSWORD = "UrlPw-s3kr1t"
PATH_TOKEN = "PathTok-s3kr1t"
QUERY_TOKEN = "QueryTok-s3kr1t"
HEADER_VALUE = "HeaderVal-s3kr1t"
SMTP_PASSWORD = "SmtpPw-s3kr1t"
API_TOKEN = "ApiTok-s3kr1t-0123456789"
FEED_TOKEN = "FeedTok-s3kr1t-0123456789"
DB_PASSWORD = "DbPw-s3kr1t"
WRONG_BEARER = "WrongBearer-s3kr1t"
DD_TOKEN = "DdTok-s3kr1t"
DD_SECRET = "SECDdSign-s3kr1t"
FS_TOKEN = "FsTok-s3kr1t"
FS_SECRET = "FsSign-s3kr1t"
SOURCE_PASSWORD = "SrcPw-s3kr1t"
SOURCE_KEY = "SrcKey-s3kr1t"
SOURCE_PATH_KEY = "SrcPathKey0s3kr1t0123456789abcdef"  # a private feed's token, as such are
USER_TOKEN = "UserTok-s3kr1t-0123456789"
SESSION_SECRET = "SessionSecret-s3kr1t-0123456789abcdef"
USER_PASSWORD = "UserPw-s3kr1t"
SECRETS = [
    USER_TOKEN,
    USER_PASSWORD,
    SESSION_SECRET,
    SOURCE_PATH_KEY,
    SOURCE_PASSWORD,
    SOURCE_KEY,
    DD_TOKEN,
    DD_SECRET,
    FS_TOKEN,
    FS_SECRET,
    URL_PASSWORD,
    PATH_TOKEN,
    QUERY_TOKEN,
    HEADER_VALUE,
    SMTP_PASSWORD,
    API_TOKEN,
    FEED_TOKEN,
    DB_PASSWORD,
    WRONG_BEARER,
    WHSEC,
    WHSEC.removeprefix("whsec_"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def database(postgres_database: str) -> str:
    # The machine's server trusts loopback, so the password is carried but not needed.
    return postgres_database.replace("://postgres@", f"://postgres:{DB_PASSWORD}@")


@pytest.mark.postgres
@pytest.mark.slow
def test_serve_writes_no_secret_anywhere(tmp_path: Path, database: str):
    with (
        Receiver(secret=WHSEC) as receiver,
        MailServer(security="none", users={"rw": SMTP_PASSWORD}) as mail,
        DingTalkRobot(token=DD_TOKEN, secret=DD_SECRET) as dingtalk,
        # It holds another secret, so it refuses rulewatch's signature: a failure is logged.
        FeishuBot(token=FS_TOKEN, secret="another-secret") as feishu,
        Receiver(default=Reply(500, body=f"no {SOURCE_KEY}")) as rule_centre,
    ):
        receiver.script(Reply(500, body=f"bad token {PATH_TOKEN} {QUERY_TOKEN}"))
        hook = receiver.url_for(f"/hook/{PATH_TOKEN}?token={QUERY_TOKEN}").replace(
            "http://", f"http://rw:{URL_PASSWORD}@"
        )
        port = _free_port()
        # A rule centre's list behind a password and two keys, that fails (its robots.txt
        # answers 500, which counts as "disallow all"), so that its failure is logged.
        source = rule_centre.url_for(f"/rules/{SOURCE_PATH_KEY}/list?key={SOURCE_KEY}").replace(
            "http://", f"http://rw:{SOURCE_PASSWORD}@"
        )
        config = tmp_path / "config.toml"
        config.write_text(
            f"""
[service]
database = "{database}"
listen = "127.0.0.1:{port}"
session_secret = "{SESSION_SECRET}"

[api]
token = "{API_TOKEN}"

[[users]]
name = "viewer"
role = "viewer"
token = "{USER_TOKEN}"
password_hash = "{hash_password(USER_PASSWORD)}"

[calendar]
token = "{FEED_TOKEN}"

[smtp]
host = "127.0.0.1"
port = {mail.port}
security = "none"
username = "rw"
password = "{SMTP_PASSWORD}"
from = "rulewatch@example.com"

[[watch]]
name = "taobao"
platforms = ["淘宝"]
channels = ["hook", "mail", "dd", "fs"]

[[channels]]
name = "hook"
kind = "webhook"
url = "{hook}"
secret = "{WHSEC}"
headers = {{ "X-Api-Key" = "{HEADER_VALUE}" }}

[[channels]]
name = "mail"
kind = "email"
to = ["ops@example.com"]

[[channels]]
name = "dd"
kind = "dingtalk"
url = "{dingtalk.url}"
secret = "{DD_SECRET}"

[[channels]]
name = "fs"
kind = "feishu"
url = "{feishu.url}"
secret = "{FS_SECRET}"

[[sources]]
name = "rule-centre"
kind = "json_list"
url = "{source}"
""",
            encoding="utf-8",
        )
        process = subprocess.Popen(
            [RULEWATCH, "--config", str(config), "serve"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            notice = {
                "title": "《淘宝网商品发布规范》变更公示",
                "text": "本次变更于2026年11月20日公示，2027年3月1日生效。",
                "published_at": "2026-11-20T10:00:00+08:00",
            }
            good = {"Authorization": f"Bearer {API_TOKEN}"}
            bad = {"Authorization": f"Bearer {WRONG_BEARER}"}
            assert httpx.post(f"{base}/api/notices", json=notice, headers=bad).status_code == 401
            assert httpx.post(f"{base}/api/notices", json=notice, headers=good).status_code == 201
            viewer = {"Authorization": f"Bearer {USER_TOKEN}"}  # a role too low for a write
            assert httpx.post(f"{base}/api/notices", json=notice, headers=viewer).status_code == 403
            with httpx.Client(base_url=base) as browser:  # signs in on the page, once wrongly
                csrf = re.findall(r'name="csrf" value="([^"]+)"', browser.get("/signin").text)[0]
                for password, status in ((USER_PASSWORD + "x", 401), (USER_PASSWORD, 303)):
                    form = {"name": "viewer", "password": password, "csrf": csrf}
                    assert browser.post("/signin", data=form).status_code == status
            assert httpx.get(f"{base}/calendar/{FEED_TOKEN}.ics").status_code == 200
            assert httpx.get(f"{base}/calendar.ics?token={FEED_TOKEN}").status_code == 200
            assert httpx.get(f"{base}/calendar/{WRONG_BEARER}.ics").status_code == 404
            # The tick after the notice: the webhook refused, then (its retry is 30 s away)
            # the mail went; one more tick is not waited for.
            receiver.wait_for(1, timeout=60)
            mail.wait_for(1, timeout=60)
            deadline = time.monotonic() + 60
            while not (dingtalk.accepted and feishu.answers) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert dingtalk.accepted and feishu.answers[0][1]["code"] == 19021
            deadline = time.monotonic() + 60  # the first poll of sources is at about 5 s
            while time.monotonic() < deadline:
                sources = httpx.get(f"{base}/healthz", timeout=5).json()["sources"]
                if sources["rule-centre"] != "waiting":
                    break
                time.sleep(0.2)
            assert sources["rule-centre"] == "failing", sources
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output[-3000:]
    assert "calendar/***.ics" in output and "token=***" in output  # the access log ran
    assert "source rule-centre: " in output  # and the source's failure was logged
    leaked = [secret for secret in SECRETS if secret in output]
    assert leaked == [], f"secrets in the serve log: {leaked}"


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/calendar/abc123.ics", "/calendar/***.ics"),
        ("/calendar/abc123.ics?platform=淘宝", "/calendar/***.ics?platform=淘宝"),
        ("/?token=abc&platform=x", "/?token=***&platform=x"),
        ("/calendar.ics?platform=x&token=abc", "/calendar.ics?platform=x&token=***"),
        ("/changes/abc123", "/changes/abc123"),
    ],
)
def test_request_lines_lose_their_tokens(path: str, shown: str):
    assert redacted_path(path) == shown
