"""The new entries of a list (a feed, a list page, a JSON list), read in the list's order, and
an entry's own page, fetched through the web and read for its main text, for the kinds whose
list gives a title and a link but not the notice itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime
from typing import TypeVar

from alerts.extract.model import Notice
from alerts.sources.base import Context, Fetched, Item, Page, SourceError, where
from alerts.sources.reading import main_text

Entry = TypeVar("Entry")


async def read_new(
    context: Context,
    page: Page,
    entries: Iterable[tuple[str, Entry]],
    read: Callable[[str, Entry], Awaitable[Item]],
    *,
    limit: int | None = None,
) -> Fetched:
    """The items of the ``(key, entry)`` pairs of the list ``page`` that were not seen
    before, each made by ``read``, at most ``limit`` of them. Reading stops early at the
    context's deadline, or when a page asks to wait (Retry-After, or a host's turn too far
    off): what was read is kept, and the rest is read at the next poll (``complete`` is
    false then, so the list's validators are not kept).
    """
    items: list[Item] = []
    complete = True
    wait: float | None = None
    for key, entry in entries:
        if context.seen(key):
            continue
        if (limit is not None and len(items) == limit) or context.past_deadline():
            complete = False
            break
        try:
            items.append(await read(key, entry))
        except SourceError as exc:
            if exc.retry_after is None:
                raise
            complete, wait = False, exc.retry_after
            break
    return Fetched(items=tuple(items), memo=page.memo(), retry_after=wait, complete=complete)


async def read_article(
    context: Context,
    *,
    key: str,
    url: str,
    title: str,
    published: datetime | date | None,
    encoding: str | None,
    selector: str | None = None,
    ident: str | None = None,
) -> Item:
    """The item of ``key`` with the notice its page at ``url`` holds: the list's ``title``
    and ``published`` time, else the page's own. A page that cannot be fetched, or whose
    main text is not found, is the item's problem; the list's other items stand. A page
    answered with Retry-After (429, 503) raises: the site asked to wait (see ``read_new``)."""
    try:
        page = await context.web.get(url, encoding=encoding)
    except SourceError as exc:
        if exc.retry_after is not None:
            raise
        if exc.lasting:
            return Item(key=key, problem=str(exc))
        return Item(key=key, problem=str(exc), again=True)
    read = main_text(page.text, selector=selector, url=page.url)
    if not read.text:
        found = f"选择器 {selector!r} 在页面上找不到内容" if selector else "页面上找不到正文"
        return Item(key=key, problem=f"{where(url)}：{found}（no text found）")
    notice = Notice(
        title=title or read.title,
        text=read.text,
        published_at=published or read.published,
        url=url,
        id=ident,
    )
    return Item(key=key, notices=(notice,))
