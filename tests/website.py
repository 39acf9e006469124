"""A small website on loopback for tests that fetch pages, as sources do.

``Website`` serves answers by path from a dict, on ``LoopbackServer`` (uvicorn on
127.0.0.1, port 0), and records every request with its arrival time on the server's own
monotonic clock::

    from receiver import Reply
    from website import Trickled, Website

    with Website({"/robots.txt": "User-agent: *\\nDisallow: /private/\\n",
                  "/a": Reply(200, {"Content-Type": "text/html"}, "<p>…</p>"),
                  "localhost/a": Reply(500),        # the same path asked as localhost
                  "/slow": Trickled(Reply(200, body="x" * 100), every=0.2),
                  "/conditional": lambda hit: Reply(304 if hit.headers.get("if-none-match")
                                                    else 200)}) as site:
        ...  # GET site.url_for("/a"), or site.url_for("/a", host="localhost")
        assert [hit.path for hit in site.hits] == ["/robots.txt", "/a"]

A route's key is a path, or a host and a path ("localhost/a", tried first), so one server
is two hosts for a client. A path without a route answers 404 (so robots.txt is absent
unless a test gives one). A str answer is a 200 text/plain page. Without Content-Length in
its headers a body goes out chunked.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from receiver import LoopbackServer, Reply, read_body


@dataclass(frozen=True)
class Trickled:
    """An answer whose headers go at once and whose body goes a byte every ``every`` s."""

    reply: Reply
    every: float


@dataclass(frozen=True)
class Hit:
    """One request as the website saw it."""

    method: str
    host: str  # the Host header without its port: "127.0.0.1" or "localhost"
    path: str  # path and query as sent
    headers: dict[str, str]  # names lower-cased
    at: float  # time.monotonic() when it arrived


Answer = Reply | Trickled | str | Callable[[Hit], Reply]


class Website(LoopbackServer):
    """Serves ``routes``; use it as a context manager."""

    def __init__(self, routes: Mapping[str, Answer]) -> None:
        super().__init__()
        self.routes = dict(routes)
        self._hits: list[Hit] = []
        self._lock = threading.Lock()

    @property
    def hits(self) -> list[Hit]:
        """Every request so far, oldest first."""
        with self._lock:
            return list(self._hits)

    def paths(self) -> list[str]:
        return [hit.path for hit in self.hits]

    def url_for(self, path: str, *, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await read_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = scope.get("query_string", b"").decode("latin-1")
        hit = Hit(
            method=scope["method"],
            host=headers.get("host", "").rsplit(":", 1)[0],
            path=scope["path"] + (f"?{query}" if query else ""),
            headers=headers,
            at=time.monotonic(),
        )
        with self._lock:
            self._hits.append(hit)
        answer = self.routes.get(hit.host + scope["path"], self.routes.get(scope["path"]))
        every = 0.0
        if isinstance(answer, Trickled):
            answer, every = answer.reply, answer.every
        if isinstance(answer, str):
            answer = Reply(200, {"Content-Type": "text/plain; charset=utf-8"}, answer)
        elif callable(answer):
            answer = answer(hit)
        reply = answer if isinstance(answer, Reply) else Reply(404)
        await self._answer(reply, every, send)

    async def _answer(self, reply: Reply, every: float, send: Any) -> None:
        await self._wait(reply.delay)
        body = reply.body.encode("utf-8") if isinstance(reply.body, str) else reply.body
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [
                    (k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers.items()
                ],
            }
        )
        pieces = [body[i : i + 1] for i in range(len(body))] if every else [body]
        for piece in pieces:
            if every and not await self._wait(every):
                break
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _wait(self, seconds: float) -> bool:
        """Sleep ``seconds``, cut short (False) when the website closes."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._closing.is_set():
                return False
            await asyncio.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
        return not self._closing.is_set()
