"""DingTalk (钉钉) custom robot: a markdown message to a group.

The robot's address carries its ``access_token``. With the 加签 security option the robot
also has a secret (``SEC…``), and each request adds ``timestamp`` (milliseconds) and
``sign`` = base64(HMAC-SHA256(key=secret, msg="{timestamp}\\n{secret}")) to the query string,
URL-encoded once; DingTalk refuses a timestamp more than an hour off. Mentions are mobile
numbers (``at.atMobiles``, and ``@138…`` in the text, where DingTalk shows them) or "all"
(``at.isAtAll``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr, field_validator

from notifiers.base import Message
from notifiers.chat import (
    MARKDOWN,
    ChatChannel,
    ChatNotifier,
    Codes,
    SigningSecret,
    hmac_base64,
)
from notifiers.checks import config_problem
from notifiers.pacing import RateLimit

MOBILE = r"\+?[0-9][0-9-]{4,19}"


class DingTalkChannel(ChatChannel):
    """``kind = "dingtalk"``: post each reminder to a DingTalk group's custom robot."""

    kind: Literal["dingtalk"]
    mention_form = (MOBILE, "a mobile number")
    default_rate = (RateLimit(20, 60),)
    secret: SigningSecret | None = None  # the 加签 secret, "SEC…"

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: SecretStr) -> SecretStr:
        if not parse_qs(urlsplit(value.get_secret_value()).query).get("access_token"):
            raise config_problem(
                "a DingTalk robot's url carries access_token=…: copy the whole Webhook "
                "address from the robot's settings"
            )
        return value


CODES = Codes(
    vendor="钉钉",
    code_fields=("errcode",),
    message_fields=("errmsg",),
    retry={130101: "发送太快，每个机器人每分钟最多 20 条"},
    failed={
        310000: "安全设置不符：关键词、加签或 IP 白名单",
        300001: "access_token 无效",
        460101: "消息太长",
        40035: "请求缺少参数或格式有误",
    },
    wait={130101: 600},
)


class DingTalkNotifier(ChatNotifier):
    codes = CODES
    # DingTalk's markdown joins lines that end in a bare line break.
    dialect = dataclasses.replace(MARKDOWN, line_break="  \n")
    max_body_bytes = 20_000

    config: DingTalkChannel

    def address(self, now: datetime) -> str:
        import httpx

        if self.config.secret is None:
            return self.config.address()
        timestamp = str(int(now.timestamp() * 1000))
        secret = self.config.secret.get_secret_value()
        sign = hmac_base64(secret.encode(), f"{timestamp}\n{secret}".encode())
        # httpx percent-encodes the parameters once, which is what DingTalk checks.
        url = httpx.URL(self.config.address()).copy_merge_params(
            {"timestamp": timestamp, "sign": sign}
        )
        return str(url)

    def mention_line(self, mentions: Sequence[str]) -> str:
        return " ".join("@所有人" if m == "all" else f"@{m}" for m in mentions)

    def body(self, message: Message, text: str, mentions: Sequence[str], now: datetime) -> Any:
        return {
            "msgtype": "markdown",
            "markdown": {"title": message.subject, "text": text},
            "at": {
                "atMobiles": [m for m in mentions if m != "all"],
                "isAtAll": "all" in mentions,
            },
        }
