"""What every channel kind that POSTs to a URL shares: one POST bounded as a whole by its
timeout, and how its answer is judged (the URL check is in :mod:`notifiers.checks`).

:func:`post` makes the request and turns whatever happens into an :class:`Outcome`: a
transport failure is ``retry``; an HTTP answer is judged by
:func:`notifiers.base.classify_http`, then, for a 2xx, by the kind's own ``judge`` of the
body, since chat bots (DingTalk, WeCom, Feishu) answer HTTP 200 with an error code inside.
Every reason is redacted with the secrets the caller names.

:func:`sending_client` builds the one ``httpx.AsyncClient`` that every sender shares: httpx's
API over aiohttp's connection pool (httpx-aiohttp), which keeps its pace as more requests
are in flight where httpx's own pool slows down (bench/README.md). A failure of aiohttp's is
raised as the httpx error that httpx's own transport raises for it, so :func:`post` reads
both the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import HttpxAiohttpClient

from notifiers.base import Outcome, Verdict, classify_http, one_line, origin, redact, utc_now

# Enough of an answer's body to judge it or say what the receiver objected to; a receiver
# that answers with megabytes is not read to the end.
BODY_EXCERPT_BYTES = 64 * 1024

# A kind's reading of a body answered with 2xx: an Outcome when the body says the message
# was refused (``{"errcode": 310000}``), None when the status stands.
Judge = Callable[[str], Outcome | None]


def sending_client() -> httpx.AsyncClient:
    """The HTTP client the notifiers send through, owned and closed by the caller.

    As ``httpx.AsyncClient()`` would be: the system's trusted CAs (certifi, or
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``), proxies from ``HTTPS_PROXY`` / ``HTTP_PROXY`` /
    ``NO_PROXY``, no redirect followed, up to 100 connections. Timeouts are per request.
    """
    return _SendingClient()


class _SendingClient(HttpxAiohttpClient):
    # httpx builds the transport of each route (direct, or one per proxy from the
    # environment) through these two; each is wrapped to speak httpx's errors.
    def _init_transport(self, *args: Any, **kwargs: Any) -> httpx.AsyncBaseTransport:
        return _HttpxErrors(super()._init_transport(*args, **kwargs))

    def _init_proxy_transport(self, *args: Any, **kwargs: Any) -> httpx.AsyncBaseTransport:
        return _HttpxErrors(super()._init_proxy_transport(*args, **kwargs))


class _HttpxErrors(httpx.AsyncBaseTransport):
    """A transport doing what httpx's own does where httpx-aiohttp does otherwise: a
    refused connection or a bad certificate is a ``ConnectError`` (not a timeout), a peer
    that hung up or an answer that is not HTTP a ``RemoteProtocolError`` (not an aiohttp
    error whose text holds the URL), and a URL's user and password go only as the
    ``Authorization`` header httpx made of them (aiohttp refuses both at once)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.userinfo:
            request.url = request.url.copy_with(userinfo=b"")
        try:
            response = await self._inner.handle_async_request(request)
        except Exception as exc:
            raise _as_httpx(exc, request) from exc
        response.stream = _Body(response.stream, request)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Body(httpx.AsyncByteStream):
    def __init__(self, inner: Any, request: httpx.Request) -> None:
        self._inner = inner
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except Exception as exc:
            raise _as_httpx(exc, self._request) from exc

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        except Exception as exc:
            raise _as_httpx(exc, self._request) from exc


def _as_httpx(exc: Exception, request: httpx.Request) -> Exception:
    """The httpx error for what aiohttp raised (httpx-aiohttp's own mapping put it in
    ``__cause__``); its text never holds the URL's path or query (aiohttp's own text is
    kept only where it names no more than the host)."""
    cause = exc.__cause__ if isinstance(exc, httpx.HTTPError) else exc
    if isinstance(exc, httpx.HTTPError) and not isinstance(cause, aiohttp.ClientError | OSError):
        return exc  # httpx's own
    error: type[httpx.TransportError]
    text = str(cause)
    if isinstance(cause, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
        error, text = httpx.ProxyError, _without_url(cause)
    elif isinstance(cause, aiohttp.ConnectionTimeoutError):
        # Its text is "Connection timeout to host <the URL>", written out again by yarl,
        # so that redacting the configured URL's parts would miss a %-encoded token.
        error, text = httpx.ConnectTimeout, "connection timed out"
    elif isinstance(cause, TimeoutError):  # aiohttp's ServerTimeoutError is one too
        error, text = httpx.ReadTimeout, "timed out reading the answer"
    elif isinstance(cause, aiohttp.ClientConnectorError):
        error = httpx.ConnectError  # refused, unresolved, TLS refused or not trusted
    elif isinstance(cause, aiohttp.ServerDisconnectedError):
        error, text = httpx.RemoteProtocolError, "Server disconnected"
    elif isinstance(cause, aiohttp.ClientResponseError):
        error, text = httpx.RemoteProtocolError, _without_url(cause)
    elif isinstance(cause, aiohttp.ClientPayloadError):
        error = httpx.ReadError
    elif isinstance(cause, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        error, text = httpx.UnsupportedProtocol, "the URL cannot be requested"
    elif isinstance(cause, aiohttp.ClientError | OSError):
        error, text = httpx.NetworkError, type(cause).__name__
    else:  # aiohttp refused the request: its text may quote the URL
        error, text = httpx.TransportError, type(cause).__name__
    return error(text, request=request)


def _without_url(exc: aiohttp.ClientError) -> str:
    # aiohttp's ClientResponseError prints the request's URL, which may hold a token; a
    # proxy's refusal says its status, a reply that is not HTTP what was wrong with it.
    message = " ".join(str(getattr(exc, "message", "") or type(exc).__name__).split())
    status = getattr(exc, "status", None)
    if isinstance(exc, aiohttp.ClientHttpProxyError) and status:
        return f"the proxy answered {status} {message}"
    return message


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    timeout: float,
    secrets: Iterable[str],
    now: Callable[[], datetime] = utc_now,
    judge: Judge | None = None,
) -> Outcome:
    """POST ``content`` to ``url`` once and say what came of it; never raises for a
    delivery failure. ``timeout`` bounds the whole attempt, answer included."""
    where = origin(url)
    hidden = list(secrets)
    request = client.build_request(
        "POST", url, content=content, headers=dict(headers), timeout=timeout
    )
    # httpx's own timeout bounds each read, and a receiver that trickles a byte a second
    # would keep the attempt (and a sender) for hours.
    deadline = asyncio.get_running_loop().time() + timeout
    late = f"{where} 在 {timeout:g} 秒内没有应答"
    try:
        async with asyncio.timeout_at(deadline):
            response = await client.send(request, stream=True)
    except httpx.TimeoutException as exc:
        return _transport_failure(late, exc, hidden)
    except TimeoutError:
        return Outcome(Verdict.retry, f"{late}（这段时间里没有收到完整的应答）")
    except httpx.ConnectError as exc:
        return _transport_failure(f"无法连接 {where}", exc, hidden)
    except httpx.HTTPError as exc:
        return _transport_failure(f"向 {where} 发送请求失败", exc, hidden)
    try:
        # The status has come: what the body had time to say is all the excerpt holds.
        excerpt = await _read_excerpt(response, deadline)
    finally:
        await response.aclose()
    outcome = classify_http(response.status_code, response.headers, now=now())
    if outcome.verdict is Verdict.delivered:
        judged = judge(excerpt) if judge is not None else None
        if judged is None:
            return outcome
        reason = redact(judged.reason, hidden)
        return Outcome(judged.verdict, reason, status_code=outcome.status_code)
    if not excerpt:
        return outcome
    said = one_line(redact(excerpt, hidden))
    return Outcome(
        outcome.verdict,
        f"{outcome.reason}；回复：{said}",
        status_code=outcome.status_code,
        retry_after=outcome.retry_after,
    )


def _transport_failure(what: str, exc: httpx.HTTPError, secrets: Iterable[str]) -> Outcome:
    # Every transport failure may pass: a receiver restarting, a network blip, a
    # certificate about to be fixed. httpx's messages rarely hold the URL, but a proxy
    # or TLS error may, so they are redacted like everything else.
    detail = one_line(redact(str(exc), secrets))
    detail = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return Outcome(Verdict.retry, f"{what}（{detail}）")


async def _read_excerpt(response: httpx.Response, deadline: float) -> str:
    """Up to ``BODY_EXCERPT_BYTES`` of the body as text, as much as arrives before
    ``deadline`` (event-loop time); the rest is left unread."""
    chunks: list[bytes] = []
    size = 0
    with contextlib.suppress(TimeoutError, httpx.HTTPError):
        async with asyncio.timeout_at(deadline):
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= BODY_EXCERPT_BYTES:
                    break
    return b"".join(chunks)[:BODY_EXCERPT_BYTES].decode("utf-8", errors="replace")
