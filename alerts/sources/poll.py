"""One poll of a source: fetch, then store what was found through the one write path."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlmodel import Session

from alerts.sources.base import Source
from alerts.timeline.ingest import IngestReport, ingest


async def poll(source: Source, session: Session, *, tz: ZoneInfo) -> IngestReport:
    """Fetch ``source`` and ingest its notices, each batch under its origin; what could not
    be read is in the report's ``unreadable``, named after the source and the place."""
    fetched = await source.fetch()
    report = IngestReport()
    for batch in fetched.batches:
        report.extend(ingest(session, batch.notices, origin=batch.origin, tz=tz))
    for where, why in fetched.problems:
        report.unreadable.append((f"{source.name}: {where}", why))
    return report
