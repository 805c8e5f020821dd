"""What a running gateway listens to, and what it does with messages that fail validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from contract.credential_payloads import CredentialMap, Revocations
from contract.payloads import CentralStatus, utc_now
from contract.topics import REVOCATIONS_TOPIC, central_topic, credentials_topic, gateway_topic
from gateway.trust_store import TrustStore
from servicekit.broker_accounts import gateway_acl
from tests.gateway_access.support import STATION, running_door, wait_trust
from tests.support.mosquitto import MosquittoBroker
from tests.support.probe import MqttProbe
from tests.support.signing import command
from tests.support.waiting import wait_until

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def test_a_gateway_subscribes_to_exactly_what_its_broker_account_may_read(
    own_broker: MosquittoBroker, mock_pins: MockFactory, tmp_path: Path
) -> None:
    # The broker drops a subscription its ACL does not allow without a word, so a
    # filter missing from either side would be a gateway deaf to it in the field.
    readable = {
        line.removeprefix("topic read ")
        for line in gateway_acl(STATION, "gw-1")
        if line.startswith("topic read ") and not line.startswith("topic read homeassistant/")
    }
    with running_door(own_broker.url, tmp_path / "state", mock_pins) as door:
        subscribed = [topic for topic, _ in door.gateway.incoming.subscriptions]
    assert sorted(subscribed) == sorted(readable)


def test_bad_retained_messages_are_ignored_and_the_last_good_copy_stays(
    own_broker: MosquittoBroker, mock_pins: MockFactory, probe: MqttProbe, tmp_path: Path
) -> None:
    with running_door(own_broker.url, tmp_path / "state", mock_pins) as door:
        good = Revocations(version=3, issued_at=NOW, worker_numbers=[42])
        probe.publish(REVOCATIONS_TOPIC, good.to_json(), retain=True)
        wait_trust(door.gateway, "revocations v3", lambda t: t.revocations.version == 3)
        for garbage in (b"\xff\xfe", b"[]", b'{"schema": "revocations/1", "version": 9}', b""):
            probe.publish(REVOCATIONS_TOPIC, garbage, retain=True)
        # One publisher's messages arrive in order: once this map is in, so is the garbage.
        station_map = CredentialMap(station_id=STATION, version=1, issued_at=NOW, entries=[])
        probe.publish(credentials_topic(STATION), station_map.to_json(), retain=True)
        wait_trust(door.gateway, "the station's map", lambda t: t.credentials.version == 1)
        revocations = door.gateway.access.trust.revocations
    assert (revocations.version, revocations.workers) == (3, frozenset({42}))


def test_a_central_coming_online_hears_the_gateway_announce_itself_again(
    own_broker: MosquittoBroker, mock_pins: MockFactory, probe: MqttProbe, tmp_path: Path
) -> None:
    availability = gateway_topic(STATION, "gw-1", "availability")
    listener = MqttProbe(own_broker.url, [availability])
    try:
        with running_door(own_broker.url, tmp_path / "state", mock_pins) as door:
            assert door.gateway.link.wait_connected(10)
            listener.wait_for(lambda m: json.loads(m.payload)["online"])  # the birth
            # A central that restarted may have lost what it knew of the gateways.
            online = CentralStatus(central_id="c-restarted", online=True, at=utc_now())
            probe.publish(central_topic("c-restarted"), online.to_json())
            # Fails unless a second announcement follows the central's.
            again = listener.wait_for(lambda m: json.loads(m.payload)["online"])
    finally:
        listener.close()
    assert not again.retain, "sent live, in answer, not a copy the broker kept"


def test_reload_trust_has_the_broker_send_the_retained_trust_again(
    own_broker: MosquittoBroker, mock_pins: MockFactory, probe: MqttProbe, tmp_path: Path
) -> None:
    with running_door(own_broker.url, tmp_path / "state", mock_pins) as door:
        gateway = door.gateway
        good = Revocations(version=5, issued_at=NOW, worker_numbers=[42])
        probe.publish(REVOCATIONS_TOPIC, good.to_json(), retain=True)
        wait_trust(gateway, "revocations v5", lambda t: t.revocations.version == 5)
        # As if its state directory had been wiped: it holds nothing now.
        gateway.access.trust_store = TrustStore(tmp_path / "wiped", STATION)
        reload = command("reload_trust", "rt-1", to=(STATION, "gw-1"), key=None)
        probe.publish(gateway_topic(STATION, "gw-1", "command"), reload)
        wait_until(
            lambda: gateway.access.trust_store.versions().get("revocations") == 5,
            10,
            "the retained revocations sent again",
        )
