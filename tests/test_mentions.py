"""A watch's ``mention``: the people it names are @-mentioned when its changes reach a chat
robot, besides the channel's own; entries no chat channel of the watch can use are config
problems that name the key."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from vendors import DingTalkRobot

from alerts.config import parse_settings
from alerts.errors import ConfigError
from alerts.reminders.engine import ReminderEngine
from alerts.timeline.ingest import add_change
from store.db import session_scope

TZ = ZoneInfo("Asia/Shanghai")
RULES = (("1688商家发货行为管理规范", "1688"), ("淘宝商品发布规范", "淘宝"))

pytestmark = pytest.mark.anyio


def config(watch_mention: str, url: str = "https://oapi.dingtalk.com/robot/send?access_token=t"):
    return (
        '[[watch]]\nname = "shipping"\nrules = ["1688商家发货行为管理规范"]\n'
        f'channels = ["ops", "hook"]\nmention = {watch_mention}\n\n'
        f'[[watch]]\nname = "others"\nplatforms = ["淘宝"]\nchannels = ["ops"]\n\n'
        f'[[channels]]\nname = "ops"\nkind = "dingtalk"\nurl = "{url}"\n'
        'mention = ["13800000000"]\n\n'
        '[[channels]]\nname = "hook"\nkind = "webhook"\nurl = "http://127.0.0.1:9/h"\n'
    )


async def test_the_watchs_people_are_mentioned_on_its_changes_only(tmp_path: Path, engine, http):
    with DingTalkRobot() as robot, time_machine.travel(datetime(2026, 11, 27, 10, tzinfo=TZ)):
        settings = parse_settings(
            config('["13900000000"]', robot.url), path=tmp_path / "c.toml", environ={}
        )
        service = ReminderEngine(settings, engine, http=http)
        await service.tick()
        with session_scope(engine) as session:
            for rule, platform in (
                ("1688商家发货行为管理规范", "1688"),
                ("淘宝商品发布规范", "淘宝"),
            ):
                add_change(
                    session,
                    rule=rule,
                    platform=platform,
                    announced_on=date(2026, 11, 27),
                    effective_on=date(2026, 12, 15),
                    title=f"《{rule}》变更",
                    now=datetime.now(TZ),
                    tz=TZ,
                )
        await service.tick()
    at = {m["markdown"]["title"]: m["at"]["atMobiles"] for m in robot.accepted}
    assert at == {
        "【新公示】 1688商家发货行为管理规范": ["13800000000", "13900000000"],
        "【新公示】 淘宝商品发布规范": ["13800000000"],
    }


@pytest.mark.parametrize(
    ("mention", "key", "said"),
    [
        ('["张三"]', "watch[0].mention[0]", 'neither "all" nor someone'),
        ('["all", "ou_7d8a"]', "watch[0].mention[1]", "mobile numbers for DingTalk"),
    ],
)
def test_a_mention_no_chat_channel_of_the_watch_can_use_is_a_problem(
    tmp_path: Path, mention: str, key: str, said: str
):
    path = tmp_path / "config.toml"
    path.write_text(config(mention), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        parse_settings(path.read_text(encoding="utf-8"), path=path, environ={})
    assert key in str(caught.value) and said in str(caught.value)


def test_a_watch_with_mentions_needs_a_chat_channel(tmp_path: Path):
    text = (
        '[[watch]]\nname = "w"\nplatforms = ["1688"]\nchannels = ["hook"]\nmention = ["all"]\n\n'
        '[[channels]]\nname = "hook"\nkind = "webhook"\nurl = "http://127.0.0.1:9/h"\n'
    )
    with pytest.raises(ConfigError, match=r"watch\[0\]\.mention: none of this watch's channels"):
        parse_settings(text, path=tmp_path / "c.toml", environ={})
