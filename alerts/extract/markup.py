"""HTML to plain text with the stdlib parser: text in document order, one line per block.

Script, style and other non-text elements are dropped; block elements (p, div, li, h1–h6,
br, tr …) end a line; whitespace inside a line collapses as a browser would. Inline elements
(span, a, em, mark) do not break lines, so highlighted keywords stay inside their sentence.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["HtmlText", "html_to_text"]

_SKIP = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "object"})
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
        "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "th", "thead", "tr",
        "ul", "title", "body", "html",
        # Not blocks in HTML, but a listing's timestamp must stand on a line of its own.
        "time",
    }
)  # fmt: skip
_SPACES = re.compile(r"[ \t\r\n\f\v\xa0\u3000]+")


_PUBLISHED_META = frozenset(
    {"article:published_time", "pubdate", "publishdate", "publish_date", "datepublished", "date"}
)


def _says_published(values: dict[str, str]) -> bool:
    # A <time> in the body may be the effective date itself: only one marked as the publish
    # time counts.
    marks = " ".join(values.get(name, "") for name in ("itemprop", "class", "id")).lower()
    return "pubdate" in values or "publish" in marks or "datepublished" in marks


class HtmlText(HTMLParser):
    """Collects the visible text of a page, its <title>, its first <h1>, and the publish time
    its metadata states (``<meta property="article:published_time">`` or a ``<time datetime>``
    marked as the publish time), as written."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.title = ""
        self.heading = ""
        self.published = ""
        self._line: list[str] = []
        self._skipping: list[str] = []
        self._in_title = False
        self._in_h1 = False
        self._h1_parts: list[str] = []

    def _break(self) -> None:
        line = _SPACES.sub(" ", "".join(self._line)).strip()
        if line:
            self.lines.append(line)
        self._line = []

    def _note_time(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "meta":
            name = values.get("property") or values.get("name") or values.get("itemprop", "")
            if name.lower() in _PUBLISHED_META and values.get("content"):
                self.published = self.published or values["content"]
        elif tag == "time" and values.get("datetime") and _says_published(values):
            self.published = self.published or values["datetime"]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"meta", "time"}:
            self._note_time(tag, attrs)
        if tag == "title":
            self._in_title = True
        if tag in _SKIP:
            self._skipping.append(tag)
        if tag == "h1" and not self.heading:
            self._in_h1 = True
        if tag in _BLOCK:
            self._break()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"meta", "time"}:
            self._note_time(tag, attrs)
        if tag in _BLOCK:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if self._skipping and self._skipping[-1] == tag:
            self._skipping.pop()
        if tag == "h1" and self._in_h1:
            self._in_h1 = False
            self.heading = _SPACES.sub(" ", "".join(self._h1_parts)).strip()
        if tag in _BLOCK:
            self._break()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if self._skipping:
            return
        if self._in_h1:
            self._h1_parts.append(data)
        self._line.append(data)

    def close(self) -> None:
        super().close()
        self._break()
        self.title = _SPACES.sub(" ", self.title).strip()


def html_to_text(markup: str) -> HtmlText:
    """Parse ``markup``; the result holds ``lines``, ``title`` and ``heading``.

    Raises AssertionError or ValueError on the few malformed declarations the stdlib parser
    refuses (``<![bogus``); the readers turn those into ExtractionError.
    """
    parser = HtmlText()
    parser.feed(markup)
    parser.close()
    return parser
