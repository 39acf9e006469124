"""Web sites on loopback for the source tests: a ``Site`` serves pages by path over a real
socket (uvicorn, via ``receiver.LoopbackServer``), answers conditional requests with 304,
and records what it was asked; the builders write the fixture pages it serves — RSS 2.0 and
Atom feeds, a GBK list page labelled gb2312 and its detail pages, a JSON list shaped like
the 抖店/快手/小红书 rule-centre lists, a watched rule page — from ``Notice`` values whose
texts are the ones below (written for these tests)::

    from sites import NOTICES, Site, article_page, list_page

    with Site() as site:                       # or the ``site`` fixture (tests/sources/conftest.py)
        site.put("/news/", list_page(NOTICES, link="/news/{slug}.html"),
                 content_type="text/html; charset=gb2312", encoding="gbk")
        for notice in NOTICES:
            site.put(f"/news/{notice.slug}.html", article_page(notice), encoding="gbk")
        config = HtmlListSourceConfig(name="n", url=site.url_for("/news/"), item="li")
        ...                                    # poll it
        assert site.paths() == ["/news/", "/news/a.html", ...]
        assert site.requests[-1].headers["if-none-match"] == site.etag("/news/")

A page is served with an ETag (from its bytes) and a Last-Modified, unless ``validators=False``;
a request whose If-None-Match or If-Modified-Since still holds is answered 304. A path not
put (its query included) is a 404; ``put(path, status=500)`` serves an error. ``put`` again
replaces a page (a page that changes between polls). ``clear()`` forgets the requests,
``reset()`` the pages too.

The fetcher's own tests (test_web.py) need a ruder site: ``put(..., delay=3)`` holds an
answer back and ``trickle=0.2`` sends its body a byte at a time, to run into timeouts;
``handle(path, answer)`` answers from a function of the request's headers, for 304s that
repeat no validators; and ``url_for(path, host="localhost")`` makes one site two hosts, each
request recording its ``host`` and its monotonic ``arrived`` time for the per-host interval.

``tests/sources`` is on ``sys.path`` when its tests run; elsewhere in ``tests/`` this module
is ``sources.sites``.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

from receiver import LoopbackServer, Received, Reply, read_body

__all__ = [
    "BEIJING",
    "GBK_ONLY",
    "NOTICES",
    "Answer",
    "Notice",
    "Request",
    "Site",
    "article_page",
    "atom_feed",
    "json_list",
    "list_page",
    "rss_feed",
    "rule_page",
]

BEIJING = timezone(timedelta(hours=8))
# A character GBK has and GB2312 lacks (in a shop's name): a page labelled gb2312 that holds
# it is read whole only when gb2312 is read as GB18030.
GBK_ONLY = "喆"


@dataclass(frozen=True)
class Notice:
    """One announcement as the fixture sites publish it."""

    slug: str  # its page's name and its id in the JSON list
    title: str
    text: str  # paragraphs, one a line
    published: datetime  # aware, Beijing time
    rule: str  # the rule key rulewatch stores for it
    effective: str  # its 生效 day, as the store shows it


NOTICES: tuple[Notice, ...] = (
    Notice(
        slug="title-rules",
        title="《抖店商品标题规范》调整公示",
        text=(
            "为规范商品信息展示，平台对《抖店商品标题规范》作出调整：标题中不得堆砌与商品无关的"
            "热门词汇，品牌词须与资质一致。\n"
            "本次调整于2026年11月2日公示，自2026年11月16日起生效。"
        ),
        published=datetime(2026, 11, 2, 10, 0, tzinfo=BEIJING),
        rule="抖音电商商品标题规范",
        effective="2026-11-16",
    ),
    Notice(
        slug="shipping-rules",
        title="《快手小店发货时效管理规则》更新公告",
        text=(
            f"平台将揽收时限由72小时缩短为48小时，{GBK_ONLY}{GBK_ONLY}旗舰店等商家反馈的"
            "预售商品问题已一并纳入考量。\n"
            "本规则于2026年11月5日公示，2026年11月20日起正式生效。"
        ),
        published=datetime(2026, 11, 5, 9, 30, tzinfo=BEIJING),
        rule="快手发货时效管理规则",
        effective="2026-11-20",
    ),
    Notice(
        slug="penalty-rules",
        title="《小红书店铺违规处理规则》修订说明",
        text=(
            "修订后的规则细化了虚假宣传、诱导好评两类违规的处罚档位，并新增申诉时限。\n"
            "2026年11月10日公示，2026年11月25日生效。"
        ),
        published=datetime(2026, 11, 10, 18, 0, tzinfo=BEIJING),
        rule="小红书店铺违规处理规则",
        effective="2026-11-25",
    ),
)


# --- the server -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Page:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    trickle: float = 0.0


# What ``handle`` answers with: a reply made from the request's headers (names lower-cased).
Answer = Callable[[dict[str, str]], Reply]

_NOT_FOUND = _Page(404, b"not found", {"content-type": "text/plain"})

# Every fixture page was last modified at this moment (validators need one).
LAST_MODIFIED = format_datetime(datetime(2026, 11, 30, 8, 0, tzinfo=UTC), usegmt=True)


@dataclass(frozen=True, kw_only=True)
class Request(Received):
    """One request as a ``Site`` saw it."""

    # The per-host interval is measured between arrivals; ``at`` follows time-machine.
    arrived: float  # time.monotonic()

    @property
    def host(self) -> str:
        """The Host header without its port: "127.0.0.1" or "localhost"."""
        return self.headers.get("host", "").rsplit(":", 1)[0]


class Site(LoopbackServer):
    """A web site of fixed pages on 127.0.0.1; use it as a context manager."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._pages: dict[str, _Page | Answer] = {}
        self._requests: list[Request] = []

    def put(
        self,
        path: str,
        body: str | bytes = b"",
        *,
        content_type: str | None = None,
        encoding: str = "utf-8",
        status: int = 200,
        validators: bool = True,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        trickle: float = 0.0,
    ) -> None:
        """Serve ``body`` (a str is encoded with ``encoding``) at ``path`` from now on, as
        ``content_type`` (default: HTML, its charset said only when it is UTF-8), ``delay``
        seconds late, and with ``trickle`` a byte every ``trickle`` seconds."""
        data = body.encode(encoding) if isinstance(body, str) else body
        if content_type is None:
            content_type = "text/html; charset=utf-8" if encoding == "utf-8" else "text/html"
        sent = {"content-type": content_type, **(headers or {})}
        if validators and status == 200:
            sent["etag"] = f'"{hashlib.sha256(data).hexdigest()[:16]}"'
            sent["last-modified"] = LAST_MODIFIED
        page = _Page(status=status, body=data, headers=sent, delay=delay, trickle=trickle)
        with self._lock:
            self._pages[path] = page

    def handle(self, path: str, answer: Answer) -> None:
        """Answer each request for ``path`` with what ``answer`` makes of its headers, as it
        is: the site adds no validators and no 304s of its own."""
        with self._lock:
            self._pages[path] = answer

    def etag(self, path: str) -> str | None:
        """The ETag the page at ``path`` is served with now."""
        with self._lock:
            page = self._pages.get(path)
        return page.headers.get("etag") if isinstance(page, _Page) else None

    def url_for(self, path: str, *, host: str = "127.0.0.1") -> str:
        """The site's URL with ``path``, as ``host`` (``"localhost"`` is the site too)."""
        return f"http://{host}:{self.port}{path}"

    @property
    def requests(self) -> list[Request]:
        """Every request so far, oldest first (robots.txt included)."""
        with self._lock:
            return list(self._requests)

    def paths(self) -> list[str]:
        """The paths asked for so far, in order, without robots.txt."""
        return [r.path for r in self.requests if r.path != "/robots.txt"]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._pages.clear()

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        arrived = time.monotonic()
        body = await read_body(receive)
        raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        asked = {k.lower(): v for k, v in raw}
        query = scope.get("query_string", b"").decode("latin-1")
        path = scope["path"] + (f"?{query}" if query else "")
        with self._lock:
            page = self._pages.get(path, _NOT_FOUND)
        if not isinstance(page, _Page):
            reply = page(asked)
            content = reply.body.encode("utf-8") if isinstance(reply.body, str) else reply.body
            page = _Page(reply.status, content, dict(reply.headers), delay=reply.delay)
        elif page.status == 200 and _still_valid(asked, page.headers):
            headers = {k: v for k, v in page.headers.items() if k != "content-type"}
            page = _Page(304, b"", headers, delay=page.delay)
        with self._lock:
            self._requests.append(
                Request(
                    method=scope["method"],
                    path=path,
                    headers=asked,
                    raw_headers=raw,
                    body=body,
                    at=datetime.now(UTC),
                    status=page.status,
                    arrived=arrived,
                )
            )
        await self._answer(page, send)

    async def _answer(self, page: _Page, send: Any) -> None:
        await self._wait(page.delay)
        await send(
            {
                "type": "http.response.start",
                "status": page.status,
                "headers": [
                    (k.encode("latin-1"), v.encode("latin-1")) for k, v in page.headers.items()
                ],
            }
        )
        if page.trickle:
            for i in range(len(page.body)):
                if not await self._wait(page.trickle):
                    break
                await send(
                    {"type": "http.response.body", "body": page.body[i : i + 1], "more_body": True}
                )
            await send({"type": "http.response.body", "body": b""})
        else:
            await send({"type": "http.response.body", "body": page.body})

    async def _wait(self, seconds: float) -> bool:
        """Sleep ``seconds``, cut short (False) when the site closes, so closing never waits
        for a held or trickled answer."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._closing.is_set():
                return False
            await asyncio.sleep(min(0.02, deadline - time.monotonic()))
        return not self._closing.is_set()


def _still_valid(asked: dict[str, str], headers: dict[str, str]) -> bool:
    etag = headers.get("etag")
    if etag and "if-none-match" in asked:
        return etag in [tag.strip() for tag in asked["if-none-match"].split(",")]
    return bool(headers.get("last-modified")) and asked.get("if-modified-since") == headers.get(
        "last-modified"
    )


# --- the pages --------------------------------------------------------------------------------


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{html.escape(line)}</p>" for line in text.splitlines())


def rss_feed(
    notices: Sequence[Notice],
    *,
    link: str = "/news/{slug}.html",
    encoding: str = "utf-8",
    summary: bool = True,
) -> str:
    """An RSS 2.0 feed of ``notices``: relative links, pubDate in RFC 822 with +0800, the
    text as an HTML description (or a teaser when ``summary`` is false)."""
    items = []
    for notice in notices:
        described = _paragraphs(notice.text) if summary else "<p>详情请见原文。</p>"
        items.append(
            "<item>"
            f"<title>{html.escape(notice.title)}</title>"
            f"<link>{link.format(slug=notice.slug)}</link>"
            f'<guid isPermaLink="false">notice-{notice.slug}</guid>'
            f"<pubDate>{format_datetime(notice.published)}</pubDate>"
            f"<description>{html.escape(described)}</description>"
            "</item>"
        )
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<rss version="2.0"><channel><title>电商规则快讯</title><link>/</link>'
        "<description>平台规则变更的公示与生效</description>"
        + "".join(items)
        + "</channel></rss>\n"
    )


def atom_feed(notices: Sequence[Notice], *, link: str = "/news/{slug}.html") -> str:
    """An Atom feed of ``notices``: ISO 8601 times with +08:00, the text as HTML content."""
    entries = "".join(
        "<entry>"
        f"<title>{html.escape(n.title)}</title>"
        f'<link rel="alternate" href="{link.format(slug=n.slug)}"/>'
        f"<id>urn:rulewatch-test:{n.slug}</id>"
        f"<published>{n.published.isoformat()}</published>"
        f"<updated>{n.published.isoformat()}</updated>"
        f'<content type="html">{html.escape(_paragraphs(n.text))}</content>'
        "</entry>"
        for n in notices
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>规则中心公告</title>'
        "<id>urn:rulewatch-test:feed</id><updated>2026-11-30T08:00:00+08:00</updated>"
        + entries
        + "</feed>\n"
    )


def list_page(
    notices: Sequence[Notice], *, link: str = "/news/{slug}.html", charset: str = "gb2312"
) -> str:
    """A news site's list page: a <ul class="news"> of items, each a link and a date, in a
    page of menus and ads; declared ``charset`` in its <meta>."""
    items = "".join(
        f'<li class="item"><a class="t" href="{link.format(slug=n.slug)}">{html.escape(n.title)}'
        f'</a><span class="date">{n.published:%Y-%m-%d %H:%M}</span></li>'
        for n in notices
    )
    return (
        f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>规则资讯</title></head>'
        '<body><div class="nav"><a href="/">首页</a><a href="/news/">资讯</a></div>'
        f'<div class="ad">限时特惠广告位</div><ul class="news">{items}</ul>'
        '<div class="pager"><a href="?page=2">下一页</a></div></body></html>'
    )


def article_page(
    notice: Notice, *, charset: str = "gb2312", chrome: str = "热门推荐：双十一大促攻略"
) -> str:
    """A notice's own page: navigation, the article (headline, a publish time in its
    metadata, paragraphs), a sidebar of ``chrome`` and a footer."""
    return (
        f'<!DOCTYPE html><html><head><meta charset="{charset}">'
        f"<title>{html.escape(notice.title)} - 规则资讯</title>"
        f'<meta property="article:published_time" content="{notice.published.isoformat()}">'
        '</head><body><div class="nav"><a href="/">首页</a> | <a href="/news/">资讯</a></div>'
        f'<div class="main"><article><h1>{html.escape(notice.title)}</h1>'
        f'<div class="content">{_paragraphs(notice.text)}</div></article></div>'
        f'<aside class="side">{html.escape(chrome)}</aside>'
        "<footer>版权所有 规则资讯 · 联系我们</footer></body></html>"
    )


def json_list(notices: Sequence[Notice], *, with_text: bool = True, with_url: bool = False) -> str:
    """The 抖店-like rule-centre list: ``{"code": 0, "data": {"list": [...]}}``, times as
    epoch milliseconds, ids and no links (unless ``with_url``), text as HTML."""
    rows = []
    for n in notices:
        row: dict[str, Any] = {
            "id": n.slug,
            "title": n.title,
            "publish_time": int(n.published.timestamp() * 1000),
        }
        if with_text:
            row["content"] = _paragraphs(n.text)
        if with_url:
            row["url"] = f"/rule/{n.slug}"
        rows.append(row)
    data = {"code": 0, "msg": "success", "data": {"total": len(rows), "list": rows}}
    return json.dumps(data, ensure_ascii=False)


def rule_page(text: str, *, title: str = "规则详情", banner: str = "今日访问 1024 次") -> str:
    """A rule's own page: the rule in <div class="rule">, a banner that changes on its own."""
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f'</head><body><div class="banner">{html.escape(banner)}</div>'
        f"<h1>{html.escape(title)}</h1>"
        f'<div class="rule">{_paragraphs(text)}</div>'
        "<footer>规则中心</footer></body></html>"
    )
