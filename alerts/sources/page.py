"""``kind = "page"``: one page watched for change, such as a rule's own page. Its main text
is fingerprinted; a poll that finds a text it has not seen yields that text as a notice."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from alerts.extract.model import Notice
from alerts.sources.base import Context, Fetched, Item, SourceConfig, SourceError, where
from alerts.sources.reading import check_selector, collapse, main_text
from notifiers.checks import HttpUrlStr


class PageSourceConfig(SourceConfig):
    """A ``[[sources]]`` entry of kind ``page``."""

    kind: Literal["page"] = "page"
    url: HttpUrlStr
    # The part of the page that is the rule: with it, a changed banner, counter or date in
    # the page's chrome is no change of the rule.
    text: Annotated[str, Field(min_length=1), AfterValidator(check_selector)] | None = None


class PageSource:
    """Reads the page; yields one item when its text differs from the last one seen."""

    def __init__(self, config: PageSourceConfig) -> None:
        self.config = config
        self.name = config.name

    async def fetch(self, context: Context) -> Fetched:
        config = self.config
        page = await context.web.get(config.url, memo=context.memo, encoding=config.encoding)
        if page.not_modified:
            return Fetched(not_modified=True, memo=context.memo)
        read = main_text(page.text, selector=config.text, url=page.url)
        if not read.text:
            found = (
                f"选择器 {config.text!r} 在页面上找不到内容" if config.text else "页面上找不到正文"
            )
            raise SourceError(f"{where(page.url)}：{found}，页面结构可能已改变（no text found）")
        digest = fingerprint(read.text)
        memo = page.memo(fingerprint=digest)
        key = f"{config.url}#{digest[:16]}"
        if digest == context.memo.fingerprint or context.seen(key):
            return Fetched(memo=memo)
        notice = Notice(
            title=read.title, text=read.text, published_at=read.published, url=config.url
        )
        return Fetched(items=(Item(key=key, notices=(notice,)),), memo=memo)


def fingerprint(text: str) -> str:
    """The digest of a text as read, whatever its spacing and line breaks."""
    return hashlib.sha256(" ".join(collapse(text).split()).encode("utf-8")).hexdigest()
