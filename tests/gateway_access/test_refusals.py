"""Forged, unknown-key, expired, early, wrong-scope, revoked and replayed tokens are
refused with their own reason, and the door stays locked."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from contract.payloads import utc_now
from contract.tokens import SigningKey, decode_token, issue_token
from tests.gateway_access.support import (
    current_token,
    enroll,
    running_door,
    token_issued_at,
    wait_trust,
    worker_id_of_secret,
)
from tests.support.mosquitto import MosquittoBroker
from tests.support.running_central import RunningCentral
from yizhan.simulated_station import PINS


def test_every_bad_token_is_refused_with_its_reason(
    central: RunningCentral, own_broker: MosquittoBroker, mock_pins: MockFactory, tmp_path: Path
) -> None:
    good = enroll(central)
    elsewhere = enroll(central, scope="station:cs-0002")
    shenzhen = enroll(central, scope="region:440300")
    relay = mock_pins.pin(PINS["relay"])
    with running_door(own_broker.url, tmp_path / "state", mock_pins) as door:
        wait_trust(door.gateway, "the central's keys", lambda t: t.keys_version > 0)
        token = current_token(central, good)
        claims = decode_token(token).claims
        relay.clear_states()

        # Signed with a key the central never had, under the central's key id and not.
        forged = issue_token(
            SigningKey.generate(claims.key_id),
            worker_number=claims.worker_number,
            not_before=claims.not_before,
        )
        stranger = issue_token(
            SigningKey.generate((claims.key_id % 255) + 1),
            worker_number=1,
            not_before=claims.not_before,
        )
        assert door.scan_in(forged).reason == "bad_signature"
        assert door.scan_in(stranger).reason == "unknown_key"
        assert door.scan_in("not a token at all").reason == "malformed"

        # Genuine tokens of the same worker, issued five minutes ago and five from now.
        now = utc_now()
        expired = door.scan_in(token_issued_at(central, good, now - timedelta(minutes=5)))
        assert (expired.reason, expired.worker_id) == ("expired", claims.worker_id)
        early = token_issued_at(central, good, now + timedelta(minutes=5))
        assert door.scan_in(early).reason == "not_yet_valid"

        assert door.scan_in(current_token(central, elsewhere)).reason == "wrong_scope"
        assert door.scan_in(current_token(central, shenzhen)).reason == "wrong_scope"
        assert [s.state for s in relay.states] == [True], "no refusal released the lock"

        # Good once; the same token again is a screenshot.
        granted = door.scan_in(token)
        assert (granted.decision, granted.worker_id) == ("granted", claims.worker_id)
        replayed = door.scan_in(token)
        assert (replayed.decision, replayed.reason) == ("denied", "replayed")


def test_a_revocation_takes_effect_as_soon_as_it_arrives(
    central: RunningCentral, own_broker: MosquittoBroker, mock_pins: MockFactory, tmp_path: Path
) -> None:
    secret = enroll(central)
    worker_id = worker_id_of_secret(central, secret)
    with running_door(own_broker.url, tmp_path / "state", mock_pins) as door:
        wait_trust(door.gateway, "the central's keys", lambda t: t.keys_version > 0)
        token = current_token(central, secret)
        assert door.scan_in(token).reason == "granted"
        assert door.scan_out(token).reason == "granted"

        assert central.http.post(f"/api/workers/{worker_id}/revoke").status_code == 200
        number = int(worker_id[1:])
        wait_trust(door.gateway, "the revocation", lambda t: number in t.revocations.workers)
        refused = door.scan_in(token)
        assert (refused.decision, refused.reason, refused.worker_id) == (
            "denied",
            "revoked",
            worker_id,
        )
        # Leaving is still allowed.
        assert door.scan_out(token).decision == "granted"
