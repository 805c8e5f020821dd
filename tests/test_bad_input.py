"""Bad payloads through the real broker are quarantined with a reason, counted, and shown."""

from __future__ import annotations

import json

from contract.payloads import AccessEvent, utc_now
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
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
        worker_id="w1",
        decision="granted",
        reason="granted",
    )


def test_each_kind_of_bad_payload_is_quarantined_and_ingest_goes_on(
    central: RunningCentral, probe: MqttProbe
) -> None:
    valid = json.loads(good_event(1).to_json())
    bad = {
        "bad_json": b"{not json",
        "unknown_schema": json.dumps({**valid, "schema": "access/9"}).encode(),
        "oversized": b'{"pad": "' + b"x" * 500_000 + b'"}',
        "invalid": json.dumps({**valid, "seq": "many"}).encode(),
        "wrong_identity": json.dumps({**valid, "station_id": "cs-9999"}).encode(),
        "unknown_topic": b"{}",
    }
    for code, payload in bad.items():
        probe.publish(
            "yz/v1/st/cs-0001/gw/gw-1/event/bogus" if code == "unknown_topic" else TOPIC, payload
        )
    later = good_event(2)
    probe.publish(TOPIC, later.to_json())

    wait_until(lambda: central.service.store.event_payload(later.event_id), 10, "good event")
    health = wait_until(
        lambda: (
            (h := central.http.get("/healthz").json())["ingest"]["quarantined_total"] == len(bad)
            and h
        ),
        10,
        "every bad payload quarantined",
    )
    assert health["ingest"]["quarantined"] == dict.fromkeys(bad, 1)
    assert health["status"] == "ok"
    quarantine = central.http.get("/api/quarantine").json()
    assert {r["code"] for r in quarantine} == set(bad)
    by_code = {r["code"]: r for r in quarantine}
    assert "access/9" in by_code["unknown_schema"]["reason"]
    assert by_code["unknown_schema"]["sample"].startswith('{"event_id"')
    assert by_code["oversized"]["size"] > 500_000
    assert "cs-9999" in by_code["wrong_identity"]["reason"]
    assert "seq" in by_code["invalid"]["reason"]
    assert by_code["bad_json"]["sample"] == "{not json"
    assert by_code["unknown_topic"]["topic"].endswith("/event/bogus")
    only = central.http.get("/api/quarantine", params={"code": "oversized"}).json()
    assert [r["code"] for r in only] == ["oversized"]
    assert central.http.get("/api/entries").json()[0]["event_id"] == later.event_id


def test_a_redelivered_event_is_stored_once(central: RunningCentral, probe: MqttProbe) -> None:
    event = good_event(7)
    for _ in range(3):
        probe.publish(TOPIC, event.to_json())
    assert central.service.ingest.wait_idle(10)
    wait_until(lambda: central.service.metrics.snapshot()["duplicates"] == 2, 10, "duplicates")
    assert central.service.store.event_count() == 1
    assert central.http.get("/api/stations").json()[0]["occupancy"] == 1
