"""What every channel kind that POSTs to a URL shares: one POST bounded as a whole by its
timeout, and how its answer is judged (the URL check is in :mod:`notifiers.checks`).

:func:`post` makes the request and turns whatever happens into an :class:`Outcome`: a
transport failure is ``retry``; an HTTP answer is judged by
:func:`notifiers.base.classify_http`, then, for a 2xx, by the kind's own ``judge`` of the
body, since chat bots (DingTalk, WeCom, Feishu) answer HTTP 200 with an error code inside.
Every reason is redacted with the secrets the caller names.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

import httpx

from notifiers.base import Outcome, Verdict, classify_http, one_line, origin, redact, utc_now

# Enough of an answer's body to judge it or say what the receiver objected to; a receiver
# that answers with megabytes is not read to the end.
BODY_EXCERPT_BYTES = 64 * 1024

# A kind's reading of a body answered with 2xx: an Outcome when the body says the message
# was refused (``{"errcode": 310000}``), None when the status stands.
Judge = Callable[[str], Outcome | None]


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
