"""One poll of a source: fetch, then store what was found through the one write path."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlmodel import Session

from alerts.sources.base import Context, Source, SourceError, Web
from alerts.timeline.ingest import IngestReport, ingest


async def poll(source: Source, session: Session, *, web: Web, tz: ZoneInfo) -> IngestReport:
    """Fetch ``source`` and ingest its notices, each item under the source's name; what
    could not be read is in the report's ``unreadable``, named after the source and item."""
    report = IngestReport()
    try:
        fetched = await source.fetch(Context(web=web))
    except SourceError as exc:
        report.unreadable.append((f"{source.name}: {exc}", str(exc)))
        return report
    for item in fetched.items:
        if item.problem is not None:
            report.unreadable.append((f"{source.name}: {item.where}", item.problem))
            continue
        origin = f"{source.name}: {item.label}" if item.label else source.name
        report.extend(ingest(session, item.notices, origin=origin[:200], tz=tz))
    return report
