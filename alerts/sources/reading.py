"""What the web kinds of source share in reading what they fetched: a publish time however a
site writes it, the main text of an HTML page, an HTML fragment as text, a value at a
dotted path of JSON, and a key for an item that has neither link nor id.

Pure: text and data in, values out; no fetching (``alerts.sources.articles`` fetches).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

# The HTML parsers are imported where they read: loading a config builds the sources'
# models, which check a selector only when a source gives one.
if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser

__all__ = [
    "PageText",
    "PathError",
    "at_path",
    "check_selector",
    "collapse",
    "digest_key",
    "fragment_text",
    "main_text",
    "node_text",
    "publish_time",
]

# --- publish times -----------------------------------------------------------------------

# Epoch numbers past this are milliseconds: 1e11 seconds is the year 5138.
_MILLIS_FROM = 100_000_000_000
_NUMERIC = re.compile(r"\d{9,13}(?:\.\d+)?")
_HAN_DAY = re.compile(
    r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]"
    r"(?:\s*(\d{1,2})\s*[:：时点]\s*(\d{1,2})?(?:\s*[:：分]\s*(\d{1,2}))?)?"
)
# 2026-12-01, 2026/12/01, 2026.12.01, then an optional time and zone, anywhere in a text
# ("发布时间：2026-12-01 10:00").
_DAY = re.compile(
    r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)"
    r"(?:[T\s]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?"
)


def publish_time(value: object) -> datetime | date | None:
    """A publish time as sites write it, or None when ``value`` is not one.

    Epoch seconds or milliseconds (numbers or digit strings) are aware instants (UTC); a
    text holding a date (ISO 8601, ``2026-12-01 10:00(:00)``, ``2026/12/01``,
    ``2026年12月1日 10:00``) or an RFC 2822 date (``Tue, 01 Dec 2026 10:00:00 +0800``) is read
    as written: a bare date stays a date, a naive time stays naive (the store reads it in
    the service time zone) and a stated offset is kept, so the day the site meant is the day
    year inference reads. Never raises.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _epoch(float(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _NUMERIC.fullmatch(text):
        return _epoch(float(text))
    return _written_time(text)


def _epoch(value: float) -> datetime | None:
    seconds = value / 1000 if value >= _MILLIS_FROM else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _written_time(text: str) -> datetime | date | None:
    found = _DAY.search(text)
    if found is not None:
        year, month, day, hour, minute, second, zone = found.groups()
        return _assembled(year, month, day, hour, minute, second, zone)
    found = _HAN_DAY.search(text)
    if found is not None:
        year, month, day, hour, minute, second = found.groups()
        return _assembled(year, month, day, hour, minute, second, None)
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _assembled(
    year: str,
    month: str,
    day: str,
    hour: str | None,
    minute: str | None,
    second: str | None,
    zone: str | None,
) -> datetime | date | None:
    try:
        if hour is None:
            return date(int(year), int(month), int(day))
        at = datetime(
            int(year), int(month), int(day), int(hour), int(minute or 0), int(second or 0)
        )
    except ValueError:
        return None
    if zone is None:
        return at
    if zone == "Z":
        return at.replace(tzinfo=UTC)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    try:
        return at.replace(tzinfo=timezone(sign * offset))
    except ValueError:  # an offset of a day or more is no zone
        return at


# --- HTML ----------------------------------------------------------------------------------

_SPACES = re.compile(r"[ \t\r\f\v\xa0\u3000]+")
_LINES = re.compile(r"\s*\n\s*")


def collapse(text: str) -> str:
    """``text`` with the runs of spaces inside a line made one and blank lines dropped."""
    return _LINES.sub("\n", _SPACES.sub(" ", text)).strip()


def check_selector(selector: str) -> str:
    """``selector`` when the HTML parser can use it; ValueError saying so otherwise (a
    config model calls it, so a typo is reported at start-up, not at the first poll)."""
    from selectolax.lexbor import LexborHTMLParser, SelectolaxError

    try:
        LexborHTMLParser("<p></p>").css(selector)
    except (SelectolaxError, ValueError):
        raise ValueError(f"{selector!r} is not a CSS selector the HTML parser can use") from None
    return selector


def node_text(node: object) -> str:
    """The visible text of a selectolax node, a line per block as the markup reader sees it."""
    html = getattr(node, "html", None) or ""
    return fragment_text(html)


def fragment_text(html: str) -> str:
    """An HTML fragment (a feed entry's summary, a selected block) as text: tags, scripts and
    entities gone, a line per block. Never raises: markup the stdlib parser refuses is read
    by the lenient one instead."""
    from alerts.extract.markup import html_to_text

    try:
        return collapse("\n".join(html_to_text(html).lines))
    except (AssertionError, ValueError):
        from selectolax.lexbor import LexborHTMLParser

        tree = LexborHTMLParser(html)
        return collapse(tree.root.text(separator="\n") if tree.root is not None else "")


@dataclass(frozen=True)
class PageText:
    """What an article page says: its headline, its main text and its own publish time."""

    title: str
    text: str
    published: datetime | date | None = None


def main_text(html: str, *, selector: str | None = None, url: str | None = None) -> PageText:
    """The main text of an article page: what ``selector`` picks when given (every match, in
    order), else the article body as trafilatura finds it (navigation, ads and footers left
    out), else the page's whole visible text. The title is its <h1>, else its <title>; the
    publish time is the one its metadata states (``article:published_time``, a ``<time>``
    marked as the publish time, JSON-LD), never a date from its text, which may be the
    effective date. Never raises; the text is empty when the selector matches nothing.
    """
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    title = _heading(tree)
    published = _stated_time(html, tree)
    if selector is not None:
        text = "\n".join(node_text(node) for node in tree.css(selector))
        return PageText(title=title, text=collapse(text), published=published)
    # Imported here: it costs a tenth of a second, and only a poll of a web kind needs it.
    import trafilatura

    # Precision over recall: a notice page's chrome (menus, "相关阅读") reads as rule text.
    article = trafilatura.extract(
        html,
        url=url,
        favor_precision=True,
        include_comments=False,
        include_tables=True,
        deduplicate=False,
    )
    text = collapse(article) if article else fragment_text(html)
    if title and text.startswith(title):
        text = text[len(title) :].lstrip()
    return PageText(title=title, text=text, published=published)


def _heading(tree: LexborHTMLParser) -> str:
    for selector in ("h1", "title"):
        node = tree.css_first(selector)
        if node is not None:
            text = collapse(node.text(separator=" ")).replace("\n", " ")
            if text:
                return text
    return ""


_META_TIME = (
    'meta[property="article:published_time"]',
    'meta[name="pubdate"]',
    'meta[name="publishdate"]',
    'meta[name="publish_date"]',
    'meta[itemprop="datePublished"]',
    'meta[name="date"]',
)


def _stated_time(html: str, tree: LexborHTMLParser) -> datetime | date | None:
    for selector in _META_TIME:
        node = tree.css_first(selector)
        if node is not None and (when := publish_time(node.attributes.get("content") or "")):
            return when
    for node in tree.css("time[datetime]"):
        marks = " ".join(str(node.attributes.get(a) or "") for a in ("itemprop", "class", "id"))
        if "pubdate" in node.attributes or "publish" in marks.lower():
            when = publish_time(node.attributes.get("datetime") or "")
            if when is not None:
                return when
    for node in tree.css('script[type="application/ld+json"]'):
        when = _ld_time(node.text())
        if when is not None:
            return when
    return None


def _ld_time(text: str) -> datetime | date | None:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    for entry in data if isinstance(data, list) else [data]:
        if isinstance(entry, dict) and (when := publish_time(entry.get("datePublished"))):
            return when
    return None


# --- JSON ----------------------------------------------------------------------------------


class PathError(ValueError):
    """A dotted path leads nowhere in the data; the message names the path and what was
    found where it stopped."""


def at_path(data: object, path: str) -> object:
    """The value at ``path`` ("data.list", "items.0.title"; "" is ``data`` itself): keys of
    objects, indices of arrays. Raises PathError naming the path, the step that failed and
    what was there instead."""
    if not path:
        return data
    here: object = data
    walked: list[str] = []
    for step in path.split("."):
        if isinstance(here, dict) and step in here:
            here = here[step]
        elif isinstance(here, list) and step.isdigit() and int(step) < len(here):
            here = here[int(step)]
        else:
            where = ".".join(walked) or "the top"
            raise PathError(
                f'路径 "{path}" 中找不到 "{step}"（no "{step}" at "{path}": '
                f"{where} holds {_shown(here)}）"
            )
        walked.append(step)
    return here


def _shown(value: object) -> str:
    if isinstance(value, dict):
        keys = ", ".join(list(map(str, value))[:12]) or "no keys"
        return f"an object with keys {keys}"
    if isinstance(value, list):
        return f"an array of {len(value)}"
    return f"{type(value).__name__} {json.dumps(value, ensure_ascii=False)[:60]}"


def digest_key(title: str, published: object) -> str:
    """A key for an item with no link and no id: its title and date, digested."""
    basis = json.dumps(
        [title, str(published) if published is not None else None], ensure_ascii=False
    )
    return "sha256:" + hashlib.sha256(basis.encode()).hexdigest()[:32]
