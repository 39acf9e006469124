"""GET /metrics in Prometheus text format: reminders by status, deliveries by result, feed
requests by answer.

One registry per app (never the process-global one), so tests and several apps in one
process do not share counters. Store counts are read at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from store import outbox
from store.db import session_scope

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
