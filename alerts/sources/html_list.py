"""``kind = "html_list"``: a list page of notices (a trade news site's, a rule centre's),
read with CSS selectors. Each new item's own page is fetched for its main text; items stored
before cost no request."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Annotated, Literal
from urllib.parse import urljoin

from pydantic import AfterValidator, Field

from alerts.sources.articles import read_article, read_new
from alerts.sources.base import Context, Fetched, Item, SourceConfig, SourceError, where
from alerts.sources.reading import check_selector, collapse, digest_key, publish_time
from notifiers.checks import HttpUrlStr

if TYPE_CHECKING:
    from selectolax.lexbor import LexborNode

Selector = Annotated[str, Field(min_length=1), AfterValidator(check_selector)]


class HtmlListSourceConfig(SourceConfig):
    """A ``[[sources]]`` entry of kind ``html_list``."""

    kind: Literal["html_list"] = "html_list"
    url: HttpUrlStr
    item: Selector  # one element per notice on the list page
    link: Selector = "a"  # within an item: the element whose href is the notice's page
    title: Selector | None = None  # within an item; default: the link's text
    date: Selector | None = None  # within an item: its publish date, as the list writes it
    text: Selector | None = None  # on the notice's page: its main text (default: found)
    # A first poll of a long list, or a list that was reordered, reads no more than this.
    max_items: int = Field(default=20, ge=1, le=200)


class HtmlListSource:
    """Reads the list page, then the pages of its new items, newest first as listed."""

    def __init__(self, config: HtmlListSourceConfig) -> None:
        self.config = config
        self.name = config.name

    async def fetch(self, context: Context) -> Fetched:
        config = self.config
        page = await context.web.get(config.url, memo=context.memo, encoding=config.encoding)
        if page.not_modified:
            return Fetched(not_modified=True, memo=context.memo)
        entries = [(entry.key, entry) for entry in list_entries(page.text, config, base=page.url)]
        return await read_new(
            context, page, entries, partial(self._item, context), limit=config.max_items
        )

    async def _item(self, context: Context, key: str, entry: ListEntry) -> Item:
        if entry.link is None:
            return Item(key=key, problem=f"{entry.title}：列表项没有链接（the item has no link）")
        return await read_article(
            context,
            key=key,
            url=entry.link,
            title=entry.title,
            published=publish_time(entry.date) if entry.date else None,
            encoding=self.config.encoding,
            selector=self.config.text,
        )


@dataclass(frozen=True)
class ListEntry:
    """One item of the list page as the selectors read it."""

    key: str
    link: str | None
    title: str
    date: str | None


def list_entries(html: str, config: HtmlListSourceConfig, *, base: str) -> list[ListEntry]:
    """The items of a list page, in page order. Raises SourceError when the item selector
    matches nothing: a list page that lists nothing has most likely been redesigned."""
    from selectolax.lexbor import LexborHTMLParser

    nodes = LexborHTMLParser(html).css(config.item)
    if not nodes:
        raise SourceError(
            f"{where(base)}：列表项选择器 {config.item!r} 在页面上找不到任何内容，列表页的结构可能"
            "已改变（the item selector matches nothing）"
        )
    entries = []
    for node in nodes:
        anchor = node if _matches(node, config.link) else node.css_first(config.link)
        href = str(anchor.attributes.get("href") or "").strip() if anchor is not None else ""
        link = urljoin(base, href) if href and not href.startswith("javascript:") else None
        title = _text(node, config.title) if config.title else _flat(anchor)
        date = _text(node, config.date) if config.date else None
        key = link or digest_key(title, date)
        entries.append(ListEntry(key=key, link=link, title=title, date=date or None))
    return entries


def _matches(node: LexborNode, selector: str) -> bool:
    # An item that is itself the link (<a class="news-item">…</a>).
    parent = node.parent
    return parent is not None and any(n.mem_id == node.mem_id for n in parent.css(selector))


def _text(node: LexborNode, selector: str) -> str:
    found = node.css_first(selector)
    return _flat(found)


def _flat(node: LexborNode | None) -> str:
    if node is None:
        return ""
    return collapse(node.text(separator=" ")).replace("\n", " ")
