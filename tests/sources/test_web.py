"""``HttpWeb`` against real servers on loopback (tests/website.py, tests/receiver.py): the
manners it keeps (User-Agent, conditional GET, the whole-fetch timeout, the size cap on
decoded bytes, redirects), how it reads text, and that
every failure is a SourceError whose message shows no query or userinfo."""

from __future__ import annotations

import gzip
import time
import tracemalloc
from datetime import datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from receiver import Reply, refused_port
from website import Trickled, Website

from alerts import clock
from alerts.sources.base import Memo, SourceError
from alerts.sources.web import HOMEPAGE, HttpWeb, Manners

pytestmark = pytest.mark.anyio

CAP = 64 * 1024
# Small limits keep the suite quick.
QUICK = Manners(timeout=2.0, max_bytes=CAP, max_redirects=3)
HTML = "text/html"


def page(body: bytes | str, content_type: str = "text/html; charset=utf-8", **headers: str):
    return Reply(200, {"Content-Type": content_type, **headers}, body)


@pytest.fixture
def web(http: httpx.AsyncClient) -> HttpWeb:
    return HttpWeb(http, QUICK)


async def failure(web: HttpWeb, url: str, **kwargs) -> SourceError:
    with pytest.raises(SourceError) as caught:
        await web.get(url, **kwargs)
    return caught.value


# --- User-Agent and conditional GET ---------------------------------------------------


async def test_every_request_names_rulewatch_and_its_homepage(web):
    with Website({"/a": page("<p>hi</p>")}) as site:
        await web.get(site.url_for("/a"))
    assert [hit.path for hit in site.hits] == ["/a"]
    for hit in site.hits:
        assert hit.headers["user-agent"].startswith("rulewatch/")
        assert HOMEPAGE in hit.headers["user-agent"]


def conditional(hit):
    """304 when the client still holds version 1, by either validator; else version 1."""
    if hit.headers.get("if-none-match") == '"v1"' or hit.headers.get("if-modified-since") == (
        "Tue, 01 Dec 2026 00:00:00 GMT"
    ):
        return Reply(304)  # validators not repeated, as a 304 may do
    return page("v1", ETag='"v1"', **{"Last-Modified": "Tue, 01 Dec 2026 00:00:00 GMT"})


@pytest.mark.parametrize(
    "memo",
    [
        pytest.param(Memo(etag='"v1"'), id="if-none-match"),
        pytest.param(Memo(last_modified="Tue, 01 Dec 2026 00:00:00 GMT"), id="if-modified-since"),
    ],
)
async def test_a_conditional_request_answered_304_is_not_modified(web, memo):
    with Website({"/rules": conditional}) as site:
        first = await web.get(site.url_for("/rules"))
        again = await web.get(site.url_for("/rules"), memo=memo)
    assert first.status == 200 and first.text == "v1" and first.etag == '"v1"'
    assert again.not_modified and again.text == ""
    # The 304 said no validators; the ones asked with are kept for the next poll.
    assert again.memo() == memo


async def test_a_304_to_an_unconditional_request_is_an_error_not_nothing_new(web):
    with Website({"/rules": Reply(304)}) as site:
        error = await failure(web, site.url_for("/rules"))
        blank_memo = await failure(web, site.url_for("/rules"), memo=Memo())
    assert "304" in str(error) and "没有带条件" in str(error)
    assert "304" in str(blank_memo)


# --- HTTP errors --------------------------------------------------------------------------


async def test_a_server_error_is_a_source_error(web):
    with Website({"/list": Reply(500)}) as site:
        error = await failure(web, site.url_for("/list"))
    assert "HTTP 500" in str(error) and "/list" in str(error)
    assert error.retry_after is None


def in_two_minutes() -> datetime:
    return clock.now() + timedelta(seconds=120)


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        pytest.param(lambda: "7", 7, 7, id="seconds"),
        pytest.param(lambda: format_datetime(in_two_minutes(), usegmt=True), 110, 120, id="date"),
        # No zone: HTTP dates are GMT; this once crashed on naive - aware datetimes.
        pytest.param(
            lambda: in_two_minutes().strftime("%a, %d %b %Y %H:%M:%S"),
            110,
            120,
            id="date-without-zone",
        ),
    ],
)
async def test_429_says_when_to_try_again(web, value, low, high):
    # The value is written when the test runs: a date taken at collection would be stale.
    with Website({"/list": Reply(429, {"Retry-After": value()})}) as site:
        error = await failure(web, site.url_for("/list"))
    assert "HTTP 429" in str(error) and "请求太频繁" in str(error)
    assert error.retry_after is not None and low <= error.retry_after <= high


async def test_a_refused_connection_is_a_source_error(web):
    with refused_port() as port:
        error = await failure(web, f"http://127.0.0.1:{port}/list")
    assert "连接不上" in str(error)


# --- the whole-fetch timeout --------------------------------------------------------------


async def test_a_server_slow_to_its_first_byte_times_out(http):
    web = HttpWeb(http, Manners(timeout=0.5))
    with Website({"/list": Reply(200, body="late", delay=3)}) as site:
        started = time.monotonic()
        error = await failure(web, site.url_for("/list"))
        elapsed = time.monotonic() - started
    assert elapsed < 2
    assert "/list 在 0.5 秒内没有读完" in str(error)


async def test_a_body_trickled_a_byte_at_a_time_fails_at_the_deadline(http):
    web = HttpWeb(http, Manners(timeout=1))
    with Website({"/list": Trickled(page("x" * 100), every=0.2)}) as site:
        started = time.monotonic()
        error = await failure(web, site.url_for("/list"))
        elapsed = time.monotonic() - started
    # Each read waits 0.2 s only, so a per-read timeout never fires: the bound is the
    # fetch's as a whole (the body would take 20 s).
    assert 0.9 <= elapsed < 2
    assert "/list 在 1 秒内没有读完" in str(error)


# --- the size cap -------------------------------------------------------------------------


def gzipped_zeros(size: int, layers: int = 1) -> bytes:
    data = bytes(size)
    for _ in range(layers):
        data = gzip.compress(data)
    return data


async def test_a_page_over_the_cap_is_refused_by_its_content_length(web):
    with Website({"/huge": page("x" * (CAP + 1), **{"Content-Length": str(CAP + 1)})}) as site:
        error = await failure(web, site.url_for("/huge"))
    assert f"{CAP + 1:,} 字节" in str(error) and "超过上限" in str(error)


async def test_a_page_over_the_cap_without_content_length_is_cut_off(web):
    with Website({"/huge": page("x" * (CAP * 4))}) as site:
        error = await failure(web, site.url_for("/huge"))
    assert f"超过上限 {CAP:,} 字节" in str(error)


async def test_a_page_just_under_the_cap_is_read(web):
    with Website({"/big": page("x" * CAP)}) as site:
        got = await web.get(site.url_for("/big"))
    assert len(got.text) == CAP


@pytest.mark.parametrize(
    ("coding", "layers"),
    [pytest.param("gzip", 1, id="gzip"), pytest.param("gzip, gzip", 2, id="gzip-twice")],
)
async def test_gzip_that_inflates_past_the_cap_is_refused_without_inflating_it(web, coding, layers):
    bomb = gzipped_zeros(32 * 1024 * 1024, layers)  # 32 MiB of zeros in a few KiB
    assert len(bomb) < CAP
    with Website({"/bomb": page(bomb, **{"Content-Encoding": coding})}) as site:
        tracemalloc.start()
        try:
            error = await failure(web, site.url_for("/bomb"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # httpx's aiter_bytes would have inflated the whole network chunk: 32 MiB at once.
    assert peak < 8 * 1024 * 1024
    assert f"超过上限 {CAP:,} 字节" in str(error)


async def test_gzip_under_the_cap_is_read(web):
    with Website(
        {"/z": page(gzip.compress("《规则》".encode()), **{"Content-Encoding": "gzip"})}
    ) as site:
        got = await web.get(site.url_for("/z"))
    assert got.text == "《规则》"


async def test_a_content_encoding_it_did_not_ask_for_is_refused(web):
    with Website({"/br": page(b"\x8b\x01\x80hi\x03", **{"Content-Encoding": "br"})}) as site:
        error = await failure(web, site.url_for("/br"))
    assert "br" in str(error) and "Content-Encoding" in str(error)


async def test_malformed_html_is_served_as_the_text_it_is(web):
    broken = "<html><body><p>《淘宝网规则》<div>未闭合 <b>粗</i></table><p attr='x>"
    with Website({"/broken": page(broken)}) as site:
        got = await web.get(site.url_for("/broken"))
    assert got.text == broken and got.content_type == HTML


# --- redirects ------------------------------------------------------------------------------


def hops(count: int) -> dict[str, Reply]:
    """/r<count> → /r<count-1> → … → /r0, a page."""
    routes = {f"/r{n}": Reply(302, {"Location": f"/r{n - 1}"}) for n in range(1, count + 1)}
    return {**routes, "/r0": page("arrived")}


async def test_a_redirect_chain_at_the_limit_is_followed(web):
    with Website(hops(QUICK.max_redirects)) as site:
        got = await web.get(site.url_for(f"/r{QUICK.max_redirects}"))
    assert got.text == "arrived" and got.url == site.url_for("/r0")


async def test_a_redirect_chain_past_the_limit_is_an_error(web):
    with Website(hops(QUICK.max_redirects + 1)) as site:
        error = await failure(web, site.url_for(f"/r{QUICK.max_redirects + 1}"))
    assert "重定向超过 3 次" in str(error) and "/r4" in str(error)


async def test_a_redirect_loop_is_an_error(web):
    loop = {"/a": Reply(301, {"Location": "/b"}), "/b": Reply(301, {"Location": "/a"})}
    with Website(loop) as site:
        error = await failure(web, site.url_for("/a"))
    assert "重定向超过" in str(error)
    assert len(site.hits) == QUICK.max_redirects + 1


async def test_a_redirect_without_location_is_an_error(web):
    with Website({"/moved": Reply(302)}) as site:
        error = await failure(web, site.url_for("/moved"))
    assert "no Location" in str(error) and "302" in str(error)


# --- text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "expected"),
    [
        pytest.param(
            "朱镕基签署的规则".encode("gbk"),
            "text/html; charset=gb2312",
            None,
            "朱镕基签署的规则",
            id="gbk-labelled-gb2312",
        ),
        pytest.param(
            "王䶮公示".encode("gb18030"),
            "text/html; charset=GB2312",
            None,
            "王䶮公示",
            id="gb18030-labelled-gb2312",
        ),
        pytest.param(
            '<meta charset="gbk"><p>镕规则</p>'.encode("gbk"),
            HTML,
            None,
            '<meta charset="gbk"><p>镕规则</p>',
            id="meta-gbk",
        ),
        pytest.param(
            '<meta http-equiv="Content-Type" content="text/html; charset=gbk"><p>规则</p>'.encode(
                "gbk"
            ),
            "text/html; charset=utf-8",
            None,
            '<meta http-equiv="Content-Type" content="text/html; charset=gbk"><p>规则</p>',
            id="header-wrong-meta-right",
        ),
        pytest.param(
            "《淘宝规则》".encode(),
            "text/html; charset=ISO-8859-1",
            None,
            "《淘宝规则》",
            id="server-default-latin-1",
        ),
        pytest.param(
            "Règles du marché".encode("latin-1"),
            "text/html; charset=ISO-8859-1",
            None,
            "Règles du marché",
            id="latin-1-that-is-latin-1",
        ),
        pytest.param(
            # As GBK these bytes read whole too, as 锘挎窐瀹濈綉瑙勫垯.
            "\ufeff淘宝网规则".encode(),
            "text/html; charset=gbk",
            None,
            "淘宝网规则",
            id="bom-beats-label",
        ),
        pytest.param(
            "繁體中文規則".encode("big5"),
            "text/html; charset=gbk",
            "big5",
            "繁體中文規則",
            id="encoding-override",
        ),
        pytest.param(
            "《淘宝规则》".encode(),
            "text/html; charset=utf8mb4",
            None,
            "《淘宝规则》",
            id="label-python-does-not-know",
        ),
        pytest.param(
            "《淘宝规则》".encode(),
            "text/html; charset=base64",
            None,
            "《淘宝规则》",
            id="label-of-a-codec-that-is-not-text",
        ),
    ],
)
async def test_text_is_read_in_the_encoding_it_is_in(web, body, content_type, encoding, expected):
    with Website({"/p": page(body, content_type)}) as site:
        got = await web.get(site.url_for("/p"), encoding=encoding)
    assert got.text == expected


@pytest.mark.parametrize(
    "content_type", ["text/html", "text/html; charset=utf-8", "text/html; charset=gbk"]
)
async def test_bytes_no_encoding_reads_whole_are_an_error_not_replacement_characters(
    web, content_type
):
    with Website({"/p": page(b"\xff\xfe\x00\xd8 not text \x81", content_type)}) as site:
        error = await failure(web, site.url_for("/p"))
    assert "/p" in str(error) and "\ufffd" not in str(error)


# --- what messages show ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "route",
    [
        pytest.param(Reply(500), id="500"),
        pytest.param(Reply(200, body="late", delay=3), id="timeout"),
        pytest.param(page("x" * (CAP + 1)), id="too-large"),
        pytest.param(Reply(302, {"Location": "/loop?token=s3cret"}), id="redirect-loop"),
        pytest.param(page(b"\xff\xfe\x00\xd8 \x81", "text/plain"), id="unreadable"),
    ],
)
async def test_messages_show_no_query_and_no_userinfo(http, route):
    web = HttpWeb(http, Manners(timeout=0.5, max_bytes=CAP))
    with Website({"/loop": route}) as site:
        url = f"http://reader:pa55word@127.0.0.1:{site.port}/loop?token=s3cret"
        error = await failure(web, url)
    assert f"127.0.0.1:{site.port}/loop" in str(error)
    assert "s3cret" not in str(error) and "pa55word" not in str(error)
    assert "reader@" not in str(error)


async def test_a_url_httpx_cannot_request_is_a_source_error(web):
    error = await failure(web, "http://[::1/list")
    assert "网址" in str(error)
