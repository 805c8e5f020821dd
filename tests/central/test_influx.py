"""InfluxDB export against a real server speaking the InfluxDB 2 write API (victoria-metrics):
points written by influxdb-client are read back, and an outage is buffered and retried."""

from __future__ import annotations

from pathlib import Path

from dashboard.core.changes import BatchResult, GatewayRow
from dashboard.core.config import InfluxSettings
from dashboard.services.influx import InfluxExport, gateway_point
from tests.central.conftest import STATIONS, central_settings
from tests.central.support import Gateway
from tests.support.mosquitto import MosquittoBroker
from tests.support.probe import MqttProbe
from tests.support.running_central import run_central
from tests.support.victoria import VictoriaMetrics
from tests.support.waiting import wait_until

THIS_GATEWAY_ONLINE = '{__name__="gateway_online",station="cs-0001",gateway="gw-1"}'


def settings(url: str) -> InfluxSettings:
    return InfluxSettings(url=url, token="t", org="yizhan", bucket="yizhan", flush_interval_ms=50)


def test_the_central_exports_occupancy_visits_and_gateway_health(
    tmp_path: Path, mosquitto: MosquittoBroker, probe: MqttProbe, victoria: VictoriaMetrics
) -> None:
    config = central_settings(
        tmp_path, mosquitto.url, f"sqlite:///{tmp_path / 'c.db'}", influx=settings(victoria.url)
    )
    for running in run_central(config, stations=STATIONS):
        central = running
        gw = Gateway(probe)
        gw.availability(True)
        gw.access("in")
        gw.access("in")

        def values(match: str) -> list[float]:
            return [v for series in victoria.export(match) for v in series["values"]]  # type: ignore[attr-defined]

        wait_until(
            lambda: 2 in values('{__name__="occupancy_count",station="cs-0001",zone="all"}'),
            15,
            "occupancy 2 exported",
        )
        wait_until(lambda: sum(values('{__name__="visits_entries"}')) == 2, 15, "two visits")
        online = wait_until(lambda: victoria.export(THIS_GATEWAY_ONLINE), 15, "health")
        assert 1 in online[0]["values"]  # type: ignore[operator]
        text = central.http.get("/metrics").text
        assert "yizhan_influx_points_written" in text


def test_an_outage_is_buffered_retried_and_bounded(victoria: VictoriaMetrics) -> None:
    victoria.stop()
    export = InfluxExport(
        InfluxSettings(url=victoria.url, flush_interval_ms=20, buffer_points=150, batch_size=50)
    )
    export.start()
    try:
        row = GatewayRow("cs-9", "gw-9", True, None, None, None, 0.5)
        # One offer: four would let the sender take a batch in hand between them, and then
        # nothing would overflow.
        export.offer([gateway_point(row, n % 50 + 1) for n in range(200)])
        wait_until(lambda: export.counters.failures >= 1, 10, "a failed write")
        assert export.counters.dropped == 50, "the oldest 50 of 200 points go; 150 are kept"
        export.batch(BatchResult(occupancy={"cs-9": (3, 8)}, zones={"cs-9": {"rest": 3}}))
        victoria.start()
        counters = export.counters
        wait_until(lambda: counters.written + counters.dropped == 202, 40, "buffer drained")
        # Every point was written or, when the buffer overflowed, dropped oldest first
        # (50 of the first 200; the batch in hand at the time is not in the buffer).
        assert counters.dropped in (50, 52) and export.queued == 0
        wait_until(
            lambda: victoria.export('{__name__="occupancy_count",station="cs-9"}'), 15, "points"
        )
    finally:
        export.stop()
