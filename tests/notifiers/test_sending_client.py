"""notifiers.http.sending_client, the client every sender shares: over aiohttp's pool it
still does what httpx's own client does (the CAs of ``SSL_CERT_FILE``, proxies from the
environment), a failure is named as httpx names it, and its reason keeps the URL's token
out."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import httpx
import pytest
from mailserver import TestCA
from receiver import trickling_port

from notifiers.base import Outcome, Verdict
from notifiers.http import post, sending_client

pytestmark = pytest.mark.anyio
TOKEN = "s3cret-t0ken"
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


async def attempt(http: httpx.AsyncClient, url: str) -> Outcome:
    return await post(
        http,
        url,
        content=b"{}",
        headers={"content-type": "application/json"},
        timeout=5,
        secrets=[TOKEN],
    )


@pytest.mark.parametrize(
    "answer",
    [b"", b"SPEAK FRIEND AND ENTER\r\n\r\n"],
    ids=["hung-up-unanswered", "not-http"],
)
async def test_a_peer_that_does_not_answer_in_http_is_retried(http, answer):
    with trickling_port(answer, at_once=len(answer)) as port:
        outcome = await attempt(http, f"http://127.0.0.1:{port}/hook?token={TOKEN}")
    assert outcome.verdict is Verdict.retry
    assert "发送请求失败（RemoteProtocolError" in outcome.reason, outcome.reason
    assert TOKEN not in outcome.reason


async def test_a_certificate_from_the_ca_of_ssl_cert_file_is_trusted(
    ca: TestCA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=ca.server_context())
    url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    async with server:
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        async with sending_client() as http:
            untrusted = await attempt(http, url)
        cafile = tmp_path / "ca.pem"
        ca.ca.cert_pem.write_to_path(str(cafile))
        monkeypatch.setenv("SSL_CERT_FILE", str(cafile))
        async with sending_client() as http:
            trusted = await attempt(http, url)
    assert untrusted.verdict is Verdict.retry
    assert "无法连接" in untrusted.reason and "CERTIFICATE_VERIFY_FAILED" in untrusted.reason
    assert trusted.verdict is Verdict.delivered, trusted.reason


async def test_a_proxy_named_in_the_environment_carries_the_request(
    monkeypatch: pytest.MonkeyPatch,
):
    for name in ("http_proxy", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    # The "proxy" answers 200 to anything: a host that does not exist was reached through it.
    with trickling_port(OK, at_once=len(OK)) as port:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        async with sending_client() as http:
            outcome = await attempt(http, "http://hook.invalid/hook")
    assert outcome.verdict is Verdict.delivered, outcome.reason


async def test_a_user_and_password_in_the_url_are_sent_as_basic_auth(http, receiver):
    url = receiver.url_for(f"/hook?token={TOKEN}").replace("http://", "http://rw:pa55@")
    outcome = await attempt(http, url)
    assert outcome.verdict is Verdict.delivered, outcome.reason
    (got,) = receiver.wait_for(1)
    assert got.headers["authorization"] == "Basic " + base64.b64encode(b"rw:pa55").decode()
    assert got.path == f"/hook?token={TOKEN}"


def test_a_connect_timeout_is_named_without_the_url_aiohttp_writes_out_again():
    import aiohttp
    import yarl

    from notifiers.http import _as_httpx

    # aiohttp says "Connection timeout to host <URL>" with the URL as yarl writes it: a
    # %-encoded token comes out decoded, where redacting the configured URL would miss it.
    url = "https://hooks.example.com/T/ab%3Dc?token=ab%2Fcd"
    request = httpx.Request("POST", url)
    cause = aiohttp.ConnectionTimeoutError(f"Connection timeout to host {yarl.URL(url)}")
    error = _as_httpx(cause, request)
    assert isinstance(error, httpx.ConnectTimeout)
    assert "ab/cd" not in str(error) and "ab=c" not in str(error) and "hooks" not in str(error)
