"""How rulewatch fetches a page of someone else's site: one GET, with manners kept.

A rule centre or a news site owes rulewatch nothing, so every request names rulewatch in its
User-Agent, asks conditionally (ETag / Last-Modified kept by the caller's ``Memo``), follows
a few redirects and no more, reads no more than a size cap, and is bounded as a whole by a
timeout: a server that trickles its answer a byte a second cannot hold a poll for hours.
Text is decoded as the page declares (GB2312 and GBK read as GB18030, which holds both, since
a gb2312 label often hides GBK), else as it reads whole; a character is never replaced.

Every failure is a ``SourceError`` naming the URL without its query (which may hold a key).
"""

from __future__ import annotations

import asyncio
import codecs
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from importlib import metadata
from urllib.parse import urljoin, urlsplit

import httpx

from alerts import clock
from alerts.errors import ExtractionError
from alerts.sources.base import Memo, Page, SourceError
from alerts.timeline.ingest import decode

HOMEPAGE = "https://github.com/rulewatch/rulewatch"  # as [project.urls] in pyproject.toml


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
    timeout: float = 30.0  # seconds for the whole fetch, redirects and body included
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    per_host_interval: float = 1.0  # seconds between two requests to one host


class HttpWeb:
    """The web as sources see it (``alerts.sources.base.Web``), over one httpx client that
    the caller owns and closes."""

    def __init__(self, client: httpx.AsyncClient, manners: Manners = Manners()) -> None:
        self.client = client
        self.manners = manners

    async def get(self, url: str, *, memo: Memo | None = None, encoding: str | None = None) -> Page:
        manners = self.manners
        shown = where(url)
        deadline = asyncio.get_running_loop().time() + manners.timeout
        try:
            async with asyncio.timeout_at(deadline):
                return await self._follow(url, memo, encoding)
        except TimeoutError:
            raise SourceError(f"{shown} 在 {manners.timeout:g} 秒内没有读完（timed out）") from None

    async def _follow(self, url: str, memo: Memo | None, encoding: str | None) -> Page:
        headers = {"User-Agent": self.manners.user_agent, "Accept-Encoding": "gzip, deflate"}
        if memo is not None and memo.etag:
            headers["If-None-Match"] = memo.etag
        if memo is not None and memo.last_modified:
            headers["If-Modified-Since"] = memo.last_modified
        for _hop in range(self.manners.max_redirects + 1):
            _check_scheme(url)
            request = self.client.build_request("GET", url, headers=headers)
            try:
                response = await self.client.send(request, stream=True, follow_redirects=False)
            except httpx.HTTPError as exc:
                raise SourceError(f"{where(url)} 无法读取（{type(exc).__name__}）") from None
            try:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                return await self._page(url, response, encoding)
            finally:
                await response.aclose()
        raise SourceError(
            f"{where(url)}: more than {self.manners.max_redirects} redirects（重定向次数过多）"
        )

    async def _page(self, url: str, response: httpx.Response, encoding: str | None) -> Page:
        status = response.status_code
        etag = response.headers.get("etag")
        last_modified = response.headers.get("last-modified")
        if status == 304:
            return Page(url=url, status=304, etag=etag, last_modified=last_modified)
        if status in (429, 503) or status >= 400:
            wait = retry_after(response.headers.get("retry-after"))
            raise SourceError(f"{where(url)} answered HTTP {status}", retry_after=wait)
        if not 200 <= status < 300:
            raise SourceError(f"{where(url)} answered HTTP {status}, which is not a page")
        body = await self._body(url, response)
        media, _, params = response.headers.get("content-type", "").partition(";")
        text = text_of(body, encoding or _charset(params) or _declared(body), where=where(url))
        return Page(
            url=url,
            status=status,
            text=text,
            content_type=media.strip().lower(),
            etag=etag,
            last_modified=last_modified,
        )

    async def _body(self, url: str, response: httpx.Response) -> bytes:
        cap = self.manners.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise SourceError(f"{where(url)} is {int(declared):,} bytes, over the cap of {cap:,}")
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    raise SourceError(f"{where(url)} is larger than the cap of {cap:,} bytes")
                chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise SourceError(f"{where(url)} 读取中断（{type(exc).__name__}）") from None
        return b"".join(chunks)


def where(url: str) -> str:
    """A URL as it may be shown: scheme, host and path, without userinfo or query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _check_scheme(url: str) -> None:
    if urlsplit(url).scheme not in ("http", "https"):
        raise SourceError(f"{where(url)} is not an http:// or https:// URL")


# The labels Chinese pages carry for what GB18030 reads whole.
_AS_GB18030 = {"gb2312", "gbk", "gb_2312", "gb_2312-80", "x-gbk", "cp936", "windows-936", "euc-cn"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_\-]+)""", re.I)


def text_of(body: bytes, label: str | None, *, where: str) -> str:
    """``body`` decoded as ``label`` says (GB2312/GBK as GB18030), else as it reads whole;
    SourceError when it cannot be read without replacing a character."""
    if label:
        name = label.strip().lower()
        name = "gb18030" if name in _AS_GB18030 else name
        try:
            codecs.lookup(name)
        except LookupError:
            name = ""
        if name:
            try:
                return body.decode(name).removeprefix("\ufeff")
            except UnicodeDecodeError:
                pass  # mislabelled: read it as it reads whole, or say it cannot be
    try:
        return decode(body, where=where)
    except ExtractionError as exc:
        raise SourceError(str(exc)) from None


def _charset(params: str) -> str | None:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


def _declared(body: bytes) -> str | None:
    """The charset a page or feed declares in its first bytes (<meta>, <?xml?>)."""
    head = body[:4096]
    found = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    return found.group(1).decode("ascii") if found else None


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delay seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - clock.now()).total_seconds())
