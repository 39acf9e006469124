"""What a fetched page is in, and its text: the encoding it reads whole in, from a
byte-order mark, its Content-Type, its <meta> or <?xml?>, UTF-8, or a guess.

Chinese sites label GBK pages gb2312 (and GB18030 pages gbk): those labels are read as
GB18030, which holds both. A character is never replaced: bytes that no encoding reads
whole are a SourceError.
"""

from __future__ import annotations

import codecs
import re

from alerts.errors import ExtractionError
from alerts.sources.base import SourceError
from alerts.timeline.ingest import decode

# The labels Chinese pages carry for what GB18030 reads whole.
_AS_GB18030 = {"gb2312", "gbk", "gb_2312", "gb_2312-80", "x-gbk", "cp936", "windows-936", "euc-cn"}
# Labels a server sends when nobody configured one (Tomcat's and old Apache's default), so
# they say little: the page's own <meta>, then UTF-8 and a guess, go before them.
_DEFAULT_LABELS = {
    "iso-8859-1",
    "iso8859-1",
    "latin1",
    "latin-1",
    "us-ascii",
    "ascii",
    "windows-1252",
}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_\-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def text_of(body: bytes, label: str | None, *, where: str, override: str | None = None) -> str:
    """``body`` as text, in the first encoding that reads it whole of: ``override``, a
    byte-order mark, the ``label`` of Content-Type, what the page declares (<meta>,
    <?xml?>), UTF-8 or a guess (``alerts.timeline.ingest.decode``), and last a label that
    is only a server's default. GB2312/GBK labels read as GB18030.

    Raises SourceError when none reads it without replacing a character.
    """
    weak = label is not None and label.strip().lower() in _DEFAULT_LABELS
    bom = next((name for mark, name in _BOMS if body.startswith(mark)), None)
    for candidate in (override, bom, None if weak else label, _declared(body)):
        text = _read_as(body, candidate)
        if text is not None:
            return text
    try:
        return decode(body, where=where)
    except ExtractionError as exc:
        text = _read_as(body, label) if weak else None
        if text is None:
            raise SourceError(str(exc), lasting=True) from None
        return text


def _read_as(body: bytes, label: str | None) -> str | None:
    """``body`` decoded as ``label`` says, or None when the label names no text encoding
    Python knows or the bytes are not in it."""
    if not label:
        return None
    name = label.strip().lower()
    name = "gb18030" if name in _AS_GB18030 else name
    try:
        # base64, rot13, zlib… are codecs too, but not of text: bytes.decode refuses them.
        if not codecs.lookup(name)._is_text_encoding:
            return None
        return body.decode(name).removeprefix("\ufeff")
    except (LookupError, UnicodeDecodeError):
        return None


def charset_param(params: str) -> str | None:
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
