"""The central tracks each gateway's sequence numbers and alerts on gaps that stay open."""

from __future__ import annotations

from pathlib import Path

from contract.payloads import AccessEvent, DropReport, utc_now
from dashboard.storage.store import Store
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until


def access(seq: int, gateway: str = "gw-1") -> AccessEvent:
    return AccessEvent(
        station_id="cs-0001",
        gateway_id=gateway,
        seq=seq,
        at=utc_now(),
        door_id="main",
        direction="in",
        credential="qr",
        decision="denied",
        reason="unknown_credential",
    )


def missing(store: Store) -> list[tuple[str, int, int]]:
    with store._connection() as db:
        rows = db.execute("SELECT gateway_id, first, last FROM seq_missing ORDER BY first")
        return [(r[0], r[1], r[2]) for r in rows]


def test_gaps_open_fill_and_alert_only_when_old(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db")
    store.record([access(1), access(2), access(6), access(9)])
    assert missing(store) == [("gw-1", 3, 5), ("gw-1", 7, 8)]
    assert store.raise_gap_alerts(after_s=3600) == []
    store.record([access(4), access(7)])
    assert missing(store) == [("gw-1", 3, 3), ("gw-1", 5, 5), ("gw-1", 8, 8)]

    (alert_id,) = store.raise_gap_alerts(after_s=0)
    (alert,) = store.alerts()
    assert (alert.id, alert.kind, alert.gateway_id) == (alert_id, "seq_gap", "gw-1")
    assert "3, 5, 8" in alert.detail
    assert store.raise_gap_alerts(after_s=0) == [], "one alert per gateway, not one per check"

    store.record([access(3), access(5)])
    assert store.alerts(), "still open while seq 8 is missing"
    store.record([access(8)])
    assert store.alerts() == []
    (resolved,) = store.alerts(open_only=False)
    assert resolved.resolved_at is not None


def test_a_drop_report_closes_the_gaps_it_names(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db")
    store.record([access(1)])
    report = DropReport(
        station_id="cs-0001",
        gateway_id="gw-1",
        seq=7,
        at=utc_now(),
        count=3,
        kinds={"presence": 3},
        seq_ranges=[(2, 3), (5, 5)],
    )
    store.record([report])
    assert missing(store) == [("gw-1", 4, 4), ("gw-1", 6, 6)]
    store.record([access(4), access(6)])
    assert missing(store) == []
    assert store.raise_gap_alerts(after_s=0) == []


def test_gateways_are_tracked_apart_and_the_first_seq_is_the_baseline(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db")
    store.record([access(500, "gw-2"), access(1, "gw-1"), access(501, "gw-2")])
    assert missing(store) == []
    store.record([access(3, "gw-1")])
    assert missing(store) == [("gw-1", 2, 2)]


def test_the_running_central_shows_a_gap_alert_through_its_api(
    central: RunningCentral, probe: MqttProbe
) -> None:
    topic = "yz/v1/st/cs-0001/gw/gw-7/event/access"
    for seq in (1, 2, 5):
        probe.publish(topic, access(seq, "gw-7").to_json())
    wait_until(lambda: central.service.store.event_count() == 3, 10, "three events stored")
    # The fixture's central uses the default threshold; check it the way its thread does.
    assert len(central.service.store.raise_gap_alerts(after_s=0)) == 1

    def gap_alerts(**params: bool) -> list[dict[str, object]]:
        # Only this gateway's: the shared broker may hold other tests' retained
        # gateway births and wills, which raise offline alerts of their own.
        alerts = central.http.get("/api/alerts", params=params).json()
        return [a for a in alerts if a["gateway_id"] == "gw-7"]

    alerts = gap_alerts()
    assert [a["kind"] for a in alerts] == ["seq_gap"]
    assert "seq 3-4" in str(alerts[0]["detail"])
    for seq in (3, 4):
        probe.publish(topic, access(seq, "gw-7").to_json())
    wait_until(lambda: gap_alerts() == [], 10, "alert resolved")
    assert gap_alerts(include_resolved=True)[0]["resolved_at"] is not None
