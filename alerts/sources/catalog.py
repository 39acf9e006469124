"""Which sources there are and how their polls have gone: config.toml's ``[[sources]]``
then those added through the API, and ``SourceView``, the read model the CLI, the API, the
page, /healthz and /metrics share. Reads only: polling is ``alerts.sources.service``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session

from alerts.errors import RulewatchError
from alerts.sources import SourceConfig, source_union
from store import sources as store

if TYPE_CHECKING:
    from alerts.config import Settings

log = logging.getLogger(__name__)

_ONE: TypeAdapter[SourceConfig] = TypeAdapter(source_union())


def parse_source(definition: Mapping[str, Any]) -> SourceConfig:
    """A ``[[sources]]`` table (or the API's JSON of one) as its kind's config; raises
    pydantic's ValidationError."""
    return _ONE.validate_python(dict(definition))


def configured(settings: Settings, session: Session) -> list[SourceConfig]:
    """Every source: config.toml's, then those added through the API (config wins a name)."""
    sources = list(settings.sources)
    names = {source.name for source in sources}
    for row in store.stored_sources(session):
        if row.name in names:
            continue
        try:
            sources.append(parse_source(json.loads(row.definition)))
        except (ValueError, ValidationError) as exc:
            # Stored by an older version that allowed it: reported, never polled blind.
            log.warning("source %s stored through the API no longer validates: %s", row.name, exc)
    return sources


def find(settings: Settings, session: Session, name: str) -> SourceConfig:
    """The source called ``name``; RulewatchError naming the sources there are otherwise."""
    sources = configured(settings, session)
    for source in sources:
        if source.name == name:
            return source
    known = ", ".join(s.name for s in sources) or "none"
    raise RulewatchError(f"no source named {name!r} (sources: {known})")


@dataclass(frozen=True)
class SourceView:
    """A source as the faces show it: its config and how its polls have gone."""

    name: str
    kind: str
    every: timedelta
    enabled: bool
    added_by: str  # "config" or "api"
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    failures: int
    items_seen: int
    unreadable: int  # items kept with the reason they could not be read
    retrying: int = 0  # items read again at the next poll, their problem may pass

    @property
    def state(self) -> str:
        """ok | failing | waiting (never polled) | disabled."""
        if not self.enabled:
            return "disabled"
        if self.failures:
            return "failing"
        return "ok" if self.last_success_at else "waiting"

    def as_json(self) -> dict[str, object]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "name": self.name,
            "kind": self.kind,
            "every_minutes": int(self.every.total_seconds() // 60),
            "enabled": self.enabled,
            "added_by": self.added_by,
            "state": self.state,
            "last_polled_at": iso(self.last_polled_at),
            "last_success_at": iso(self.last_success_at),
            "last_error_at": iso(self.last_error_at),
            "last_error": self.last_error,
            "failures": self.failures,
            "items_seen": self.items_seen,
            "unreadable": self.unreadable,
            "retrying": self.retrying,
        }


def source_views(settings: Settings, session: Session) -> list[SourceView]:
    states = store.states(session)
    problems = store.problem_counts(session)
    pending = store.pending_counts(session)
    from_config = {source.name for source in settings.sources}
    views = []
    for source in configured(settings, session):
        state = states.get(source.name)
        views.append(
            SourceView(
                name=source.name,
                kind=source.kind,
                every=source.every,
                enabled=source.enabled,
                added_by="config" if source.name in from_config else "api",
                last_polled_at=state.last_polled_at if state else None,
                last_success_at=state.last_success_at if state else None,
                last_error_at=state.last_error_at if state else None,
                last_error=state.last_error if state else None,
                failures=state.failures if state else 0,
                items_seen=state.items_seen if state else 0,
                unreadable=problems.get(source.name, 0),
                retrying=pending.get(source.name, 0),
            )
        )
    return views
