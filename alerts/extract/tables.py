"""Tables flattened into text: a roundup of rule changes, one row per change.

A page's table reaches rulewatch as cells ending in " |", a cell a line or a row a line. A
table is read when its header names a date column (生效时间, 公示日期, effective date) and
numbered rows follow (1 | …, 2 | …): each row is then one change, with the rule named in its
cells and the dates of its date columns. The same rule in two rows is two changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Row", "read_tables"]

# Cells are bounded so that a long line without bars is rejected in linear time.
# A line of a table holds a bar; cells are bounded so that long lines are rejected at once.
_TABLE = re.compile(r"(?:^|(?<=\n))(?:[^|\n]{0,300}\|[^\n]{0,2000}(?:\n|$)){2,}")
_EFFECTIVE_HEAD = re.compile(r"生效(?:时间|日期|日)|实施(?:时间|日期)|effective\s*date", re.I)
_ANNOUNCED_HEAD = re.compile(r"公示(?:时间|日期)|发布(?:时间|日期)|announce\w*\s*date", re.I)
_NAME_HEAD = re.compile(r"规则名|规则|名称|rule|policy", re.I)


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a table: where its cells are, and which hold its name and dates."""

    start: int
    end: int
    name: tuple[int, int] | None  # span of the name cell
    effective: tuple[int, int] | None  # span of the 生效 cell
    announced: tuple[int, int] | None  # span of the 公示 cell


def _cells(doc: str, start: int, end: int) -> list[tuple[int, int]]:
    """The spans of the cells of the table at ``doc[start:end]``, in reading order.

    A cell is what lies between bars or line ends; a row written on one line ("1 | 《X》 |
    2022-10-10") gives its cells in order, as does a table written a cell a line.
    """
    spans = []
    for line in re.finditer(r"[^\n]+", doc[start:end]):
        left = start + line.start()
        parts = line.group(0).split("|")
        if parts and not parts[-1].strip():
            parts.pop()  # the bar that closes a row
        for part in parts:
            lead = len(part) - len(part.lstrip())
            spans.append((left + lead, left + len(part.rstrip())))
            left += len(part) + 1
    return spans


def read_tables(doc: str) -> list[Row]:
    """The numbered rows of every table in ``doc`` whose header names a date column."""
    rows: list[Row] = []
    if doc.count("|") < 6:
        return rows
    for block in _TABLE.finditer(doc):
        cells = _cells(doc, block.start(), block.end())
        texts = [doc[a:b] for a, b in cells]
        if "1" not in texts:
            continue
        width = texts.index("1")
        header = texts[:width]
        effective = next((i for i, h in enumerate(header) if _EFFECTIVE_HEAD.search(h)), None)
        announced = next((i for i, h in enumerate(header) if _ANNOUNCED_HEAD.search(h)), None)
        if width < 2 or (effective is None and announced is None):
            continue
        # The first column holds the row numbers.
        name = next((i for i, h in enumerate(header) if i and _NAME_HEAD.search(h)), 1)
        for first in range(width, len(cells) - width + 1, width):
            if texts[first] != str((first - width) // width + 1):
                break  # the numbering stops: the rest is not rows of this table
            row = cells[first : first + width]
            rows.append(
                Row(
                    start=row[0][0],
                    end=row[-1][1],
                    name=row[name],
                    effective=row[effective] if effective is not None else None,
                    announced=row[announced] if announced is not None else None,
                )
            )
    return rows
