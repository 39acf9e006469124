"""An item's own page: fetched through the web and read for its main text, for the kinds
whose list gives a title and a link but not the notice itself."""

from __future__ import annotations

from datetime import date, datetime

from alerts.extract.model import Notice
from alerts.sources.base import Context, Item, SourceError
from alerts.sources.reading import main_text


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
    main text is not found, is the item's problem; the list's other items stand."""
    try:
        page = await context.web.get(url, encoding=encoding)
    except SourceError as exc:
        return Item(key=key, problem=str(exc))
    read = main_text(page.text, selector=selector, url=page.url)
    if not read.text:
        found = f"the selector {selector!r} matches nothing" if selector else "no text was found"
        return Item(key=key, problem=f"{url}: {found} on the page（正文为空）")
    notice = Notice(
        title=title or read.title,
        text=read.text,
        published_at=published or read.published,
        url=url,
        id=ident,
    )
    return Item(key=key, notices=(notice,))
