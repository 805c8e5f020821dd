"""The Grafana dashboard in deploy/grafana: a dashboard Grafana can load, whose queries ask
for measurements, fields and tags the InfluxDB export really writes.

No Grafana server is installable here, and no Flux engine: the queries are not run. What
is checked is the dashboard's shape, and that every name a query filters on exists among
points the running central exported to a real InfluxDB 2 write API (victoria-metrics).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from contract.payloads import utc_now
from tests.central.conftest import STATIONS, central_settings
from tests.central.support import Gateway
from tests.support.mosquitto import MosquittoBroker
from tests.support.probe import MqttProbe
from tests.support.running_central import run_central
from tests.support.victoria import VictoriaMetrics
from tests.support.waiting import wait_until

from .test_influx import settings as influx_settings

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "yizhan-stations.json"
EQUALS = re.compile(r'r\.(\w+)\s*==\s*"([^"]*)"')
"""A Flux filter's `r.column == "value"`."""
MATCHES = re.compile(r"r\.(\w+)\s*=~")
"""A Flux filter's `r.column =~ /regex/`: the column must exist."""
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}")


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return document


def queries(dashboard: dict[str, Any]) -> list[str]:
    return [target["query"] for panel in dashboard["panels"] for target in panel["targets"]]


def asked_for(query: str) -> tuple[str, str, dict[str, str], set[str]]:
    """The measurement, field, tag values and tag names one Flux query filters on."""
    equal = dict(EQUALS.findall(query))
    # Every query filters on a measurement and a field: nothing reads a whole bucket.
    assert {"_measurement", "_field"} <= set(equal), query
    measurement = equal.pop("_measurement")
    field = equal.pop("_field")
    return measurement, field, equal, set(equal) | set(MATCHES.findall(query))


def test_the_dashboard_has_the_shape_grafana_loads(dashboard: dict[str, Any]) -> None:
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    assert dashboard["title"] and dashboard["uid"] == "yizhan-stations"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "influxdb"
    panels = dashboard["panels"]
    assert len(panels) >= 5
    assert len({p["id"] for p in panels}) == len(panels), "panel ids are unique"
    for panel in panels:
        where = panel["title"]
        assert panel["type"] in {"timeseries", "stat", "table", "gauge", "bargauge"}, where
        assert panel["datasource"] == {"type": "influxdb", "uid": "${datasource}"}, where
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= 24, where
        assert panel["targets"], where
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"]), where
        for target in panel["targets"]:
            query = target["query"]
            assert query.startswith('from(bucket: "${bucket}")'), where
            assert "range(start: v.timeRange.start, stop: v.timeRange.stop)" in query, where
            # Every variable a query uses is defined on the dashboard.
            assert set(VARIABLE.findall(query)) <= set(variables), where
            # Brackets balance: a cheap guard against a query cut short while editing.
            for left, right in ("()", "[]", "{}"):
                assert query.count(left) == query.count(right), (where, left)


def test_every_queried_name_is_one_the_export_writes(
    dashboard: dict[str, Any],
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    probe: MqttProbe,
    victoria: VictoriaMetrics,
) -> None:
    asked = [asked_for(query) for query in queries(dashboard)]
    assert asked, "the dashboard has no queries to check"
    config = central_settings(
        tmp_path,
        mosquitto.url,
        f"sqlite:///{tmp_path / 'c.db'}",
        influx=influx_settings(victoria.url),
    )
    for _running in run_central(config, stations=STATIONS):
        gw = Gateway(probe)
        # A birth message with a clock 3 s fast: a clock offset to export.
        gw.availability(True, at=utc_now() + timedelta(seconds=3))
        gw.access("in")
        for measurement, field, tags, names in asked:
            # victoria-metrics names an InfluxDB field `measurement_field`, tags as labels.
            labels = "".join(f',{key}="{value}"' for key, value in sorted(tags.items()))
            match = f'{{__name__="{measurement}_{field}"{labels}}}'
            series = wait_until(partial(victoria.export, match), 15, f"points for {match}")
            metric = series[0]["metric"]
            assert isinstance(metric, dict) and names <= set(metric), (match, metric)
