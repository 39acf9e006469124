"""How rulewatch fetches a page of someone else's site: one GET, with manners kept.

A rule centre or a news site owes rulewatch nothing, so every request names rulewatch in its
User-Agent, asks conditionally (ETag / Last-Modified kept by the caller's ``Memo``), follows
a few redirects and no more, reads no more than a size cap, and is bounded as a whole by a
timeout: a server that trickles its answer a byte a second cannot hold a poll for hours.
Before each hop it asks the host's robots.txt (RFC 9309, read with protego and kept for an
hour), and it knocks on one host at most once per ``per_host_interval`` seconds, or per the
host's Crawl-delay when that is longer. Text is decoded as the page declares (GB2312 and GBK
read as GB18030, which holds both, since a gb2312 label often hides GBK), else as it reads
whole; a character is never replaced.

Every failure is a ``SourceError`` naming the URL without its userinfo or query (which may
hold a key).

A source added through the API is fetched through ``restricted()``: whoever holds an API
token may point rulewatch at a URL, but not at this machine or its network (a metadata
service, an admin port), so no request goes to a loopback, private or link-local address,
whatever name or redirect leads there.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import socket
import zlib
from dataclasses import dataclass, field
from http import HTTPStatus
from importlib import metadata
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego

from alerts import clock
from alerts.sources.base import Memo, Page, SourceError, where
from alerts.sources.charsets import charset_param, text_of
from notifiers.base import parse_retry_after

HOMEPAGE = "https://github.com/rulewatch/rulewatch"  # as [project.urls] in pyproject.toml

ROBOTS_TTL = 3600.0  # seconds a host's robots.txt is believed before it is read again
# A robots.txt that could not be read (5xx, unreachable) forbids the host only "for now":
# asked again after this long, so a host that was down is not shunned for the whole hour.
ROBOTS_RETRY = 60.0
# RFC 9309 §2.5: a crawler must read at least the first 500 KiB; the rest may be ignored.
ROBOTS_MAX_BYTES = 500 * 1024


def _version() -> str:
    try:
        return metadata.version("rulewatch")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "0"


USER_AGENT = f"rulewatch/{_version()} (+{HOMEPAGE})"


@dataclass(frozen=True)
class Manners:
    """The limits every fetch keeps; ``[polling]`` in config.toml sets them."""

    user_agent: str = USER_AGENT
    timeout: float = 30.0  # seconds for the whole fetch, robots.txt, redirects and body
    max_bytes: int = 5 * 1024 * 1024  # of the decoded body, not of what the wire carried
    max_redirects: int = 5
    per_host_interval: float = 1.0  # seconds between two requests to one host, at least


@dataclass
class _Trip:
    """One ``get`` under way: when its time runs out, and what it is fetching now, so that
    a timeout names the robots.txt or redirect hop that was slow."""

    at: str
    deadline: float


@dataclass(frozen=True)
class _Robots:
    """What one origin's robots.txt says, and until when rulewatch believes it."""

    rules: Protego | None  # None: it could not be read, so the host is disallowed for now
    until: float  # on the event loop's clock
    why: str = ""  # why it could not be read
    # The host could not be reached at all ("连接不上（ConnectError）"): that, not robots.txt,
    # is what a fetch from it is told.
    unreached: str | None = None


@dataclass
class _Host:
    """The turn of one host: requests to it start at least an interval apart."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last: float | None = None  # when the last request started, on the event loop's clock


class HttpWeb:
    """The web as sources see it (``alerts.sources.base.Web``), over one httpx client that
    the caller owns and closes. One instance is shared by every source of a service, since
    robots.txt and the per-host interval are kept in it."""

    def __init__(self, client: httpx.AsyncClient, manners: Manners = Manners()) -> None:
        self.client = client
        self.manners = manners
        # robots.txt groups name a product token ("rulewatch"), not the whole header.
        self._product = (manners.user_agent.split("/")[0].split() or ["rulewatch"])[0].lower()
        self._robots: dict[str, _Robots] = {}
        self._robots_reads: dict[str, asyncio.Lock] = {}
        self._hosts: dict[str, _Host] = {}
        self.public_only = False

    def restricted(self) -> HttpWeb:
        """This web, with its manners and what it keeps (robots.txt, the hosts' turns), for
        sources added through the API: it sends nothing to a non-public address."""
        web = copy.copy(self)
        web.public_only = True
        return web

    async def get(self, url: str, *, memo: Memo | None = None, encoding: str | None = None) -> Page:
        timeout = self.manners.timeout
        trip = _Trip(at=url, deadline=asyncio.get_running_loop().time() + timeout)
        try:
            async with asyncio.timeout_at(trip.deadline):
                return await self._follow(trip, memo, encoding)
        except TimeoutError:
            raise SourceError(
                f"{where(trip.at)} 在 {timeout:g} 秒内没有读完（timed out）"
            ) from None

    async def _follow(self, trip: _Trip, memo: Memo | None, encoding: str | None) -> Page:
        conditions = _conditions(memo)
        headers = {**self._headers(), **conditions}
        url = start = trip.at
        for _hop in range(self.manners.max_redirects + 1):
            _check_scheme(url)
            if self.public_only:
                await _check_public(url)
            await self._allowed(trip, url)
            await self._take_turn(trip, url)
            response = await self._send(url, headers)
            try:
                location = _location(url, response)
                if location is None:
                    return await self._page(url, response, encoding, memo if conditions else None)
                url = location
            finally:
                await response.aclose()
        raise SourceError(
            f"{where(start)} 重定向超过 {self.manners.max_redirects} 次（too many redirects），"
            f"最后一次指向 {where(url)}",
            lasting=True,
        )

    def _headers(self) -> dict[str, str]:
        # gzip only: its decoding is bounded here (see _Inflater); br and zstd are not asked.
        return {"User-Agent": self.manners.user_agent, "Accept-Encoding": "gzip"}

    async def _send(self, url: str, headers: dict[str, str]) -> httpx.Response:
        # The caller looked the host up (_follow for a page's hops, _read_robots for
        # robots.txt's); here the address connected to is checked.
        # "from None": httpx's exceptions carry the request, whose URL may hold a key.
        try:
            request = self.client.build_request("GET", url, headers=headers)
            response = await self.client.send(request, stream=True, follow_redirects=False)
        except httpx.InvalidURL:
            raise SourceError(
                f"{where(url)} 不是能请求的网址（invalid URL）", lasting=True
            ) from None
        except httpx.HTTPError as exc:
            raise _Unreached(f"{where(url)} {_failure(exc)}", failure=_failure(exc)) from None
        if self.public_only:
            # The name was looked up before the request, and httpx looked it up again: a
            # name that answered a public address first may have led elsewhere since.
            stream = response.extensions.get("network_stream")
            peer = stream.get_extra_info("server_addr") if stream is not None else None
            # A client that does not say where it connected (not httpx's own transport)
            # cannot show the address is public: refused, never let through unchecked.
            why = private_address(str(peer[0])) if peer else "连接的地址无从得知"
            if why is not None:
                await response.aclose()
                raise _refused_private(url, why)
        return response

    async def _page(
        self, url: str, response: httpx.Response, encoding: str | None, asked: Memo | None
    ) -> Page:
        status = response.status_code
        etag = response.headers.get("etag")
        last_modified = response.headers.get("last-modified")
        if status == 304:
            if asked is None:
                raise SourceError(
                    f"{where(url)} 返回 HTTP 304（未修改），但这次请求没有带条件"
                    "（304 to an unconditional request）"
                )
            # A 304 need not repeat the validators; the ones asked with still hold.
            return Page(
                url=url,
                status=304,
                etag=etag or asked.etag,
                last_modified=last_modified or asked.last_modified,
            )
        if status >= 400:
            wait = None
            if status in (429, 503):  # the statuses whose Retry-After means "try again"
                wait = parse_retry_after(response.headers, clock.now())
            # Gone, or never there: asking again will not help. A 401/403 is often a firewall
            # or an anti-bot page for a while, so it is tried again like a 5xx.
            lasting = status in (400, 404, 410, 451)
            raise SourceError(_http_error(url, status, wait), retry_after=wait, lasting=lasting)
        if not 200 <= status < 300:
            raise SourceError(
                f"{where(url)} 返回 {_status(status)}，不是一个页面（not a page）", lasting=True
            )
        body = await self._body(url, response, self.manners.max_bytes)
        media, _, params = response.headers.get("content-type", "").partition(";")
        text = text_of(body, charset_param(params), where=where(url), override=encoding)
        return Page(
            url=url,
            status=status,
            text=text,
            content_type=media.strip().lower(),
            etag=etag,
            last_modified=last_modified,
        )

    async def _body(
        self, url: str, response: httpx.Response, cap: int, *, cut: bool = False
    ) -> bytes:
        """The decoded body, at most ``cap`` bytes: SourceError past it, or with ``cut``
        its first ``cap`` bytes."""
        declared = response.headers.get("content-length", "")
        if not cut and declared.isdigit() and int(declared) > cap:
            raise SourceError(
                f"{where(url)} 有 {int(declared):,} 字节，超过上限 {cap:,}（too large）",
                lasting=True,
            )
        inflater = _Inflater(response.headers.get("content-encoding", ""), where(url))
        chunks: list[bytes] = []
        size = 0
        try:
            # aiter_raw, not aiter_bytes: httpx inflates each network chunk whole, and a
            # few KiB of gzip can unfold into gigabytes before a cap is looked at.
            async for raw in response.aiter_raw():
                chunk = inflater.feed(raw, cap - size)
                if inflater.over or len(chunk) > cap - size:
                    if cut:
                        chunks.append(chunk[: cap - size])
                        break
                    raise SourceError(
                        f"{where(url)} 超过上限 {cap:,} 字节（too large）", lasting=True
                    )
                size += len(chunk)
                chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise SourceError(f"{where(url)} 读取中断（{_failure(exc)}）") from None
        return b"".join(chunks)

    # --- robots.txt ----------------------------------------------------------------------

    async def _allowed(self, trip: _Trip, url: str) -> None:
        origin = _origin(url)
        robots = await self._robots_of(trip, origin)
        if robots.rules is None and robots.unreached is not None:
            raise SourceError(f"{where(url)} {robots.unreached}")
        if robots.rules is None:
            raise SourceError(
                f"{where(url)} 暂不抓取：{robots.why}；robots.txt 读不到时按 RFC 9309 整站"
                "当作禁止（robots.txt could not be read）"
            )
        if not robots.rules.can_fetch(url, self._product):
            raise SourceError(
                f"{where(url)} 被 {origin}/robots.txt 禁止抓取"
                f"（robots.txt disallows it for user agent {self._product}）",
                lasting=True,
            )

    async def _robots_of(self, trip: _Trip, origin: str) -> _Robots:
        # One read per origin at a time: concurrent fetches of one host wait for it.
        async with self._robots_reads.setdefault(origin, asyncio.Lock()):
            loop = asyncio.get_running_loop()
            known = self._robots.get(origin)
            if known is None or known.until <= loop.time():
                known = await self._read_robots(trip, origin)
                self._robots[origin] = known
            return known

    async def _read_robots(self, trip: _Trip, origin: str) -> _Robots:
        loop = asyncio.get_running_loop()
        url = f"{origin}/robots.txt"
        for _hop in range(self.manners.max_redirects + 1):
            await self._take_turn(trip, url)
            try:
                _check_scheme(url)
                if self.public_only:
                    await _check_public(url)
                response = await self._send(url, self._headers())
            except _Unreached as exc:
                return _Robots(None, loop.time() + ROBOTS_RETRY, str(exc), exc.failure)
            except SourceError as exc:
                return _Robots(None, loop.time() + ROBOTS_RETRY, why=str(exc))
            try:
                status = response.status_code
                location = _location(url, response)
                if location is not None:
                    url = location
                    continue
                if 200 <= status < 300:
                    body = await self._body(url, response, ROBOTS_MAX_BYTES, cut=True)
                    rules = Protego.parse(body.decode("utf-8", errors="replace"))
                    return _Robots(rules, loop.time() + ROBOTS_TTL)
                # 4xx is "unavailable": anything may be fetched (RFC 9309 §2.3.1.3). A 429
                # asks to slow down, so it is taken with the server errors, as Google does.
                if 400 <= status < 500 and status != 429:
                    return _Robots(Protego.parse(""), loop.time() + ROBOTS_TTL)
                why = f"{where(url)} 返回 {_status(status)}"
                return _Robots(None, loop.time() + ROBOTS_RETRY, why=why)
            except SourceError as exc:
                return _Robots(None, loop.time() + ROBOTS_RETRY, why=str(exc))
            finally:
                await response.aclose()
        # §2.3.1.2: past the redirect limit robots.txt may be taken as unavailable.
        return _Robots(Protego.parse(""), loop.time() + ROBOTS_TTL)

    # --- the per-host interval ---------------------------------------------------------

    async def _take_turn(self, trip: _Trip, url: str) -> None:
        """Wait until a request to ``url``'s host may start; SourceError when that is past
        the fetch's deadline, with ``retry_after`` saying when it could."""
        trip.at = url
        name = (urlsplit(url).hostname or "").lower()
        host = self._hosts.setdefault(name, _Host())
        loop = asyncio.get_running_loop()
        async with host.lock:
            interval = max(self.manners.per_host_interval, self._crawl_delay(url))
            if host.last is not None:
                wait = host.last + interval - loop.time()
                if loop.time() + wait > trip.deadline:
                    raise SourceError(
                        f"{where(url)} 要等 {wait:.1f} 秒才轮到：对 {name} 每 {interval:g} 秒只发"
                        f"一个请求（per-host interval / Crawl-delay）",
                        retry_after=wait,
                    )
                if wait > 0:
                    await asyncio.sleep(wait)
            host.last = loop.time()

    def _crawl_delay(self, url: str) -> float:
        robots = self._robots.get(_origin(url))
        delay = robots.rules.crawl_delay(self._product) if robots and robots.rules else None
        return delay or 0.0


class _Unreached(SourceError):
    """The host did not answer (refused, timed out, reset): ``failure`` says how."""

    def __init__(self, message: str, *, failure: str) -> None:
        super().__init__(message)
        self.failure = failure


class _Inflater:
    """Undoes a Content-Encoding of gzip or deflate (or several, in turn) with the output of
    each step bounded by the room left under the cap, so memory stays near the cap
    whatever the compressed answer unfolds into."""

    def __init__(self, header: str, shown: str) -> None:
        codings = [c.strip().lower() for c in header.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        for coding in codings:
            if coding not in ("gzip", "x-gzip", "deflate"):
                raise SourceError(
                    f"{shown} 用了 rulewatch 解不了的内容编码 {coding}（Content-Encoding）",
                    lasting=True,
                )
        self.shown = shown
        self.over = False  # a step's output reached the room it was given
        # Listed in the order they were applied, so undone from the last. wbits 47 reads a
        # zlib or a gzip header: "deflate" is zlib data (RFC 9110 §8.4.1.2).
        self._steps = [zlib.decompressobj(31 if c != "deflate" else 47) for c in reversed(codings)]

    def feed(self, data: bytes, room: int) -> bytes:
        """What ``data`` decodes to, at most ``room`` + 1 bytes; more than ``room``, or
        ``over`` set, means the body is over the cap."""
        try:
            for step in self._steps:
                data = step.decompress(data, room + 1)
                # Input left over means the output stopped at the bound: a step between
                # two others that unfolds past the room is taken as over the cap too.
                self.over = self.over or bool(step.unconsumed_tail)
        except zlib.error:
            raise SourceError(f"{self.shown} 的压缩内容解不开（bad gzip/deflate data）") from None
        return data


def _conditions(memo: Memo | None) -> dict[str, str]:
    conditions = {}
    if memo is not None and memo.etag:
        conditions["If-None-Match"] = memo.etag
    if memo is not None and memo.last_modified:
        conditions["If-Modified-Since"] = memo.last_modified
    return conditions


_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _location(url: str, response: httpx.Response) -> str | None:
    """Where a redirect points, absolute; None for an answer that is not a redirect."""
    if response.status_code not in _REDIRECTS:
        return None
    location: str = response.headers.get("location", "").strip()
    if not location:
        raise SourceError(
            f"{where(url)} 返回 {_status(response.status_code)} 重定向，却没有说去哪里"
            "（no Location）",
            lasting=True,
        )
    return urljoin(url, location)


def _origin(url: str) -> str:
    """scheme://host:port, what one robots.txt speaks for (RFC 9309 §2.3)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = _port(url)
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def _port(url: str) -> int | None:
    try:
        return urlsplit(url).port
    except ValueError:  # "host:abc"; httpx refuses the URL with its own message
        return None


def private_address(host: str) -> str | None:
    """Why ``host`` (an IP address or a name) is this machine's or a private network's
    ("127.0.0.1 是本机或内网地址"), or None for a name to resolve and a public address."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return f"{name} 是本机"
    address = _address(name)
    if address is None:
        return None
    # An IPv6 address may carry an IPv4 one that is where it leads: ::ffff:127.0.0.1,
    # 6to4 (2002::/16), NAT64 (64:ff9b::/96), the old ::a.b.c.d.
    carried = [address]
    if isinstance(address, ipaddress.IPv6Address):
        low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.ipv4_mapped is not None or int(address) >> 32 == 0:
            carried.append(low)
        if address.sixtofour is not None:
            carried.append(address.sixtofour)
        if address in _NAT64:
            carried.append(low)
    private = next((a for a in carried if not a.is_global), None)
    return None if private is None else f"{address} 是本机或内网地址"


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    # What a client's resolver also takes for an IPv4 address: 127.1, 2130706433, 0x7f.0.0.1.
    if not name or not all(c in "0123456789abcdefx." for c in name):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except OSError:
        return None


async def _check_public(url: str) -> None:
    """SourceError unless every address ``url``'s host resolves to is public."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    why = private_address(host)
    if why is None and host:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, _port(url) or 443, type=socket.SOCK_STREAM
            )
        except OSError:
            raise SourceError(f"{where(url)} 找不到主机 {host}（DNS lookup failed）") from None
        # Every address, not the first: a client may connect to any of them.
        why = next(
            (why for info in infos if (why := private_address(str(info[4][0]))) is not None),
            None,
        )
    if why is not None:
        raise _refused_private(url, why)


def _refused_private(url: str, why: str) -> SourceError:
    return SourceError(
        f"{where(url)} 没有读取：{why}，通过 API 添加的数据源不读取本机和内网地址"
        "（[polling] api_private_addresses = true 可以放开）",
        lasting=True,
    )


def _check_scheme(url: str) -> None:
    try:
        scheme = urlsplit(url).scheme
    except ValueError:
        raise SourceError(f"{where(url)} 不是能请求的网址（invalid URL）", lasting=True) from None
    if scheme not in ("http", "https"):
        raise SourceError(
            f"{where(url)} 不是 http:// 或 https:// 网址（not an http(s) URL）", lasting=True
        )


def _failure(exc: httpx.HTTPError) -> str:
    """What a transport failure was, in words, without the request's URL."""
    name = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return f"超时（{name}）"
    if isinstance(exc, httpx.ConnectError):
        return f"连接不上（{name}）"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"对方的 HTTP 答复不合规范（{name}）"
    if isinstance(exc, httpx.DecodingError):
        return f"内容解码失败（{name}）"
    return f"无法读取（{name}）"


def _status(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _http_error(url: str, status: int, wait: float | None) -> str:
    if status == 429:
        what = "请求太频繁"
    elif status in (401, 403):
        what = "拒绝访问"
    elif status in (404, 410):
        what = "页面不存在"
    elif status >= 500:
        what = "服务器出错"
    else:
        what = "请求被拒"
    later = f"，{wait:g} 秒后再试（Retry-After）" if wait is not None else ""
    return f"{where(url)} {what}：返回 {_status(status)}{later}"
