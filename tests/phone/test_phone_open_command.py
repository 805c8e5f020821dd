"""The gateway's `phone_open` command through a real Mosquitto: it must be signed, takes
only a door and a worker, and a grant is reported as the worker's entry by phone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from contract.payloads import AccessEvent, CredentialKind, Decision
from servicekit.settings import BrokerSettings
from tests.maintenance.rig import Rig, start_rig
from tests.support.signing import STRANGER
from yizhan.simulated_station import DOOR


@pytest.fixture()
def rig(broker_settings: BrokerSettings, mock_pins: MockFactory, tmp_path: Path) -> Iterator[Rig]:
    yield from start_rig(broker_settings, mock_pins, tmp_path, unlock_s=0.3)


def test_phone_open_must_be_signed_and_well_formed(rig: Rig) -> None:
    seen = len(rig.relay.states)
    unsigned = rig.ask("phone_open", "p-unsigned", key=None, door=DOOR, worker=7)
    assert unsigned["status"] == "unauthorised"
    forged = rig.ask("phone_open", "p-forged", key=STRANGER, door=DOOR, worker=7)
    assert forged["status"] == "unauthorised"
    no_worker = rig.ask("phone_open", "p-nobody", door=DOOR)
    assert no_worker["status"] == "bad_args"
    other_door = rig.ask("phone_open", "p-door", door="back", worker=7)
    assert other_door["status"] == "wrong_target"
    assert all(s.state is True for s in rig.relay.states[seen:])
    assert not [e for e in rig.events.of(AccessEvent) if e.credential is CredentialKind.PHONE]


def test_a_granted_phone_open_is_the_workers_entry(rig: Rig) -> None:
    seen = len(rig.relay.states)
    reply = rig.ask("phone_open", "p-ok", door=DOOR, worker=7, group=0)
    assert reply["status"] == "ok", reply
    assert reply["data"] == {"decision": "granted", "reason": "granted"}
    assert any(s.state is False for s in rig.relay.states[seen:])
    event = rig.events.wait_for(AccessEvent, lambda e: e.credential is CredentialKind.PHONE)
    assert (event.worker_id, event.decision) == ("w7", Decision.GRANTED)
    again = rig.ask("phone_open", "p-ok", door=DOOR, worker=7, group=0)
    assert again["status"] == "replayed"
