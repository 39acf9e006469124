"""A real HTTP receiver on loopback for tests that send webhooks.

``Receiver`` runs uvicorn serving a tiny ASGI app on 127.0.0.1 with a port the OS picks,
in a background thread, so that the code under test talks to it over a real socket. It
records every request and answers from a script::

    from receiver import Receiver, Reply

    with Receiver(secret=WHSEC) as rx:           # or the ``receiver`` fixture in
        rx.script(500, 500, Reply(429, {"Retry-After": "7"}))   # tests/notifiers/conftest.py
        ...                                      # POST to rx.url (or rx.url_for("/x?token=t"))
        got = rx.wait_for(4)                     # the first 4 requests, waiting up to 5 s
        assert got[-1].status == 200 and got[-1].verified

Replies are taken in order from the script, then ``default`` (200 with an empty body) for
every request after. ``Reply.delay`` holds the answer back (to exceed a client's timeout);
closing the receiver cuts every held answer short. With ``secret`` given, each request is
checked with the ``standardwebhooks`` package and ``Received.verified`` /
``Received.verify_error`` say how that went. A receiver that is down is ``refused_url()``
(or ``refused_port()``): a bound port nobody listens on. ``silent_port()`` accepts
connections and never answers, for servers that hang before their first byte.

``tests/`` is on ``sys.path`` (it has a conftest.py and no ``__init__.py``), so any test
imports this module as ``receiver``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = [
    "WHSEC",
    "LoopbackServer",
    "Received",
    "Receiver",
    "Reply",
    "refused_port",
    "refused_url",
    "silent_port",
    "trickling_port",
]

# 32 random bytes, base64: a signing secret of the kind `rulewatch channels new-secret`
# prints, for channels and receivers in tests.
WHSEC = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD1BFz5LQY/7k="


@dataclass(frozen=True)
class Reply:
    """One scripted answer: status, headers, body, and how long to hold it back."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | str = b""
    delay: float = 0.0  # seconds before answering


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it, and what it answered."""

    method: str
    path: str  # path and query as sent, e.g. "/hook?token=t"
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value
    raw_headers: list[tuple[str, str]]  # every header line, in order, as sent
    body: bytes
    at: datetime  # when it arrived (UTC; follows time-machine like the rest of the process)
    status: int  # the status answered
    verified: bool | None = None  # standardwebhooks verification; None without a secret
    verify_error: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


class LoopbackServer:
    """An ASGI app served by uvicorn on ``127.0.0.1:<port 0>`` in a background thread;
    use it as a context manager. Subclasses implement ``_app``."""

    def __init__(self) -> None:
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self.port = 0

    def start(self) -> Self:
        self._closing.clear()
        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=0,
            lifespan="off",
            interface="asgi3",
            log_level="warning",
            access_log=False,
            http="h11",
            ws="none",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the test server {type(self).__name__} did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def close(self) -> None:
        self._closing.set()  # held answers return now, so shutdown does not wait for them
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            if self._thread.is_alive():
                raise RuntimeError(f"the test server {type(self).__name__} did not stop")
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url_for(self, path: str) -> str:
        """The server's URL with ``path`` (and query), e.g. ``url_for("/h?token=t")``."""
        return f"http://127.0.0.1:{self.port}{path}"

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise NotImplementedError


async def read_body(receive: Any) -> bytes:
    """The whole body of an ASGI HTTP request."""
    body = b""
    while True:
        event = await receive()
        body += event.get("body", b"")
        if not event.get("more_body"):
            return body


class Receiver(LoopbackServer):
    """A scripted webhook receiver; use it as a context manager."""

    def __init__(self, *, secret: str | None = None, default: Reply | None = None) -> None:
        super().__init__()
        self.default = default or Reply()
        self._webhook = Webhook(secret) if secret else None
        self._script: list[Reply] = []
        self._requests: list[Received] = []
        self._changed = threading.Condition()

    # --- what tests use ----------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>/hook``: where to send."""
        return self.url_for("/hook")

    def script(self, *replies: Reply | int) -> None:
        """Answer the next requests with these, in order (an int is a bare status)."""
        with self._changed:
            self._script.extend(r if isinstance(r, Reply) else Reply(r) for r in replies)

    @property
    def requests(self) -> list[Received]:
        """Every request received so far, oldest first."""
        with self._changed:
            return list(self._requests)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """The first ``count`` requests, waiting up to ``timeout`` seconds for them.

        Raises AssertionError when fewer arrive in time.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._requests) >= count, timeout):
                raise AssertionError(
                    f"the receiver got {len(self._requests)} request(s), expected {count}"
                )
            return self._requests[:count]

    def clear(self) -> None:
        """Forget the requests received and the replies still scripted."""
        with self._changed:
            self._requests.clear()
            self._script.clear()

    # --- the ASGI app ------------------------------------------------------------------

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        raw_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        headers = {k.lower(): v for k, v in raw_headers}
        with self._changed:
            reply = self._script.pop(0) if self._script else self.default
        verified, error = self._verify(body, headers)
        query = scope.get("query_string", b"").decode("latin-1")
        record = Received(
            method=scope["method"],
            path=scope["path"] + (f"?{query}" if query else ""),
            headers=headers,
            raw_headers=raw_headers,
            body=body,
            at=datetime.now(UTC),
            status=reply.status,
            verified=verified,
            verify_error=error,
        )
        with self._changed:
            self._requests.append(record)
            self._changed.notify_all()
        await self._hold(reply.delay)
        content = reply.body.encode("utf-8") if isinstance(reply.body, str) else reply.body
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [
                    (k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers.items()
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})

    def _verify(self, body: bytes, headers: dict[str, str]) -> tuple[bool | None, str | None]:
        if self._webhook is None:
            return None, None
        try:
            self._webhook.verify(body, headers)
        except (WebhookVerificationError, ValueError) as exc:
            return False, str(exc) or type(exc).__name__
        return True, None

    async def _hold(self, delay: float) -> None:
        deadline = time.monotonic() + delay
        while not self._closing.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(min(0.02, max(0.0, deadline - time.monotonic())))


@contextmanager
def refused_port() -> Iterator[int]:
    """A port on 127.0.0.1 where connecting is refused, for as long as the block runs.

    The port is bound (so no other test can take it) but never listens.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@contextmanager
def refused_url(path: str = "/hook") -> Iterator[str]:
    """``http://127.0.0.1:<refused_port()><path>``: a receiver that is down."""
    with refused_port() as port:
        yield f"http://127.0.0.1:{port}{path}"


@contextmanager
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections and then never says a word.

    The kernel completes the handshake from the listen backlog; nothing reads or writes,
    so a client waiting for a greeting or an answer runs into its timeout.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


@contextmanager
def trickling_port(answer: bytes, *, every: float = 1.0, at_once: int = 0) -> Iterator[int]:
    """A port on 127.0.0.1 that reads each request, then writes ``answer`` (status line,
    headers and body): its first ``at_once`` bytes at once, then one byte every ``every``
    seconds, so a read never waits long and the answer takes ages. Closing it drops the
    connections."""
    stop = threading.Event()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65536)
                conn.sendall(answer[:at_once])
                for byte in answer[at_once:]:
                    if stop.wait(every):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, name="trickler", daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
