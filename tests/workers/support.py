"""Helpers for the worker credential tests: enrolling over HTTP, reading retained state,
bringing stations online and filling them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import httpx

from contract.codec import Decoded, decode
from contract.credential_payloads import CredentialMap, PublicKeys, Revocations
from contract.payloads import Availability, Direction, Payload
from contract.tokens import KeyRing, StationLocation
from contract.topics import gateway_topic
from gateway.access_rules import (
    AccessRequest,
    AccessState,
    Presented,
    StationPolicy,
    TrustData,
    decide,
)
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until

P = TypeVar("P", bound=Payload)

FURONG = StationLocation(station_number=4242, region_code=430102)
"""Where the test central's station cs-0001 stands."""


def enroll(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    """Enroll one worker through the API; fields default to a Meituan rider."""
    body = {"display_name": "李明", "platform": "meituan", **fields}
    response = http.post("/api/workers", json=body)
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    return document


def pass_secret(http: httpx.Client, worker_id: str) -> str:
    """Issue a pass link and return its secret."""
    response = http.post(f"/api/workers/{worker_id}/pass-links")
    assert response.status_code == 201, response.text
    secret: str = response.json()["secret"]
    return secret


def retained(broker_url: str, topic: str, model: type[P], accept: Any = None) -> P:
    """The message a subscriber that connects now is given for `topic`, decoded as a
    gateway decodes it; with `accept`, the first (retained or live) that satisfies it.

    Without `accept`, a live copy means the subscriber came before the central's first
    publication (it publishes once it has started, not before it answers): the broker
    keeps that one, so a second subscriber must be given it retained."""
    for attempt in range(2):
        probe = MqttProbe(broker_url, [topic])
        try:
            while True:
                message = probe.wait_for(lambda m: m.topic == topic)
                result = decode(message.topic, message.payload)
                assert isinstance(result, Decoded), result
                assert isinstance(result.payload, model)
                if accept is None:
                    if message.retain:
                        return result.payload
                    assert attempt == 0, "expected the broker's retained copy"
                    break
                if accept(result.payload):
                    return result.payload
        finally:
            probe.close()
    raise AssertionError("unreachable")


def gateway_trust(broker_url: str, station_id: str = "cs-0001") -> TrustData:
    """What a gateway that connects now knows: built from retained messages only."""
    keys = retained(broker_url, "yz/v1/keys", PublicKeys)
    trust = TrustData(KeyRing.of([])).with_payload(keys)
    trust = trust.with_payload(retained(broker_url, "yz/v1/revocations", Revocations))
    return trust.with_payload(
        retained(broker_url, f"yz/v1/st/{station_id}/credentials", CredentialMap)
    )


def gate(credential: Presented, trust: TrustData, now: datetime, occupancy: int = 0) -> Any:
    """The gateway's decision at cs-0001 (capacity 12) for an entry."""
    policy = StationPolicy(location=FURONG, capacity=12)
    request = AccessRequest(credential, "main", Direction.IN, now, monotonic_s=0.0)
    return decide(request, policy, trust, AccessState(), occupancy)


def bring_online(central: RunningCentral, probe: MqttProbe, *station_ids: str) -> None:
    """A gateway's birth message for each station, and wait until the central has them."""
    for station_id in station_ids:
        birth = Availability(station_id=station_id, gateway_id="gw-1", online=True)
        probe.publish(gateway_topic(station_id, "gw-1", "availability"), birth.to_json(), True)

    def online() -> bool:
        listed = central.http.get("/api/stations").json()
        return {s["id"] for s in listed if s["online"]} >= set(station_ids)

    wait_until(online, what=f"{station_ids} online")


def fill(central: RunningCentral, station_id: str, count: int) -> None:
    """An operator sets the station's count."""
    answer = central.http.put(f"/api/stations/{station_id}/occupancy", json={"count": count})
    assert answer.status_code == 200, answer.text
