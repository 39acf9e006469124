"""The timeline as a spreadsheet: GET /export.csv and /export.xlsx, with the page's filters
(``platform``, ``rule``, ``tag``, the search ``q``) and ``upcoming`` for only what is still
to take effect. Readable as the page is."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlmodel import Session

from alerts import clock
from alerts.timeline import export
from alerts.timeline.search import MAX_QUERY, SEARCH
from alerts.web.deps import SessionDep, SettingsDep
from alerts.web.pages import Filters, filtered_entries

if TYPE_CHECKING:
    from alerts.config import Settings

router = APIRouter(tags=["export"])

_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
Text = Annotated[str | None, Query(max_length=200)]


def report(
    session: Session, settings: Settings, filters: Filters, today: date, *, upcoming: bool
) -> list[export.Row]:
    """The rows of the changes ``filters`` leave (with ``upcoming``, those still to take
    effect ``today`` or later): what the download and `rulewatch export` hold."""
    entries = filtered_entries(session, settings, filters=filters, today=today)
    if upcoming:
        entries = [e for e in entries if e.view.effective_on and e.view.effective_on >= today]
    return export.rows((entry.view, entry.tags) for entry in entries)


@router.get(
    "/export.{fmt}",
    summary="The timeline, filtered as the page is, as CSV (UTF-8 with BOM) or .xlsx.",
    response_class=Response,
    responses={200: {"content": {t: {} for t in _TYPES.values()}}},
)
def export_timeline(
    fmt: export.Format,
    session: SessionDep,
    settings: SettingsDep,
    platform: Text = None,
    rule: Text = None,
    tag: Text = None,
    q: Annotated[str | None, Query(max_length=MAX_QUERY, description=SEARCH)] = None,
    upcoming: bool = False,
) -> Response:
    today = clock.today(settings.service.tz)
    filters = Filters.of(platform, rule, tag, q)
    body = export.encode(report(session, settings, filters, today, upcoming=upcoming), fmt)
    name = f"rulewatch-{today.isoformat()}.{fmt.value}"
    return Response(
        body,
        media_type=_TYPES[fmt.value],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
