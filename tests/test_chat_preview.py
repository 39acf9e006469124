"""What each chat robot's message looks like, drawn in Chromium from what the robots took:
the picture in docs/channels.md (``RULEWATCH_UPDATE_SCREENSHOT=1 .venv/bin/pytest
tests/test_chat_preview.py`` writes docs/chat-preview.png). Fails when Chinese does not
render."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import assert_chinese_renders, chromium_browser
from chat_preview import bubble, page
from reminder_facts import STORED, facts
from vendors import ChatBot, DingTalkRobot, FeishuBot, SlackHook, WeComRobot

from alerts.reminders.messages import render, render_digest
from notifiers import CHANNELS, build_notifier
from notifiers.base import Message
from store.queries import SourceRow

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (
    SourceRow("1688商家发货行为管理规范变更公示", "https://rule.1688.com/notice/1", None, STORED),
    SourceRow("电商报：1688调整发货时效", "https://news.example.com/2", None, STORED),
)


def lead() -> Message:
    return render(
        facts(sources=SOURCES, summary="揽收时效由48小时调整为24小时；超时将按规则扣分。"),
        today=date(2026, 12, 8),
        bodies=False,
    )


def digest() -> Message:
    items = [
        facts(reminder_uid="r1", sources=SOURCES),
        facts(
            reminder_uid="r2",
            kind="changed",
            lead_days=None,
            rule_name="淘宝网商品发布规范",
            platform="淘宝",
            context={"from": "2026-12-15", "to": "2026-12-31"},
            effective_on=date(2026, 12, 31),
        ),
        facts(
            reminder_uid="r3",
            kind="announced",
            rule_name="抖店商家保证金管理规范",
            platform="抖音电商",
        ),
    ]
    return render_digest(items, today=date(2026, 12, 8), link="https://rw.example.com/")


def sent(kind: str, bot: ChatBot, message: Message, **keys: Any) -> Any:
    config = CHANNELS[kind].model.model_validate(
        {"name": kind, "kind": kind, "url": bot.url, **keys}
    )

    async def go() -> None:
        async with httpx.AsyncClient() as http:
            outcome = await build_notifier(config, http=http, smtp=None).send(message)  # type: ignore[arg-type]
            assert outcome.verdict.value == "delivered", outcome.reason

    asyncio.run(go())
    return bot.accepted[-1]


@pytest.fixture
def messages() -> Iterator[list[tuple[str, Any]]]:
    with (
        DingTalkRobot() as dd,
        WeComRobot() as wc,
        FeishuBot() as fs,
        SlackHook(per_second=9) as sl,
    ):
        yield [
            ("dingtalk", sent("dingtalk", dd, lead(), mention=["13800000000"])),
            ("wecom", sent("wecom", wc, lead())),
            ("feishu", sent("feishu", fs, lead(), mention=["all"])),
            ("slack", sent("slack", sl, lead(), mention=["U024BE7LH"])),
            ("dingtalk", sent("dingtalk", dd, digest())),
            ("feishu", sent("feishu", fs, digest())),
        ]


def test_what_each_robot_shows(messages, tmp_path: Path):
    html = page([bubble(kind, message) for kind, message in messages], "rulewatch 群消息预览")
    (tmp_path / "preview.html").write_text(html, encoding="utf-8")
    with chromium_browser() as browser:
        tab = browser.new_page(viewport={"width": 1100, "height": 900})
        tab.goto((tmp_path / "preview.html").as_uri())
        assert_chinese_renders(tab)
        bubbles = tab.locator("section.bubble")
        assert bubbles.count() == 6
        for index in range(4):
            text = bubbles.nth(index).inner_text()
            assert "1688商家发货行为管理规范" in text and "距生效还有 7 天" in text
        assert "【规则提醒汇总】3 条提醒" in bubbles.nth(4).inner_text()
        assert bubbles.nth(2).inner_text().count("【7天后生效】") == 1  # the card's header only
        assert "生效日期改为 2026-12-31（原 2026-12-15）" in bubbles.nth(5).inner_text()
        tab.screenshot(path=tmp_path / "chat-preview.png", full_page=True)
    picture = tmp_path / "chat-preview.png"
    assert picture.stat().st_size > 10_000
    if os.environ.get("RULEWATCH_UPDATE_SCREENSHOT"):
        assert picture.stat().st_size < 400_000
        shutil.copyfile(picture, ROOT / "docs" / "chat-preview.png")
