"""Tables flattened into text: a roundup of rule changes, one row per change.

A page's table reaches rulewatch in one of three shapes: a row a line with bars between the
cells ("《X》 | 修订 | 2023-06-20 | 2023-07-01"), a cell a line ending in a bar ("《X》 |"), or
a row a line with spaces between the cells of a numbered table ("1 X规则 修订 2025年8月5日").
A table is read when its header names a date column (生效时间, 公示日期, effective date); each
row below it is one change, with the rule named in its cells and the dates of its date
columns. The same rule in two rows is two changes; a row that says it changes nothing
(未变更, 引用, no change) is none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Row", "read_tables"]

_I = re.IGNORECASE
# A column of days, not of links to the notices (生效链接).
_EFFECTIVE_HEAD = re.compile(
    r"生效(?:时间|日期|日)|^生效$|(?:实施|施行)(?:时间|日期)|effective|^starts?", _I
)
_ANNOUNCED_HEAD = re.compile(r"公示(?:时间|日期)|发布(?:时间|日期)|announce\w*|posted", _I)
_NAME_HEAD = re.compile(r"规则名|规则|名称|规范|rule|policy|change|item", _I)
# The words a header is made of; a row's cells are anything else.
_HEAD_WORD = re.compile(
    r"^(?:序号|编号|规则|名称|规则名称|规则名|变更|类型|变更类型|内容|变更内容|要点|变更要点|背景"
    r"|变更背景/内容|公示|生效|时间|日期|链接|公示链接|生效链接|规则链接|公示时间|生效时间"
    r"|公示日期|生效日期|实施时间|实施日期|状态|说明|备注|平台"
    r"|no\.?|#|rule|policy|change|changes|item|type|effective\s*date|effective|date|status"
    r"|announced|posted|notes?)$",
    _I,
)
_UNCHANGED = re.compile(
    r"未变更|不变|无变化|未修改|未作修改|仅作引用|^引用|no\s+changes?|unchanged", _I
)
# A line of a table holds a bar; cells are bounded so that long lines are rejected at once.
_BARRED = re.compile(r"(?:^|(?<=\n))(?:[^|\n]{0,300}\|[^\n]{0,2000}(?:\n|$)){2,}")
_SPACED_HEAD = re.compile(r"(?:^|(?<=\n))[ \t]*((?:\S{1,12}[ \t]+){2,8}\S{1,12})[ \t]*(?=\n)")


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a table: where its cells are, and which hold its name and dates."""

    start: int
    end: int
    name: tuple[int, int] | None  # span of the name cell
    effective: tuple[int, int] | None  # span of the 生效 cell
    announced: tuple[int, int] | None  # span of the 公示 cell


Span = tuple[int, int]


def _split(doc: str, start: int, end: int, separator: str) -> list[Span]:
    """The spans of ``doc[start:end]`` between separators, stripped of spaces."""
    spans = []
    left = start
    for part in doc[start:end].split(separator):
        lead = len(part) - len(part.lstrip())
        if part.strip():
            spans.append((left + lead, left + len(part.rstrip())))
        left += len(part) + len(separator)
    return spans


def _lines(doc: str, start: int, end: int) -> list[Span]:
    return [(start + m.start(), start + m.end()) for m in re.finditer(r"[^\n]+", doc[start:end])]


def _rows(doc: str, header: list[Span], body: list[list[Span]]) -> list[Row]:
    """The rows of a table with ``header`` cells, from the cell groups of ``body``."""
    heads = [doc[a:b] for a, b in header]
    effective = next((i for i, h in enumerate(heads) if _EFFECTIVE_HEAD.search(h)), None)
    announced = next((i for i, h in enumerate(heads) if _ANNOUNCED_HEAD.search(h)), None)
    if effective is None and announced is None:
        return []
    numbered = bool(re.fullmatch(r"序号|编号|no\.?|#", heads[0], _I))
    named = [
        i for i, h in enumerate(heads) if _NAME_HEAD.search(h) and i not in (effective, announced)
    ]
    name = named[0] if named else (1 if numbered else 0)
    rows = []
    for cells in body:
        if len(cells) != len(header) or any(_UNCHANGED.search(doc[a:b]) for a, b in cells):
            continue
        rows.append(
            Row(
                start=cells[0][0],
                end=cells[-1][1],
                name=cells[name],
                effective=cells[effective] if effective is not None else None,
                announced=cells[announced] if announced is not None else None,
            )
        )
    return rows


def _barred(doc: str, start: int, end: int) -> list[Row]:
    lines = _lines(doc, start, end)
    cells = [_split(doc, a, b, "|") for a, b in lines]
    one_per_line = all(len(c) <= 1 for c in cells)
    if not one_per_line:
        # A row a line: the header is the first line, the rows those with as many cells.
        return _rows(doc, cells[0], cells[1:]) if cells[0] else []
    flat = [c[0] for c in cells if c]
    width = 0
    while width < len(flat) and _HEAD_WORD.match(re.sub(r"\s+", "", doc[slice(*flat[width])])):
        width += 1
    if width < 2:
        return []
    body = flat[width:]
    groups = [body[i : i + width] for i in range(0, len(body) - width + 1, width)]
    return _rows(doc, flat[:width], groups)


def _spaced(doc: str) -> list[Row]:
    """Numbered tables whose cells are separated by spaces, a row a line."""
    rows: list[Row] = []
    for head in _SPACED_HEAD.finditer(doc):
        words = head.group(1).split()
        if not all(_HEAD_WORD.match(w) for w in words) or not re.fullmatch(
            r"序号|编号|no\.?|#", words[0], _I
        ):
            continue
        header = _split(doc, head.start(1), head.end(1), " ")
        header = [s for s in header if doc[s[0] : s[1]].strip()]
        body = []
        for line in _lines(doc, head.end(), len(doc)):
            text = doc[line[0] : line[1]]
            if not re.match(r"\s*\d{1,2}\s", text):
                break
            parts = text.split(None, len(header) - 1)
            spans, left = [], line[0]
            for part in parts:
                at = doc.index(part, left, line[1])
                spans.append((at, at + len(part)))
                left = at + len(part)
            body.append(spans)
        rows += _rows(doc, header, body)
    return rows


def read_tables(doc: str) -> list[Row]:
    """The rows of every table in ``doc`` whose header names a date column."""
    rows: list[Row] = []
    if doc.count("|") >= 2:
        for block in _BARRED.finditer(doc):
            rows += _barred(doc, block.start(), block.end())
    if "序号" in doc or "No." in doc or "#" in doc:
        rows += _spaced(doc)
    return rows
