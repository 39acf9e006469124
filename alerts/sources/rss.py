"""``kind = "rss"``: an RSS or Atom feed (a news site's, 亿邦动力's). Each entry is a notice:
its title, its summary or content as text (or, with ``fetch_pages``, the main text of the
page it links to) and its publish time."""

from __future__ import annotations

import calendar
import io
from datetime import UTC, date, datetime
from functools import partial
from typing import Any, Literal
from urllib.parse import urljoin

from alerts.extract.model import Notice
from alerts.sources.articles import read_article, read_new
from alerts.sources.base import Context, Fetched, Item, SourceConfig, SourceError, where
from alerts.sources.reading import digest_key, fragment_text, publish_time
from notifiers.checks import HttpUrlStr


class RssSourceConfig(SourceConfig):
    """A ``[[sources]]`` entry of kind ``rss``."""

    kind: Literal["rss"] = "rss"
    url: HttpUrlStr
    # A feed that carries only a teaser of each notice: read the linked page instead.
    fetch_pages: bool = False


class RssSource:
    """Reads the feed; entries stored before are skipped before any page is fetched."""

    def __init__(self, config: RssSourceConfig) -> None:
        self.config = config
        self.name = config.name

    async def fetch(self, context: Context) -> Fetched:
        config = self.config
        page = await context.web.get(config.url, memo=context.memo, encoding=config.encoding)
        if page.not_modified:
            return Fetched(not_modified=True, memo=context.memo)
        entries = [
            (entry_key(entry, base=page.url), entry)
            for entry in feed_entries(page.text, url=page.url)
        ]
        return await read_new(context, page, entries, partial(self._item, context, page.url))

    async def _item(self, context: Context, base: str, key: str, entry: Any) -> Item:
        title = str(entry.get("title") or "").strip()
        link = _link(entry, base)
        published = entry_time(entry)
        if self.config.fetch_pages and link:
            return await read_article(
                context,
                key=key,
                url=link,
                title=title,
                published=published,
                encoding=self.config.encoding,
                ident=_ident(entry),
            )
        notice = Notice(
            title=title,
            text=entry_text(entry),
            published_at=published,
            url=link,
            id=_ident(entry),
        )
        return Item(key=key, notices=(notice,))


def feed_entries(text: str, *, url: str) -> list[Any]:
    """The entries of a feed's decoded text, newest first as the feed lists them. Raises
    SourceError when it is no feed: feedparser flags it malformed and finds no entry."""
    import feedparser  # 40 ms to import: not for every command that reads the config

    # The text is decoded already (by the web, as the feed declared); it is handed over as
    # UTF-8 saying so, so feedparser does not decode it again by its <?xml?> line. A string
    # would be taken for a URL or a file name to open.
    parsed = feedparser.parse(
        io.BytesIO(text.encode("utf-8")),
        response_headers={
            "content-type": "application/xml; charset=utf-8",
            "content-location": url,
        },
    )
    # A feed cut off inside an entry leaves it empty: nothing to read, nothing to report.
    said = ("title", "link", "summary", "content")
    entries = [entry for entry in parsed.entries if any(entry.get(name) for name in said)]
    if parsed.bozo and not entries:
        reason = parsed.get("bozo_exception")
        raise SourceError(
            f"{where(url)} 不是能读的 RSS 或 Atom 订阅源（not an RSS or Atom feed: {reason}）"
        )
    return entries


def entry_key(entry: Any, *, base: str) -> str:
    """How an entry is known again: its link, else its id, else its title and date."""
    return (
        _link(entry, base)
        or _ident(entry)
        or digest_key(str(entry.get("title") or ""), entry_time(entry))
    )


def entry_time(entry: Any) -> datetime | date | None:
    """An entry's publish time (else its update time) with the offset the feed wrote."""
    for name in ("published", "updated", "created"):
        when = publish_time(entry.get(name))
        if when is not None:
            return when
        parsed = entry.get(f"{name}_parsed")
        if parsed:  # a spelling only feedparser reads; it gives the instant in UTC
            return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    return None


def entry_text(entry: Any) -> str:
    """An entry's content (the full text, when the feed has it), else its summary, as text."""
    for content in entry.get("content") or ():
        value = str(content.get("value") or "")
        if value.strip():
            return fragment_text(value)
    return fragment_text(str(entry.get("summary") or ""))


def _link(entry: Any, base: str) -> str | None:
    link = str(entry.get("link") or "").strip()
    return urljoin(base, link) if link else None


def _ident(entry: Any) -> str | None:
    ident = str(entry.get("id") or "").strip()
    return ident or None
