"""Loopback servers that answer as the chat vendors' robots do, for tests of the chat kinds.

Each one checks what its vendor documents and answers the way the vendor does, on HTTP 200
with an error code in the body (Slack: a 4xx with the error as text):

- ``DingTalkRobot``: ``/robot/send?access_token=…``; with a secret (加签), ``timestamp`` (ms,
  within an hour) and ``sign`` = base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")),
  decoded from the query once; a keyword the text must hold; 20 messages a minute, then
  the robot is blocked for 10 minutes; about 20,000 bytes a message. Codes 310000 (sign,
  keyword, IP), 300001 (token), 130101 (rate), 460101 (too long).
- ``WeComRobot``: ``/cgi-bin/webhook/send?key=…``; markdown content at most 4,096 bytes, text
  2,048; 20 a minute. Codes 93000 (key), 40058 (too long), 45009 (rate).
- ``FeishuBot``: ``/open-apis/bot/v2/hook/<token>``; with a secret, ``timestamp`` (s, within
  an hour) and ``sign`` = base64(HMAC-SHA256(key="{timestamp}\\n{secret}", msg="")) in the
  body; a keyword; 5 a second and 100 a minute; 20 KB a request. Codes 19021 (sign), 19024
  (keyword), 11232 (rate), 9499 (bad request).
- ``SlackHook``: ``/services/T…/B…/…``; ``text`` or ``blocks`` needed (400 ``no_text``,
  ``invalid_payload``), section text at most 3,000 characters; one a second (429 with
  Retry-After).

Windows are counted on ``time.time()``, so a test that moves the clock with time-machine
moves them too. ``accepted`` holds the JSON of every message taken; ``answers`` every answer
given, as (status, body).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qs

from receiver import LoopbackServer, read_body

__all__ = ["ChatBot", "DingTalkRobot", "FeishuBot", "SlackHook", "WeComRobot"]


def _signature(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


class _Window:
    """At most ``count`` events in any ``seconds``: ``take()`` says whether one more fits."""

    def __init__(self, count: int, seconds: float) -> None:
        self.count, self.seconds = count, seconds
        self._times: deque[float] = deque()

    def take(self, now: float) -> bool:
        while self._times and self._times[0] <= now - self.seconds:
            self._times.popleft()
        if len(self._times) >= self.count:
            return False
        self._times.append(now)
        return True


class ChatBot(LoopbackServer):
    """What the four robots share: recording, and answering with a status and JSON."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.accepted: list[Any] = []  # the JSON of each message taken
        self.answers: list[tuple[int, Any]] = []
        self.paths: list[str] = []  # path and query of every request

    def texts(self) -> list[str]:
        """The text of each message taken, as a person in the group reads it."""
        raise NotImplementedError

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        path = scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        with self._lock:
            self.paths.append(path + (f"?{query}" if query else ""))
            status, answer = self.answer(path, parse_qs(query), body, time.time())
            self.answers.append((status, answer))
        raw = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        kind = b"text/plain" if isinstance(answer, bytes) else b"application/json"
        headers = [(b"content-type", kind)]
        if status == 429:
            headers.append((b"retry-after", b"1"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": raw})

    def answer(
        self, path: str, query: dict[str, list[str]], body: bytes, now: float
    ) -> tuple[int, Any]:
        raise NotImplementedError


class DingTalkRobot(ChatBot):
    def __init__(
        self,
        *,
        token: str = "dt-access-token-7f3e",
        secret: str | None = None,
        keyword: str | None = None,
        per_minute: int = 20,
    ) -> None:
        super().__init__()
        self.token, self.secret, self.keyword = token, secret, keyword
        self._window = _Window(per_minute, 60)
        self.blocked_until = 0.0

    @property
    def url(self) -> str:
        return self.url_for(f"/robot/send?access_token={self.token}")

    def texts(self) -> list[str]:
        return [m["markdown"]["text"] for m in self.accepted]

    def answer(
        self, path: str, query: dict[str, list[str]], body: bytes, now: float
    ) -> tuple[int, Any]:
        def error(code: int, message: str) -> tuple[int, Any]:
            return 200, {"errcode": code, "errmsg": message}

        if path != "/robot/send" or query.get("access_token") != [self.token]:
            return error(300001, "token is not exist")
        if self.secret is not None:
            stamp, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
            if not stamp.isdigit() or abs(now * 1000 - int(stamp)) > 3_600_000:
                return error(310000, "invalid timestamp")
            expected = _signature(self.secret.encode(), f"{stamp}\n{self.secret}".encode())
            if not hmac.compare_digest(sign, expected):
                return error(310000, "sign not match")
        if len(body) > 20_000:
            return error(460101, "message too long, exceed 20000 bytes")
        try:
            message = json.loads(body)
            text = message["markdown"]["text"] if message["msgtype"] == "markdown" else ""
        except (ValueError, KeyError, TypeError):
            return error(40035, "缺少参数 json")
        if self.keyword is not None and self.keyword not in text:
            return error(310000, "keywords not in content")
        if now < self.blocked_until:
            return error(130101, "send too fast, exceed 20 times per minute")
        if not self._window.take(now):
            self.blocked_until = now + 600  # DingTalk stops the robot for 10 minutes
            return error(130101, "send too fast, exceed 20 times per minute")
        self.accepted.append(message)
        return error(0, "ok")


class WeComRobot(ChatBot):
    def __init__(self, *, key: str = "wc-key-5d1c9a", per_minute: int = 20) -> None:
        super().__init__()
        self.key = key
        self._window = _Window(per_minute, 60)

    @property
    def url(self) -> str:
        return self.url_for(f"/cgi-bin/webhook/send?key={self.key}")

    def texts(self) -> list[str]:
        return [m[m["msgtype"]]["content"] for m in self.accepted]

    def answer(
        self, path: str, query: dict[str, list[str]], body: bytes, now: float
    ) -> tuple[int, Any]:
        def error(code: int, message: str) -> tuple[int, Any]:
            return 200, {"errcode": code, "errmsg": message}

        if path != "/cgi-bin/webhook/send" or query.get("key") != [self.key]:
            return error(93000, "invalid webhook url")
        try:
            message = json.loads(body)
            kind = message["msgtype"]
            content = message[kind]["content"]
        except (ValueError, KeyError, TypeError):
            return error(40008, "invalid message type")
        limit = {"markdown": 4096, "text": 2048}.get(kind)
        if limit is None:
            return error(40008, "invalid message type")
        if len(content.encode()) > limit:
            return error(40058, f"content exceed max length {limit}")
        if not self._window.take(now):
            return error(45009, "api freq out of limit")
        self.accepted.append(message)
        return error(0, "ok")


class FeishuBot(ChatBot):
    def __init__(
        self,
        *,
        token: str = "fs-hook-token-0b7d",
        secret: str | None = None,
        keyword: str | None = None,
        per_second: int = 5,
        per_minute: int = 100,
    ) -> None:
        super().__init__()
        self.token, self.secret, self.keyword = token, secret, keyword
        self._second, self._minute = _Window(per_second, 1), _Window(per_minute, 60)

    @property
    def url(self) -> str:
        return self.url_for(f"/open-apis/bot/v2/hook/{self.token}")

    def texts(self) -> list[str]:
        return [
            "\n".join(e["text"]["content"] for e in m["card"]["elements"] if e["tag"] == "div")
            for m in self.accepted
        ]

    def answer(
        self, path: str, query: dict[str, list[str]], body: bytes, now: float
    ) -> tuple[int, Any]:
        def error(code: int, message: str) -> tuple[int, Any]:
            return 200, {"code": code, "msg": message, "data": {}}

        if path != f"/open-apis/bot/v2/hook/{self.token}":
            return error(19001, "param invalid: incoming webhook access token invalid")
        if len(body) > 20 * 1024:
            return error(9499, "Bad Request")
        try:
            message = json.loads(body)
            card_text = json.dumps(message["card"], ensure_ascii=False)
        except (ValueError, KeyError, TypeError):
            return error(9499, "Bad Request")
        if self.secret is not None:
            stamp, sign = str(message.get("timestamp", "")), str(message.get("sign", ""))
            fresh = stamp.isdigit() and abs(now - int(stamp)) <= 3600
            expected = _signature(f"{stamp}\n{self.secret}".encode(), b"")
            if not fresh or not hmac.compare_digest(sign, expected):
                return error(
                    19021,
                    "sign match fail or timestamp is not within one hour from current time",
                )
        if self.keyword is not None and self.keyword not in card_text:
            return error(19024, "Key Words Not Found")
        if not self._second.take(now) or not self._minute.take(now):
            return error(11232, "frequency limited psm[lark.oapi.app_platform_runtime]")
        self.accepted.append(message)
        return 200, {"StatusCode": 0, "StatusMessage": "success", "code": 0, "msg": "success"}


class SlackHook(ChatBot):
    def __init__(self, *, path: str = "/services/T0RW/B0RW/sl4ck-s3cret", per_second: int = 1):
        super().__init__()
        self.path = path
        self._window = _Window(per_second, 1)

    @property
    def url(self) -> str:
        return self.url_for(self.path)

    def texts(self) -> list[str]:
        return [
            "\n".join(b["text"]["text"] for b in m.get("blocks", []) if b["type"] == "section")
            or m["text"]
            for m in self.accepted
        ]

    def answer(
        self, path: str, query: dict[str, list[str]], body: bytes, now: float
    ) -> tuple[int, Any]:
        if path != self.path:
            return 404, b"no_service"
        try:
            message = json.loads(body)
        except ValueError:
            return 400, b"invalid_payload"
        if not isinstance(message, dict) or not (message.get("text") or message.get("blocks")):
            return 400, b"no_text"
        for block in message.get("blocks", []):
            if len(block.get("text", {}).get("text", "")) > 3000:
                return 400, b"invalid_blocks"
        if not self._window.take(now):
            return 429, b"rate_limited"
        self.accepted.append(message)
        return 200, b"ok"
