"""A gateway that heard the central's keys once opens the door with the broker gone, and
again after a reboot with the broker still gone: the keys and the revocation list it
keeps on disk are enough. What it granted before the reboot it remembers after it: a used
token stays used, and a worker inside stays inside."""

from __future__ import annotations

from pathlib import Path

from gpiozero.pins.mock import MockFactory

from contract.tokens import decode_token
from gateway.config import PolicySettings
from tests.gateway_access.support import (
    NUMBER,
    REGION,
    current_token,
    enroll,
    running_door,
    token_issued_at,
    wait_trust,
    worker_id_of_secret,
)
from tests.support.mosquitto import MosquittoBroker
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until
from yizhan.simulated_station import PINS


def test_a_token_opens_the_door_with_the_broker_down_and_after_a_reboot(
    central: RunningCentral, own_broker: MosquittoBroker, mock_pins: MockFactory, tmp_path: Path
) -> None:
    state = tmp_path / "gateway-state"
    first, second = enroll(central, scope="station:cs-0001"), enroll(central, scope="any")
    banned = enroll(central)
    relay = mock_pins.pin(PINS["relay"])

    with running_door(own_broker.url, state, mock_pins) as door:
        gateway = door.gateway
        wait_trust(gateway, "the central's keys", lambda t: t.keys_version > 0)
        banned_token = current_token(central, banned)
        banned_number = int(worker_id_of_secret(central, banned)[1:])
        assert central.http.post(f"/api/workers/w{banned_number}/revoke").status_code == 200
        wait_trust(gateway, "the revocation", lambda t: banned_number in t.revocations.workers)
        assert (state / "trust.json").is_file()

        own_broker.stop()
        wait_until(lambda: not gateway.link.connected, 10, "the gateway to lose the broker")
        # Issued by the central after the gateway last heard from it.
        token = current_token(central, first)
        relay.clear_states()
        decision = door.scan_in(token)
        assert (decision.decision, decision.reason) == ("granted", "granted")
        assert decision.worker_id == worker_id_of_secret(central, first)
        assert [s.state for s in relay.states][:2] == [True, False], "the lock was released"

    # Reboot: a new gateway process on the same state directory, the broker still down.
    with running_door(own_broker.url, state, mock_pins) as door:
        assert not door.gateway.link.connected
        assert door.gateway.access.trust.keys_version > 0, "the keys came from the disk"
        relay.clear_states()
        decision = door.scan_in(current_token(central, second))
        assert (decision.decision, decision.reason) == ("granted", "granted")
        assert door.unlocks()[0].cause == "grant"
        assert False in [s.state for s in relay.states]
        refused = door.scan_in(banned_token)
        assert (refused.decision, refused.reason) == ("denied", "revoked")


def test_a_used_token_and_a_worker_inside_are_remembered_across_a_restart(
    central: RunningCentral, own_broker: MosquittoBroker, mock_pins: MockFactory, tmp_path: Path
) -> None:
    state = tmp_path / "gateway-state"
    policy = PolicySettings(station_number=NUMBER, region_code=REGION, anti_passback=True)
    screenshot, inside = enroll(central), enroll(central)
    relay = mock_pins.pin(PINS["relay"])
    with running_door(own_broker.url, state, mock_pins, policy=policy) as door:
        wait_trust(door.gateway, "the central's keys", lambda t: t.keys_version > 0)
        shared = current_token(central, screenshot)
        assert door.scan_in(shared).reason == "granted"
        entered = current_token(central, inside)
        assert door.scan_in(entered).reason == "granted"

    with running_door(own_broker.url, state, mock_pins, policy=policy) as door:
        relay.clear_states()
        replayed = door.scan_in(shared)
        assert (replayed.decision, replayed.reason) == ("denied", "replayed")
        # The worker inside shows another code of theirs (a new one, not a replay of the
        # first, even when the restart took under a second): still inside.
        later = token_issued_at(central, inside, decode_token(entered).claims.not_before + 1)
        passback = door.scan_in(later)
        assert (passback.decision, passback.reason) == ("denied", "passback")
        assert [s.state for s in relay.states] == [True], "the lock was released"
        # Someone who never came in is let in by the same gateway: the refusals can fail.
        assert door.scan_in(current_token(central, enroll(central))).reason == "granted"
