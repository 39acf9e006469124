"""WeCom (企业微信) group robot: a markdown message, or a text one to @-mention people.

The robot's address carries its ``key``, which is its only credential. Markdown content is
at most 4,096 bytes and cannot mention anyone by mobile number, so a message with mentions
is sent as text (at most 2,048 bytes) with ``mentioned_mobile_list`` ("@all" for everyone).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr, field_validator

from notifiers.base import Message
from notifiers.chat import ChatChannel, ChatNotifier, Codes, Dialect
from notifiers.checks import config_problem
from notifiers.dingtalk import MOBILE
from notifiers.pacing import RateLimit


class WeComChannel(ChatChannel):
    """``kind = "wecom"``: post each reminder to a WeCom group robot."""

    kind: Literal["wecom"]
    mention_form = (MOBILE, "a mobile number")
    default_rate = (RateLimit(20, 60),)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: SecretStr) -> SecretStr:
        if not parse_qs(urlsplit(value.get_secret_value()).query).get("key"):
            raise config_problem(
                "a WeCom robot's url carries key=…: copy the whole Webhook address "
                "from the robot's settings"
            )
        return value


CODES = Codes(
    vendor="企业微信",
    code_fields=("errcode",),
    message_fields=("errmsg",),
    retry={45009: "调用太频繁，每个机器人每分钟最多 20 条", -1: "企业微信系统繁忙"},
    failed={
        93000: "机器人地址或 key 无效",
        40058: "消息内容超出长度限制",
        40008: "消息类型无效",
    },
    wait={45009: 60},
)

MARKDOWN_BYTES = 4096
TEXT_BYTES = 2048
# Text messages show markup as typed: links are written out.
PLAIN = Dialect(bold=str, link=lambda text, url: f"{text}：{url}")


class WeComNotifier(ChatNotifier):
    codes = CODES
    config: WeComChannel

    def dialect_for(self, mentions: Sequence[str]) -> Dialect:
        return PLAIN if mentions else self.dialect

    def mention_line(self, mentions: Sequence[str]) -> str:
        # The mentions themselves go in mentioned_mobile_list; WeCom shows them.
        return ""

    def fits(self, text: str, body: bytes) -> bool:
        # WeCom counts the bytes of the content, not of the request.
        limit = TEXT_BYTES if body.startswith(b'{"msgtype":"text"') else MARKDOWN_BYTES
        return len(text.encode("utf-8")) <= limit

    def body(self, message: Message, text: str, mentions: Sequence[str], now: datetime) -> Any:
        if not mentions:
            return {"msgtype": "markdown", "markdown": {"content": text}}
        return {
            "msgtype": "text",
            "text": {
                "content": text,
                "mentioned_mobile_list": ["@all" if m == "all" else m for m in mentions],
            },
        }
