"""The timeline as a table for a compliance report, and that table as CSV or .xlsx bytes.

Pure: changes in, bytes out. The CSV is UTF-8 with a byte-order mark, so that Excel opens
the Chinese in it right; the .xlsx (openpyxl) keeps dates as dates, so they sort and filter.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from alerts.timeline.views import ChangeView

HEADER = (
    "平台",
    "规则",
    "变更",
    "公示日期",
    "生效日期",
    "生效时间",
    "剩余天数",
    "状态",
    "标签",
    "处理人",
    "处理时间",
    "来源",
)
_KINDS = {"consultation": "征求意见", "new": "新规", "amendment": "修订", "repeal": "废止"}
_STATUSES = {"active": "有效", "withdrawn": "已撤回"}

Cell = str | int | date | None


class Format(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


def encode(table: Sequence[Row], fmt: Format) -> bytes:
    return as_csv(table) if fmt is Format.csv else as_xlsx(table)


@dataclass(frozen=True)
class Row:
    """One change as a row: ``cells`` in the order of HEADER."""

    cells: tuple[Cell, ...]


def rows(changes: Iterable[tuple[ChangeView, Sequence[str]]]) -> list[Row]:
    """A row per (change, its watches' tags), in the order given."""
    made = []
    for view, tags in changes:
        state = _STATUSES.get(view.status, view.status)
        if view.tentative:
            state += "（预计）"
        sources = "\n".join(
            " ".join(part for part in (s.title, s.url) if part) for s in view.sources
        )
        made.append(
            Row(
                (
                    view.platform,
                    view.rule,
                    _KINDS.get(view.kind, view.kind),
                    view.announced_on,
                    view.effective_on,
                    view.effective_at.strftime("%H:%M") if view.effective_at else None,
                    view.days_left,
                    state,
                    "、".join(tags),
                    # One line per mark, the two columns line for line.
                    "\n".join(f"{m.by}（{m.label}）" for m in view.handled),
                    "\n".join(m.at.strftime("%Y-%m-%d %H:%M") for m in view.handled),
                    sources,
                )
            )
        )
    return made


def as_csv(table: Sequence[Row]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in table:
        writer.writerow(["" if cell is None else _text(cell) for cell in row.cells])
    return out.getvalue().encode("utf-8-sig")


def as_xlsx(table: Sequence[Row], *, title: str = "规则变更") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = title[:31]  # Excel's limit on a sheet's name
    sheet.append(HEADER)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table:
        sheet.append([_in_sheet(cell) for cell in row.cells])
    widths = (10, 28, 8, 12, 12, 9, 9, 12, 16, 18, 16, 60)
    for column, width in zip("ABCDEFGHIJKL", widths, strict=True):
        sheet.column_dimensions[column].width = width
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text, never a formula, whatever it starts with
            elif isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
        line[-1].alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# Control characters no worksheet may hold (a stray \x0b a notice carried); tab, LF, CR stay.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# What a spreadsheet runs as a formula when a cell starts with it (OWASP's list).
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _text(cell: Cell) -> str:
    if isinstance(cell, int | date):
        return cell.isoformat() if isinstance(cell, date) else str(cell)
    text = _CONTROL.sub("", str(cell))
    # A title of a page rulewatch polled is someone else's text: "=HYPERLINK(…)" in it is
    # kept as text, however it is padded.
    return f"'{text}" if text.lstrip(" ")[:1] in _FORMULA else text


def _in_sheet(cell: Cell) -> Cell:
    return _text(cell) if isinstance(cell, str) else cell
