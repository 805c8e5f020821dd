"""`station_full` with hysteresis, and a flapping condition kept as one counted alert:
the pure rules, then through the real central on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard.core.alert_rules import SYSTEM, joins_previous, station_full
from tests.central.support import Gateway
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until


def test_full_opens_at_capacity_and_clears_only_below_ninety_percent() -> None:
    assert station_full("s", 9, 10) is None
    assert station_full("s", 10, 10) is not None
    assert station_full("s", 11, 10) is not None
    # Open: it holds at 9 of 10 (90 %), clears at 8.
    assert station_full("s", 9, 10, already_open=True) is not None
    assert station_full("s", 8, 10, already_open=True) is None
    # Not open yet: 9 of 10 is not full.
    assert station_full("s", 9, 10, already_open=False) is None
    assert station_full("s", 50, None, already_open=True) is None, "no capacity, no alert"
    assert station_full("s", 0, 0) is not None, "a closed-off station of capacity 0 is full"


def test_only_a_recent_clearing_by_itself_joins_the_previous_alert() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert joins_previous(now - timedelta(seconds=30), SYSTEM, now, 300)
    assert not joins_previous(now - timedelta(seconds=301), SYSTEM, now, 300)
    assert not joins_previous(now - timedelta(seconds=30), "alice", now, 300), (
        "an operator's resolution is a decision, not noise"
    )
    assert not joins_previous(now + timedelta(seconds=1), SYSTEM, now, 300)


def full_alerts(central: RunningCentral, station_id: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = central.http.get(
        "/api/alerts",
        params={"include_resolved": "true", "kind": "station_full", "station_id": station_id},
    ).json()
    return rows


def test_a_full_station_hovering_at_its_limit_keeps_one_alert(
    any_central: RunningCentral, probe: MqttProbe
) -> None:
    store = any_central.service.store
    big = Gateway(probe, "cs-0001", "gw-1")  # capacity 12
    for _ in range(12):
        big.access("in")
    wait_until(lambda: len(full_alerts(any_central, "cs-0001")) == 1, 10, "full at 12 of 12")
    # One out, one in, one out: within 90 % the alert neither clears nor opens again.
    big.access("out")
    big.access("in")
    big.access("out")
    wait_until(lambda: store.event_count() == 15, 10, "every event stored")
    (alert,) = full_alerts(any_central, "cs-0001")
    assert alert["status"] == "open" and alert["repeats"] == 1
    # Below 90 % (10.8 of 12): cleared by itself.
    big.access("out")
    wait_until(
        lambda: full_alerts(any_central, "cs-0001")[0]["status"] == "resolved",
        10,
        "resolved at 10 of 12",
    )

    # A small station that fills, empties by one and fills again within the window:
    # one alert, reopened, counted twice.
    small = Gateway(probe, "cs-0002", "gw-9")  # capacity 2
    small.access("in")
    small.access("in")
    wait_until(lambda: len(full_alerts(any_central, "cs-0002")) == 1, 10, "full at 2 of 2")
    small.access("out")
    wait_until(
        lambda: full_alerts(any_central, "cs-0002")[0]["status"] == "resolved",
        10,
        "resolved at 1 of 2",
    )
    first_id = full_alerts(any_central, "cs-0002")[0]["id"]
    small.access("in")
    wait_until(lambda: full_alerts(any_central, "cs-0002")[0]["status"] == "open", 10, "full again")
    (again,) = full_alerts(any_central, "cs-0002")
    assert again["id"] == first_id and again["repeats"] == 2 and again["last_opened_at"]
    assert again["resolved_at"] is None and again["resolved_by"] is None
