"""Text in, notices out: the listing, article, HTML and JSON-lines shapes, and telling them apart.

``auto`` reads JSON lines when the first line is an object, HTML when the text starts with
markup, a listing when a line is a bare ``YYYY-MM-DD HH:MM:SS`` timestamp, else an article.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime

from alerts.errors import ExtractionError
from alerts.extract.listing import looks_like_listing, read_listing
from alerts.extract.markup import html_to_text
from alerts.extract.model import Notice

__all__ = ["FORMATS", "read_notices"]

FORMATS = ("auto", "listing", "article", "html", "jsonl")
_HTML = re.compile(
    r"<(?:!doctype|html|head|body|p|div|h[1-6]|article|section|span|br|ul|li|table|title|a)\b",
    re.IGNORECASE,
)


def read_notices(
    text: str,
    *,
    format: str = "auto",
    published_at: datetime | date | None = None,
    title: str | None = None,
) -> list[Notice]:
    """Read ``text`` as notices in the given format (see ``FORMATS``).

    ``published_at`` and ``title`` apply to an article (and an HTML article, which otherwise
    takes its <h1> or <title>, and the publish time of its metadata if ISO 8601); listing items
    carry their own timestamps (naive, as printed) and JSON lines their own fields, with
    ``published_at`` as the default where a line has no such key.

    Raises ExtractionError for an unknown format, a JSON line that is not a valid notice
    (naming the line number and the problem), or markup the HTML parser refuses.
    """
    if format not in FORMATS:
        raise ExtractionError(f"unknown format {format!r}; use one of: {', '.join(FORMATS)}")
    if format == "auto":
        format = _detect(text)
    if format == "jsonl":
        return _read_jsonl(text, published_at)
    if format == "html":
        return _read_html(text, published_at, title)
    if format == "listing":
        return read_listing(text)
    return _read_article(text.splitlines(), published_at, title)


def _detect(text: str) -> str:
    head = text.lstrip("\ufeff \t\r\n")
    if head.startswith("{"):
        return "jsonl"
    if head.startswith("<") and _HTML.search(head, 0, 4096):
        return "html"
    if looks_like_listing(text):
        return "listing"
    return "article"


def _read_article(
    lines: list[str], published_at: datetime | date | None, title: str | None
) -> list[Notice]:
    body = [line.rstrip() for line in lines]
    if title is None:
        while body and not body[0].strip():
            body.pop(0)
        if not body:
            return []
        title = body.pop(0).strip()
    text = "\n".join(body).strip()
    if not title and not text:
        return []
    return [Notice(title=title, text=text, published_at=published_at)]


def _read_html(text: str, published_at: datetime | date | None, title: str | None) -> list[Notice]:
    try:
        page = html_to_text(text)
    except (AssertionError, ValueError) as exc:
        raise ExtractionError(f"cannot read the HTML: {exc}") from exc
    plain = "\n".join(page.lines)
    if looks_like_listing(plain):
        return read_listing(plain)
    lines = list(page.lines)
    if published_at is None and page.published:
        published_at = _page_time(page.published)
    heading = title or page.heading or page.title
    if heading and title is None and heading in lines:
        lines.remove(heading)  # the <h1> is the title; the text is what follows it
    return _read_article(lines, published_at, heading or None)


def _page_time(value: str) -> datetime | date | None:
    """A page's own publish time, when it is ISO 8601; anything else is ignored, not an error."""
    text = value.strip().replace("Z", "+00:00")
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        return None


def _parse_time(value: object, where: str) -> datetime | date | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ExtractionError(f"{where}: published_at must be a string or null, not {value!r}")
    try:
        if len(value.strip()) == 10:
            return date.fromisoformat(value.strip())
        return datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ExtractionError(
            f"{where}: published_at {value!r} is not an ISO 8601 date or date-time"
        ) from exc


def _read_jsonl(text: str, default: datetime | date | None) -> list[Notice]:
    notices = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ExtractionError(
                f"{where}: not valid JSON ({exc.msg}, column {exc.colno})"
            ) from exc
        except RecursionError as exc:
            raise ExtractionError(f"{where}: JSON nested too deeply") from exc
        if not isinstance(item, dict):
            raise ExtractionError(f"{where}: expected a JSON object, got {type(item).__name__}")
        fields = {}
        for name in ("title", "text", "url"):
            value = item.get(name)
            if value is not None and not isinstance(value, str):
                raise ExtractionError(f"{where}: {name} must be a string, not {value!r}")
            fields[name] = value
        if fields["title"] is None and fields["text"] is None:
            raise ExtractionError(f"{where}: a notice needs a title or a text")
        ident = item.get("id")
        if ident is not None and not isinstance(ident, str | int):
            raise ExtractionError(f"{where}: id must be a string or a number, not {ident!r}")
        published = _parse_time(item["published_at"], where) if "published_at" in item else default
        notices.append(
            Notice(
                title=fields["title"] or "",
                text=fields["text"] or "",
                published_at=published,
                url=fields["url"],
                id=None if ident is None else str(ident),
            )
        )
    return notices
