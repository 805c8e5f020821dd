"""One QR token granted at two stations opens one `token_shared` alert, through MQTT into
a running central on SQLite and on PostgreSQL, across a restart of the central."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from contract.payloads import format_utc, utc_now
from servicekit.settings import BrokerSettings
from tests.central.conftest import central_settings
from tests.central.support import Gateway
from tests.support.probe import MqttProbe
from tests.support.running_central import run_central
from tests.support.waiting import wait_until


def shared_alerts(http: httpx.Client) -> list[dict[str, Any]]:
    """Every `token_shared` alert, resolved or not."""
    answer = http.get("/api/alerts", params={"include_resolved": "true"})
    alerts: list[dict[str, Any]] = answer.json()
    return [a for a in alerts if a["kind"] == "token_shared"]


def stored(http: httpx.Client, count: int) -> bool:
    """The central holds `count` entries."""
    return len(http.get("/api/entries", params={"limit": 1000}).json()) == count


def test_one_token_at_two_stations_opens_one_alert(
    tmp_path: Path, broker_settings: BrokerSettings, database_url: str, probe: MqttProbe
) -> None:
    settings = central_settings(tmp_path, broker_settings.url, database_url)
    token = utc_now().replace(microsecond=0) - timedelta(seconds=10)
    other_token = token + timedelta(seconds=30)
    door_a, door_b = Gateway(probe, "cs-0001", "gw-1"), Gateway(probe, "cs-0001", "gw-2")
    elsewhere = Gateway(probe, "cs-0002", "gw-9")

    for running in run_central(settings):
        http = running.http
        door_a.access(worker="w1001", token_not_before=token)
        # The station's other gateway granting it too is no news (and a different token
        # of the same worker at another station is not this token).
        door_b.access(worker="w1001", token_not_before=token)
        elsewhere.access(worker="w1001", token_not_before=other_token)
        # Denied and tokenless entries never count.
        elsewhere.access(worker="w1001", decision="denied", token_not_before=token)
        elsewhere.access(worker="w1002")
        wait_until(partial(stored, http, 5), 10, "five entries stored")
        assert shared_alerts(http) == []

    # The central restarts between the two stations' grants.
    for running in run_central(settings):
        http = running.http
        elsewhere.access(worker="w1001", token_not_before=token)
        (alert,) = wait_until(partial(shared_alerts, http), 10, "a token_shared alert")
        assert alert["station_id"] == "cs-0002" and alert["gateway_id"] == "gw-9"
        assert alert["status"] == "open"
        detail = alert["detail"]
        assert "w1001" in detail and format_utc(token) in detail
        assert "cs-0001" in detail and "cs-0002" in detail, "both stations named"

        # Once per token: the same token again, at either station, opens nothing new.
        elsewhere.access(worker="w1001", token_not_before=token)
        door_a.access(worker="w1001", token_not_before=token)
        wait_until(partial(stored, http, 8), 10, "eight entries stored")
        assert len(shared_alerts(http)) == 1
        resolved = http.post(f"/api/alerts/{alert['id']}/resolve", json={"note": "talked to w1001"})
        assert resolved.status_code == 200, resolved.text
        Gateway(probe, "cs-0003", "gw-3").access(worker="w1001", token_not_before=token)
        wait_until(partial(stored, http, 9), 10, "nine entries stored")
        assert len(shared_alerts(http)) == 1, "a third station does not reopen it"
