"""The README's examples, run as written.

The quick start runs line by line in a directory laid out as a fresh clone is (its own copy
of config.toml, the checkout's .venv, ../shared beside it), its `serve` line as a process
that the HTTP API block then talks to with curl. The config fragment passes check-config,
the error shown for a bad time zone is what check-config prints, the webhook body has the
documented fields, and both ways to verify a signature accept a real request.

Only what cannot run as written is filled in, each where it happens: the port (a free one
instead of 8080, which may be taken on a test machine), the API token that the example
config.toml leaves commented out, `<uid>` placeholders, and secrets shown as `whsec_…`.
Blocks of syntax rather than commands (`[--flags]`) are not run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
from receiver import Receiver

from notifiers.webhook import new_secret

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
TOKEN = "readme-token-0123456789"


@dataclass(frozen=True)
class Block:
    lang: str
    line: int  # of the opening fence
    text: str


def blocks(lang: str) -> list[Block]:
    """The README's fenced code blocks in ``lang``, in order."""
    found = re.finditer(r"^```(\w*)\n(.*?)^```$", README, re.MULTILINE | re.DOTALL)
    return [Block(m[1], README.count("\n", 0, m.start()) + 1, m[2]) for m in found if m[1] == lang]


def block_with(lang: str, words: str) -> Block:
    (block,) = [b for b in blocks(lang) if words in b.text]
    return block


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


@dataclass
class Clone:
    """A directory shaped like a fresh clone, with ``../shared`` beside it."""

    root: Path
    port: int

    def run(self, command: str, **env: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=180,
            env={**os.environ, "RULEWATCH_API_TOKEN": TOKEN, **env},
        )
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        return done

    def local(self, text: str) -> str:
        return text.replace("127.0.0.1:8080", f"127.0.0.1:{self.port}")


@pytest.fixture
def clone(tmp_path: Path, shared: Path) -> Clone:
    root = tmp_path / "main"
    root.mkdir()
    (tmp_path / "shared").symlink_to(shared)
    (root / ".venv").symlink_to(ROOT / ".venv")
    made = Clone(root, free_port())
    config = (ROOT / "config.toml").read_text(encoding="utf-8")
    token = '# token = "env:RULEWATCH_API_TOKEN"'
    assert token in config, "the example config.toml no longer offers the API token"
    (root / "config.toml").write_text(
        made.local(config).replace(token, token.removeprefix("# ")), encoding="utf-8"
    )
    return made


def commands(block: Block) -> list[str]:
    """The command lines of a shell block, comments dropped."""
    lines = (line.split("  #")[0].strip() for line in block.text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@pytest.fixture
def served(clone: Clone) -> Iterator[Clone]:
    """The quick start run line by line, its last line left serving."""
    quickstart = commands(block_with("sh", "rulewatch extract"))
    *first, serve = quickstart
    assert serve == ".venv/bin/rulewatch serve"
    said = {line: clone.run(line).stdout for line in first}
    extract, imported, added, upcoming, rules, due = said.values()
    read = [json.loads(line) for line in extract.splitlines()]
    assert read and all(n["changes"] for n in read)
    assert "notice(s) stored" in imported
    assert "added" in added and "淘宝商品发布规范" in added
    assert "淘宝商品发布规范" in upcoming and "2026-12-15" in upcoming
    assert "淘宝商品发布规范" in rules
    assert due.strip()
    process = subprocess.Popen(
        ["bash", "-c", serve],
        cwd=clone.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "RULEWATCH_API_TOKEN": TOKEN},
    )
    try:
        _wait_until_up(f"http://127.0.0.1:{clone.port}/healthz", process)
        yield clone
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output[-2000:]


def _wait_until_up(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "serve exited before it answered"
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    pytest.fail(f"nothing answered at {url} within 60 s")


def test_the_quick_start_serves_the_page_and_the_feed(served: Clone):
    # "then open http://127.0.0.1:8080/ and subscribe to http://127.0.0.1:8080/calendar.ics"
    (page_url, feed_url) = re.findall(
        r"http://\S+", served.local(block_with("sh", "rulewatch extract").text.splitlines()[-1])
    )
    page = httpx.get(page_url)
    assert page.status_code == 200 and "淘宝商品发布规范" in page.text
    feed = httpx.get(feed_url)
    assert feed.status_code == 200
    summaries = [str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(feed.text).walk("VEVENT")]
    # The feed holds what the example's watches cover: 1688's rules, not the 淘宝 change.
    assert any("1688商家发货行为管理规范" in s for s in summaries), summaries
    assert not any("淘宝" in s for s in summaries), summaries


def test_the_api_examples_answer_as_described(served: Clone, tmp_path: Path):
    with httpx.Client(base_url=f"http://127.0.0.1:{served.port}") as client:
        uid = client.get("/api/changes", params={"rule": "淘宝商品发布规范"}).json()[0]["uid"]
    script = served.local(block_with("sh", "$RW/api/notices").text).replace("<uid>", uid)
    answers = tmp_path / "answers"
    answers.mkdir()
    # Each curl of the block, verbatim, through a function that keeps its status and body.
    recorder = (
        f"n=0; curl() {{ n=$((n+1)); command curl -sS -o {answers}/$n.json "
        f"-w '%{{http_code}} %{{url_effective}}\\n' \"$@\" >> {answers}/status; }}\n"
    )
    served.run(recorder + script)
    statuses = (answers / "status").read_text(encoding="utf-8").splitlines()
    assert len(statuses) == script.count("curl "), statuses
    assert all(line.startswith(("200 ", "201 ", "204 ")) for line in statuses), statuses
    bodies = {line.split(" ", 1)[1]: answers / f"{n}.json" for n, line in enumerate(statuses, 1)}
    notice = json.loads(bodies[f"http://127.0.0.1:{served.port}/api/notices"].read_text())
    assert notice["stored"] is True and notice["changes"][0]["effective_on"] == "2026-12-15"


def test_the_reminders_config_fragment_is_valid(tmp_path: Path, clone: Clone):
    fragment = block_with("toml", "[[watch]]")
    (tmp_path / "config.toml").write_text(fragment.text, encoding="utf-8")
    done = clone.run(
        f".venv/bin/rulewatch --config {tmp_path / 'config.toml'} check-config",
        RULEWATCH_HOOK_SECRET=new_secret(),
        RULEWATCH_HOOK_AUTH="Bearer abc",
        RULEWATCH_SMTP_PASSWORD="pw",
    )
    assert "config OK: 1 watch(es), 2 channel(s)" in done.stdout, done.stdout


def test_the_sources_config_fragment_is_valid(tmp_path: Path, clone: Clone):
    fragment = block_with("toml", "[[sources]]")
    (tmp_path / "config.toml").write_text(fragment.text, encoding="utf-8")
    done = clone.run(f".venv/bin/rulewatch --config {tmp_path / 'config.toml'} check-config")
    assert "config OK: 0 watch(es), 1 channel(s), 4 source(s)" in done.stdout, done.stdout


def test_the_config_error_shown_is_what_check_config_prints(tmp_path: Path):
    shown = block_with("text", "config error").text
    (tmp_path / "config.toml").write_text(
        '[service]\ntimezone = "Mars/Olympus"\n', encoding="utf-8"
    )
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "rulewatch"), "check-config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert shown.strip() in done.stdout + done.stderr


def _without_comments(jsonc: str) -> Any:
    # A comment follows a space; the // of a URL follows its colon.
    return json.loads(re.sub(r"(?<=\s)//[^\n]*", "", jsonc).replace("…", ""))


def _keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_keys(value[0])] if value else []
    return None


@pytest.fixture
def delivered(clone: Clone) -> Iterator[tuple[str, Receiver]]:
    secret = new_secret()
    with Receiver(secret=secret) as receiver:
        config = clone.root / "config.toml"
        text = config.read_text(encoding="utf-8")
        config.write_text(
            text.replace("http://127.0.0.1:9000/rulewatch", receiver.url).replace(
                '# secret = "env:RULEWATCH_HOOK_SECRET"', 'secret = "env:RULEWATCH_HOOK_SECRET"'
            ),
            encoding="utf-8",
        )
        clone.run(
            ".venv/bin/rulewatch add --rule 1688商家发货行为管理规范 --platform 1688 "
            "--announced 2026-12-01 --effective 2099-12-15",
            RULEWATCH_HOOK_SECRET=secret,
        )
        clone.run(".venv/bin/rulewatch run-due", RULEWATCH_HOOK_SECRET=secret)
        receiver.wait_for(1)
        yield secret, receiver


def test_the_webhook_body_has_the_documented_fields(delivered: tuple[str, Receiver]):
    _, receiver = delivered
    documented = _keys(_without_comments(block_with("jsonc", "rule_change.announced").text))
    (sent,) = receiver.requests
    body = _keys(sent.json())
    # "changed" is there for kind "changed" only; this one is "announced".
    assert body == {k: v for k, v in documented.items() if k != "changed"}


def test_the_digest_body_has_the_documented_fields():
    from datetime import date

    from reminder_facts import facts

    from alerts.reminders.messages import render_digest

    documented = _without_comments(block_with("jsonc", "rule_change.digest").text)
    items = [facts(reminder_uid="r1"), facts(reminder_uid="r2", kind="announced")]
    digest = render_digest(items, today=date(2026, 12, 8), link="http://127.0.0.1:8080/").payload
    assert set(digest) == set(documented) and digest["count"] == len(digest["items"]) == 2
    assert digest["items"][0].keys() >= {"id", "type", "rule", "change", "link"}


def test_both_ways_to_verify_a_signature_accept_a_real_request(
    delivered: tuple[str, Receiver],
):
    secret, receiver = delivered
    (sent,) = receiver.requests
    library, by_hand = blocks("python")[:2]
    scope: dict[str, Any] = {"request_body_bytes": sent.body, "request_headers": sent.headers}
    exec(library.text.replace("whsec_…", secret), scope)  # raises if it does not verify
    for body, verified in ((sent.body, True), (sent.body + b" ", False)):
        scope = {"secret": secret, "headers": sent.headers, "body": body}
        exec(by_hand.text, scope)
        assert scope["ok"] is verified
