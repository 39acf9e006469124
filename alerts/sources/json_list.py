"""``kind = "json_list"``: a JSON endpoint listing notices, as the rule centres of 抖店, 快手
and 小红书 serve them behind their pages (``{"code": 0, "data": {"list": [{"title": …,
"id": …, "publish_time": 1701388800, …}]}}``). Dotted paths say where the list is and
where each item keeps its title, link, id, date and text."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Annotated, Literal
from urllib.parse import urljoin

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from alerts.extract.model import Notice
from alerts.sources.articles import read_article, read_new
from alerts.sources.base import Context, Fetched, Item, SourceConfig, SourceError, where
from alerts.sources.reading import PathError, at_path, digest_key, fragment_text, publish_time
from notifiers.checks import HttpUrlStr


def _template(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        value.format(id="1")
    except (KeyError, IndexError, ValueError):
        raise PydanticCustomError(
            "rulewatch", "must be a URL with {id} where the item's id goes and no other {…}"
        ) from None
    if "{id}" not in value:
        raise PydanticCustomError("rulewatch", "must hold {id}, where the item's id goes")
    return value


JsonPath = Annotated[str, Field(min_length=1, pattern=r"^[^.\s]+(\.[^.\s]+)*$")]


class JsonListSourceConfig(SourceConfig):
    """A ``[[sources]]`` entry of kind ``json_list``; every path is dotted ("data.list")."""

    kind: Literal["json_list"] = "json_list"
    url: HttpUrlStr
    items: Annotated[str, Field(pattern=r"^([^.\s]+(\.[^.\s]+)*)?$")] = "data.list"
    title: JsonPath = "title"
    link: JsonPath | None = "url"
    id: JsonPath | None = "id"
    date: JsonPath | None = "publish_time"
    text: JsonPath | None = None  # the notice's text, when the list carries it (HTML or plain)
    # Where an item's page is when it carries an id but no link: "https://…/rule/{id}".
    link_template: Annotated[str | None, AfterValidator(_template)] = None
    fetch_pages: bool = False  # an item without text: read its page for it
    max_items: int = Field(default=20, ge=1, le=200)


class JsonListSource:
    """Reads the endpoint; with ``fetch_pages``, the pages of new items without a text."""

    def __init__(self, config: JsonListSourceConfig) -> None:
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

    async def _item(self, context: Context, key: str, entry: Entry) -> Item:
        if not entry.text and self.config.fetch_pages and entry.link:
            return await read_article(
                context,
                key=key,
                url=entry.link,
                title=entry.title,
                published=entry.published,
                encoding=self.config.encoding,
                ident=entry.ident,
            )
        notice = Notice(
            title=entry.title,
            text=entry.text,
            published_at=entry.published,
            url=entry.link,
            id=entry.ident,
        )
        return Item(key=key, notices=(notice,))


@dataclass(frozen=True)
class Entry:
    """One item of the list as the paths read it."""

    key: str
    title: str
    link: str | None
    ident: str | None
    published: datetime | date | None
    text: str


def list_entries(body: str, config: JsonListSourceConfig, *, base: str) -> list[Entry]:
    """The items of the endpoint's JSON, in its order. Raises SourceError when the body is
    not JSON or the ``items`` path does not lead to an array, naming what was there."""
    shown = where(base)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        start = body.lstrip()[:40]
        raise SourceError(
            f"{shown} 返回的不是 JSON（did not answer JSON: {exc}），开头是：{start!r}"
        ) from None
    try:
        found = at_path(data, config.items)
    except PathError as exc:
        raise SourceError(f"{shown}: {exc}") from None
    if not isinstance(found, list):
        raise SourceError(f'{shown}："{config.items}" 不是条目的数组（not an array of items）')
    return [_entry(value, config, base) for value in found if isinstance(value, dict)]


def _entry(value: dict[str, object], config: JsonListSourceConfig, base: str) -> Entry:
    title = _string(value, config.title)
    ident = _string(value, config.id) or None
    link = _string(value, config.link)
    if link:
        link = urljoin(base, link)
    elif ident and config.link_template:
        link = config.link_template.format(id=ident)
    published = publish_time(_value(value, config.date))
    text = _string(value, config.text)
    key = link or (f"id:{ident}" if ident else digest_key(title, published))
    return Entry(
        key=key,
        title=title,
        link=link or None,
        ident=ident,
        published=published,
        text=fragment_text(text) if text else "",
    )


def _value(item: dict[str, object], path: str | None) -> object:
    # A key one item lacks is that item's gap, not the list's error.
    if path is None:
        return None
    try:
        return at_path(item, path)
    except PathError:
        return None


def _string(item: dict[str, object], path: str | None) -> str:
    value = _value(item, path)
    if value is None or isinstance(value, bool | dict | list):
        return ""
    return str(value).strip()
