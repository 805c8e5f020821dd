"""Bad payloads through the real broker are refused with a reason, counted, and kept."""

from __future__ import annotations

import json

from contract.payloads import AccessEvent, utc_now
from tests.conftest import RunningCentral
from tests.support.probe import MqttProbe
from tests.support.waiting import wait_until

TOPIC = "yz/v1/st/cs-0001/gw/gw-1/event/access"


def good_event(seq: int) -> AccessEvent:
    return AccessEvent(
        station_id="cs-0001",
        gateway_id="gw-1",
        seq=seq,
        at=utc_now(),
        door_id="main",
        direction="in",
        credential="qr",
        worker_id="w-1",
        decision="granted",
        reason="granted",
    )


def test_bad_payloads_are_rejected_counted_and_ingest_goes_on(
    central: RunningCentral, probe: MqttProbe
) -> None:
    valid = json.loads(good_event(1).to_json())
    bad = {
        "bad_json": b"{not json",
        "unknown_schema": json.dumps({**valid, "schema": "access/9"}).encode(),
        "oversized": b'{"pad": "' + b"x" * 500_000 + b'"}',
        "invalid": json.dumps({**valid, "seq": "many"}).encode(),
        "wrong_identity": json.dumps({**valid, "station_id": "cs-9999"}).encode(),
    }
    for payload in bad.values():
        probe.publish(TOPIC, payload)
    later = good_event(2)
    probe.publish(TOPIC, later.to_json())

    wait_until(lambda: central.service.store.event_payload(later.event_id), 10, "good event")
    health = wait_until(
        lambda: (h := central.http.get("/healthz").json())["ingest"]["rejected_total"] == 5 and h,
        10,
        "five rejections",
    )
    assert health["ingest"]["rejected"] == dict.fromkeys(bad, 1)
    assert health["status"] == "ok"
    rejections = central.http.get("/api/rejections").json()
    assert {r["code"] for r in rejections} == set(bad)
    by_code = {r["code"]: r for r in rejections}
    assert "access/9" in by_code["unknown_schema"]["reason"]
    assert by_code["oversized"]["size"] > 500_000
    assert "cs-9999" in by_code["wrong_identity"]["reason"]
    assert central.http.get("/api/entries").json()[0]["event_id"] == later.event_id


def test_a_redelivered_event_is_stored_once(central: RunningCentral, probe: MqttProbe) -> None:
    event = good_event(7)
    for _ in range(3):
        probe.publish(TOPIC, event.to_json())
    assert central.service.ingest.wait_idle(10)
    wait_until(lambda: central.service.metrics.snapshot()["duplicates"] == 2, 10, "duplicates")
    assert central.service.store.event_count() == 1
    assert central.http.get("/api/stations").json()[0]["occupancy"] == 1
