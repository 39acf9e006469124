"""Feishu (飞书) and Lark custom bots: an interactive card to a group.

The bot's address ends in its token (``/open-apis/bot/v2/hook/<token>``). With the
signature option the bot has a secret, and each body carries ``timestamp`` (seconds) and
``sign`` = base64(HMAC-SHA256(key="{timestamp}\\n{secret}", msg="")); Feishu refuses a
timestamp more than an hour off. Lark is the same bot on larksuite.com (``kind = "lark"``).
Mentions are user ids (``ou_…``) or "all", written ``<at id=…></at>`` in the card's text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import SecretStr, field_validator

from notifiers.base import Message
from notifiers.chat import (
    MARKDOWN,
    Card,
    ChatChannel,
    ChatNotifier,
    Codes,
    SigningSecret,
    hmac_base64,
)
from notifiers.checks import config_problem
from notifiers.pacing import RateLimit


class FeishuChannel(ChatChannel):
    """``kind = "feishu"`` (or ``"lark"``): post each reminder to a custom bot as a card."""

    kind: Literal["feishu", "lark"]
    mention_form = (r"o[nu]_[A-Za-z0-9]{1,64}", "a user's open id (ou_…)")
    default_rate = (RateLimit(5, 1), RateLimit(100, 60))
    secret: SigningSecret | None = None  # the signature secret (签名校验)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: SecretStr) -> SecretStr:
        path = urlsplit(value.get_secret_value()).path
        if "/hook/" not in path or path.endswith("/hook/"):
            raise config_problem(
                "a Feishu/Lark bot's url ends in /open-apis/bot/v2/hook/<token>: copy the "
                "whole webhook address from the bot's settings"
            )
        return value


CODES = Codes(
    vendor="飞书",
    # Older bots answer {"StatusCode": 0, "StatusMessage": "success"}.
    code_fields=("code", "StatusCode"),
    message_fields=("msg", "StatusMessage"),
    retry={11232: "发送太频繁（每分钟 100 条、每秒 5 条）"},
    failed={
        19021: "签名校验失败：密钥不对，或时间戳与飞书相差超过一小时",
        19022: "请求 IP 不在机器人的白名单内",
        19024: "消息不含机器人设置的关键词",
        9499: "请求格式有误",
        19001: "机器人地址无效（token 不对）",
    },
    wait={11232: 60},
)

# The header's colour says how near the change is.
_COLOURS = {"announced": "blue", "changed": "purple", "test": "grey"}


class FeishuNotifier(ChatNotifier):
    codes = CODES
    dialect = dataclasses.replace(MARKDOWN, titled=True)  # the card's header shows the subject
    max_body_bytes = 20_000  # Feishu takes at most 20 KB a request
    config: FeishuChannel

    def mention_line(self, mentions: Sequence[str]) -> str:
        return " ".join(f"<at id={m}></at>" for m in mentions)

    def body(self, message: Message, text: str, mentions: Sequence[str], now: datetime) -> Any:
        card = Card.of(message)
        colour = _COLOURS.get(card.kind)
        if colour is None:
            near = card.days_left is not None and card.days_left <= 1
            colour = "red" if near else "orange"
        body: dict[str, Any] = {
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": True},
                "header": {
                    "title": {"tag": "plain_text", "content": message.subject},
                    "template": colour,
                },
                "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": text}}],
            },
        }
        if self.config.secret is not None:
            timestamp = str(int(now.timestamp()))
            secret = self.config.secret.get_secret_value()
            body["timestamp"] = timestamp
            body["sign"] = hmac_base64(f"{timestamp}\n{secret}".encode(), b"")
        return body
