"""What gateways receive: retained keys, revocations and face/card maps, and tokens from
the API that a gateway holding only those accepts."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from contract.credential_payloads import CredentialMap, PublicKeys, Revocations
from contract.payloads import Reason
from contract.tokens import TokenError, VerifiedToken, decode_token, verify_token
from dashboard.core.config import CentralSettings
from gateway.access_rules import CardCredential, FaceCredential, QrCredential
from tests.support.mosquitto import MosquittoBroker
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.workers.support import FURONG, enroll, gate, gateway_trust, pass_secret, retained
from yizhan.cli import main


def fetch_tokens(central: RunningCentral, secret: str, count: int = 3) -> list[dict[str, str]]:
    response = central.http.get(f"/api/pass/{secret}/tokens", params={"count": count})
    assert response.status_code == 200, response.text
    tokens: list[dict[str, str]] = response.json()["tokens"]
    return tokens


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_central_publishes_keys_revocations_and_maps_retained_at_start(
    central: RunningCentral, own_broker: MosquittoBroker
) -> None:
    keys = retained(own_broker.url, "yz/v1/keys", PublicKeys)
    served = central.http.get("/api/keys").json()
    assert [(k.key_id, k.public_key) for k in keys.keys] == [
        (k["key_id"], k["public_key"]) for k in served
    ]
    assert retained(own_broker.url, "yz/v1/revocations", Revocations).worker_numbers == []
    for station in ("cs-0001", "cs-0002", "sz-0001"):
        topic = f"yz/v1/st/{station}/credentials"
        assert retained(own_broker.url, topic, CredentialMap).station_id == station


def test_a_token_from_the_api_is_granted_by_a_gateway_that_knows_only_retained_state(
    central: RunningCentral, own_broker: MosquittoBroker
) -> None:
    worker = enroll(central.http, scope="region:430100", groups=["delivery"])
    tokens = fetch_tokens(central, pass_secret(central.http, worker["worker_id"]), count=4)
    assert len(tokens) == 5  # the current one and four more
    starts = [int(at(t["not_before"]).timestamp()) for t in tokens]
    assert all(s % 30 == 0 for s in starts)
    assert [b - a for a, b in itertools.pairwise(starts)] == [30, 30, 30, 30]
    trust = gateway_trust(own_broker.url)
    now = datetime.now(UTC)
    verified = verify_token(tokens[0]["token"], trust.keyring, now, location=FURONG)
    assert isinstance(verified, VerifiedToken), verified
    assert verified.worker_id == worker["worker_id"]
    assert verified.claims.group == 1  # the first group the central numbered
    decision = gate(QrCredential(tokens[0]["token"]), trust, now)
    assert decision.reason is Reason.GRANTED
    assert decision.worker_id == worker["worker_id"]
    # Each pre-fetched token is good in its own step, and the station's capacity still rules.
    later = at(tokens[3]["not_before"]) + timedelta(seconds=1)
    assert gate(QrCredential(tokens[3]["token"]), trust, later).reason is Reason.GRANTED
    assert gate(QrCredential(tokens[3]["token"]), trust, later, 12).reason is Reason.FULL


def test_a_region_scoped_token_is_refused_outside_its_region(
    central: RunningCentral, own_broker: MosquittoBroker
) -> None:
    worker = enroll(central.http, scope="region:440300")  # Shenzhen
    (token, *_) = fetch_tokens(central, pass_secret(central.http, worker["worker_id"]), 0)
    trust = gateway_trust(own_broker.url)
    decision = gate(QrCredential(token["token"]), trust, datetime.now(UTC))
    assert decision.reason is Reason.WRONG_SCOPE


def test_revoking_republishes_the_retained_list_at_once(
    central: RunningCentral, own_broker: MosquittoBroker, probe: MqttProbe
) -> None:
    worker = enroll(central.http)
    number = int(worker["worker_id"][1:])
    secret = pass_secret(central.http, worker["worker_id"])
    tokens = fetch_tokens(central, secret, 0)
    assert central.http.post(f"/api/workers/{worker['worker_id']}/revoke").status_code == 200
    live = probe.wait_for(
        lambda m: m.topic == "yz/v1/revocations" and str(number) in m.payload.decode()
    )
    assert live.qos == 1
    # A gateway connecting later is handed the list by the broker.
    stored = retained(own_broker.url, "yz/v1/revocations", Revocations)
    assert stored.worker_numbers == [number]
    assert stored.version > 1
    trust = gateway_trust(own_broker.url)
    decision = gate(QrCredential(tokens[0]["token"]), trust, datetime.now(UTC))
    assert decision.reason is Reason.REVOKED
    # And the worker's pass link stops giving out tokens, and no new link is issued.
    assert central.http.get(f"/api/pass/{secret}/tokens").status_code in (403, 404)
    relinked = central.http.post(f"/api/workers/{worker['worker_id']}/pass-links")
    assert relinked.status_code == 409


def test_faces_and_cards_reach_the_stations_in_scope_only(
    central: RunningCentral, own_broker: MosquittoBroker
) -> None:
    worker = enroll(
        central.http, scope="station:cs-0001", face_ids=["F-9"], card_numbers=["4242001"]
    )
    number = int(worker["worker_id"][1:])

    def has_worker(payload: CredentialMap) -> bool:
        return any(e.worker_number == number for e in payload.entries)

    here = retained(own_broker.url, "yz/v1/st/cs-0001/credentials", CredentialMap, has_worker)
    assert {(e.kind, e.external_id) for e in here.entries} == {("face", "F-9"), ("card", "4242001")}
    elsewhere = retained(own_broker.url, "yz/v1/st/cs-0002/credentials", CredentialMap)
    assert elsewhere.entries == []
    trust = gateway_trust(own_broker.url)
    now = datetime.now(UTC)
    assert gate(CardCredential("4242001"), trust, now).reason is Reason.GRANTED
    assert gate(FaceCredential("F-9"), trust, now).worker_id == worker["worker_id"]
    assert gate(CardCredential("4242002"), trust, now).reason is Reason.UNKNOWN_CREDENTIAL


def test_key_rotation_keeps_old_tokens_valid_during_the_overlap(
    central: RunningCentral, own_broker: MosquittoBroker, settings: CentralSettings
) -> None:
    worker = enroll(central.http)
    secret = pass_secret(central.http, worker["worker_id"])
    old = fetch_tokens(central, secret, 0)[0]
    rotated = central.http.post("/api/keys/rotate")
    assert rotated.status_code == 201
    new_id = rotated.json()["key_id"]

    def both_keys(payload: PublicKeys) -> bool:
        return len(payload.keys) == 2

    keys = retained(own_broker.url, "yz/v1/keys", PublicKeys, both_keys)
    old_id = decode_token(old["token"]).claims.key_id
    retiring = {k.key_id: k.valid_until for k in keys.keys}
    assert retiring[new_id] is None
    old_until = retiring[old_id]
    assert old_until is not None
    overlap = settings.credentials.rotation_overlap_s
    assert abs((old_until - datetime.now(UTC)).total_seconds() - overlap) < 30

    new = fetch_tokens(central, secret, 0)[0]
    assert decode_token(new["token"]).claims.key_id == new_id
    trust = gateway_trust(own_broker.url)
    now = datetime.now(UTC)
    for token in (old, new):
        assert gate(QrCredential(token["token"]), trust, now).reason is Reason.GRANTED
    # Once the overlap is over the old key is no longer trusted.
    after = old_until + timedelta(seconds=1)
    refused = verify_token(old["token"], trust.keyring, after)
    assert isinstance(refused, TokenError)
    assert refused.reason is Reason.UNKNOWN_KEY


def test_a_revocation_made_with_the_cli_is_published_by_the_running_central(
    central: RunningCentral, own_broker: MosquittoBroker, probe: MqttProbe, config_file: object
) -> None:
    worker = enroll(central.http)
    number = int(worker["worker_id"][1:])
    assert main(["workers", "revoke", "--config", str(config_file), worker["worker_id"]]) == 0
    probe.wait_for(lambda m: m.topic == "yz/v1/revocations" and str(number) in m.payload.decode())
    assert retained(own_broker.url, "yz/v1/revocations", Revocations).worker_numbers == [number]


def test_display_names_never_go_on_the_wire(
    central: RunningCentral, own_broker: MosquittoBroker, probe: MqttProbe
) -> None:
    worker = enroll(central.http, display_name="隐私测试", card_numbers=["31337"])
    number = str(int(worker["worker_id"][1:]))
    message = probe.wait_for(
        lambda m: m.topic.endswith("/credentials") and number in m.payload.decode()
    )
    assert "隐私测试" not in message.payload.decode()
    central.http.post(f"/api/workers/{worker['worker_id']}/revoke")
    revoked = probe.wait_for(
        lambda m: m.topic == "yz/v1/revocations" and number in m.payload.decode()
    )
    assert "隐私测试" not in revoked.payload.decode()


def test_a_station_created_by_the_api_gets_its_face_and_card_map_at_once(
    central: RunningCentral, own_broker: MosquittoBroker
) -> None:
    worker = enroll(central.http, scope="region:430102", face_ids=["F-77"])
    created = central.http.post(
        "/api/stations", json={"id": "cs-0700", "name": "新开驿站", "region_code": 430102}
    )
    assert created.status_code == 201, created.text
    # Well before the publisher's periodic rebuild (30 s): the API told it. (The probe
    # may connect before it is out, so a live copy counts as well as the retained one.)
    published = retained(own_broker.url, "yz/v1/st/cs-0700/credentials", CredentialMap, accept=bool)
    assert [(e.kind, e.external_id, e.worker_number) for e in published.entries] == [
        ("face", "F-77", int(worker["worker_id"][1:]))
    ]
