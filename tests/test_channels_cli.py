"""`rulewatch channels test NAME` for every channel kind, against loopback receivers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from receiver import WHSEC, Receiver
from typer.testing import CliRunner
from vendors import DingTalkRobot, FeishuBot, SlackHook, WeComRobot

from alerts.cli import app
from notifiers import CHANNELS

runner = CliRunner()
DD_SECRET = "SEC7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d"
FS_SECRET = "fs-cli-s3cret"


@pytest.fixture
def config(tmp_path: Path) -> Iterator[tuple[Path, dict[str, object]]]:
    with ExitStack() as stack:
        hook = stack.enter_context(Receiver(secret=WHSEC))
        dd = stack.enter_context(DingTalkRobot(secret=DD_SECRET, keyword="规则提醒"))
        wc = stack.enter_context(WeComRobot())
        fs = stack.enter_context(FeishuBot(secret=FS_SECRET))
        lk = stack.enter_context(FeishuBot())
        sl = stack.enter_context(SlackHook())
        servers: dict[str, object] = {
            "webhook": hook, "dingtalk": dd, "wecom": wc, "feishu": fs, "lark": lk, "slack": sl
        }  # fmt: skip
        text = (
            f'[[channels]]\nname = "webhook"\nkind = "webhook"\nurl = "{hook.url}"\n'
            f'secret = "{WHSEC}"\n\n'
            f'[[channels]]\nname = "dingtalk"\nkind = "dingtalk"\nurl = "{dd.url}"\n'
            f'secret = "{DD_SECRET}"\n\n'
            f'[[channels]]\nname = "dingtalk-wrong"\nkind = "dingtalk"\nurl = "{dd.url}"\n'
            'secret = "SEC-not-the-robots"\n\n'
            f'[[channels]]\nname = "wecom"\nkind = "wecom"\nurl = "{wc.url}"\n\n'
            f'[[channels]]\nname = "feishu"\nkind = "feishu"\nurl = "{fs.url}"\n'
            f'secret = "{FS_SECRET}"\n\n'
            f'[[channels]]\nname = "lark"\nkind = "lark"\nurl = "{lk.url}"\n\n'
            f'[[channels]]\nname = "slack"\nkind = "slack"\nurl = "{sl.url}"\n'
        )
        path = tmp_path / "config.toml"
        path.write_text(text, encoding="utf-8")
        yield path, servers


@pytest.mark.parametrize("kind", sorted(set(CHANNELS) - {"email"}))
def test_a_test_message_reaches_every_kind(config, kind: str):
    path, servers = config
    result = runner.invoke(app, ["--config", str(path), "channels", "test", kind])
    assert result.exit_code == 0, result.output
    assert f"{kind}: delivered" in result.output
    server = servers[kind]
    received = server.requests if isinstance(server, Receiver) else server.accepted  # type: ignore[attr-defined]
    assert len(received) == 1


def test_a_refused_test_says_why_and_fails(config):
    path, _ = config
    result = runner.invoke(app, ["--config", str(path), "channels", "test", "dingtalk-wrong"])
    assert result.exit_code == 1
    assert "dingtalk-wrong: failed — 钉钉拒收（310000" in result.output
    assert "SEC-not-the-robots" not in result.output and "access_token" not in result.output
