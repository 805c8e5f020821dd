"""`/metrics` in the Prometheus text format: ingest counters and a summary of the store."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from dashboard.ingest.metrics import IngestMetrics
from dashboard.storage.store import Store

log = logging.getLogger(__name__)


class CentralCollector(Collector):
    """Reads the counters and the store at scrape time; nothing to keep in step."""

    def __init__(
        self, metrics: IngestMetrics, store: Store, extra: Callable[[], dict[str, float]]
    ) -> None:
        self._metrics = metrics
        self._store = store
        self._extra = extra

    def collect(self) -> Iterator[Any]:
        """One scrape's metric families."""
        snap = self._metrics.snapshot()
        accepted = CounterMetricFamily("yizhan_events_stored", "Events stored (each id once).")
        accepted.add_metric([], float(str(snap["accepted"])))
        yield accepted
        dup = CounterMetricFamily("yizhan_events_duplicate", "Redelivered events ignored.")
        dup.add_metric([], float(str(snap["duplicates"])))
        yield dup
        quarantined = CounterMetricFamily(
            "yizhan_messages_quarantined",
            "Messages quarantined: failed validation or refused by the database.",
            labels=["code"],
        )
        by_code = snap["quarantined"]
        assert isinstance(by_code, dict)
        for code, count in sorted(by_code.items()):
            quarantined.add_metric([code], float(count))
        yield quarantined
        failures = CounterMetricFamily("yizhan_write_failures", "Batches that failed to commit.")
        failures.add_metric([], float(str(snap["write_failures"])))
        yield failures

        for name, value in sorted(self._extra().items()):
            extra = GaugeMetricFamily(f"yizhan_{name}", name.replace("_", " "))
            extra.add_metric([], value)
            yield extra
        try:
            # The store's figures last: while the database is down the ingest's figures
            # above are what an operator needs, and they must still be served.
            yield from list(self._store_families())
        except Exception as error:
            log.warning("metrics without the store's figures: %s", error)

    def _store_families(self) -> Iterator[Any]:
        stations = self._store.stations()
        gauge = GaugeMetricFamily("yizhan_stations", "Stations known.", labels=["state"])
        online = sum(1 for s in stations if s.online)
        gauge.add_metric(["online"], online)
        gauge.add_metric(["offline"], len(stations) - online)
        yield gauge
        people = GaugeMetricFamily("yizhan_people_present", "People counted in all stations.")
        people.add_metric([], sum(s.occupancy for s in stations))
        yield people
        full = GaugeMetricFamily("yizhan_stations_full", "Stations at capacity.")
        full.add_metric(
            [], sum(1 for s in stations if s.capacity is not None and s.occupancy >= s.capacity)
        )
        yield full
        alerts = GaugeMetricFamily("yizhan_alerts_open", "Unresolved alerts.", labels=["kind"])
        counts: dict[str, int] = {}
        for alert in self._store.alerts(open_only=True, limit=100_000):
            counts[alert.kind] = counts.get(alert.kind, 0) + 1
        for kind, count in sorted(counts.items()):
            alerts.add_metric([kind], count)
        yield alerts


def exposition(
    metrics: IngestMetrics, store: Store, extra: Callable[[], dict[str, float]]
) -> Callable[[], bytes]:
    """A function that renders one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CentralCollector(metrics, store, extra))
    return lambda: generate_latest(registry)
