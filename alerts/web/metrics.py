"""GET /metrics in Prometheus text format: reminders by status, deliveries by result, feed
requests by answer, and each polled source's failures, items and last success.

One registry per app (never the process-global one), so tests and several apps in one
process do not share counters. Store counts are read at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from store import outbox, sources
from store.db import session_scope
from store.models import SourceState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """The app's metrics; the feed router counts its requests here."""

    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.feed_requests = Counter(
            "rulewatch_feed_requests",
            "Calendar feed requests, by HTTP status answered.",
            ["status"],
            registry=self.registry,
        )
        self.registry.register(_StoreCollector(engine))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StoreCollector(Collector):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterable[GaugeMetricFamily]:
        with session_scope(self._engine) as session:
            reminders = outbox.count_by_status(session)
            deliveries = outbox.count_deliveries_by_outcome(session)
            states = sources.states(session)
        by_status = GaugeMetricFamily(
            "rulewatch_reminders", "Reminders in the outbox, by status.", labels=["status"]
        )
        for status in outbox.STATUSES:
            by_status.add_metric([status], reminders.get(status, 0))
        yield by_status
        by_outcome = GaugeMetricFamily(
            "rulewatch_deliveries", "Delivery attempts recorded, by result.", labels=["outcome"]
        )
        for outcome in ("delivered", "retry", "failed"):
            by_outcome.add_metric([outcome], deliveries.get(outcome, 0))
        yield by_outcome
        yield from _sources(states)


def _sources(states: Mapping[str, SourceState]) -> Iterable[GaugeMetricFamily]:
    failures = GaugeMetricFamily(
        "rulewatch_source_failures", "Polls of a source failed in a row.", labels=["source"]
    )
    items = GaugeMetricFamily(
        "rulewatch_source_items", "Items a source has found.", labels=["source"]
    )
    success = GaugeMetricFamily(
        "rulewatch_source_last_success_timestamp_seconds",
        "When a source was last read whole (Unix time).",
        labels=["source"],
    )
    for name, state in sorted(states.items()):
        failures.add_metric([name], state.failures)
        items.add_metric([name], state.items_seen)
        if state.last_success_at is not None:
            success.add_metric([name], state.last_success_at.timestamp())
    yield from (failures, items, success)
