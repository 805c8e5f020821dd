"""A face terminal on Wiegand: a person id the central mapped to a worker opens the door,
an unmapped one is refused as an unknown face."""

from __future__ import annotations

from pathlib import Path

from gpiozero.pins.mock import MockFactory

from hardware.sim.wiegand import WiegandTransmitter
from tests.gateway_access.support import enroll, running_door, wait_trust, worker_id_of_secret
from tests.support.mosquitto import MosquittoBroker
from tests.support.running_central import RunningCentral
from yizhan.simulated_station import WIEGAND_PINS


def test_a_mapped_face_is_granted_and_an_unmapped_one_refused(
    central: RunningCentral, own_broker: MosquittoBroker, mock_pins: MockFactory, tmp_path: Path
) -> None:
    worker_id = worker_id_of_secret(central, enroll(central, face_ids=["4242001"]))
    with running_door(own_broker.url, tmp_path / "state", mock_pins) as door:
        wait_trust(door.gateway, "the face map", lambda t: "4242001" in t.credentials.faces)
        terminal = WiegandTransmitter(
            mock_pins.pin(WIEGAND_PINS["d0"]), mock_pins.pin(WIEGAND_PINS["d1"])
        )

        terminal.send(26, 4242001)
        known = door.next_access(0)
        assert (known.credential, known.decision, known.worker_id) == ("face", "granted", worker_id)
        assert door.unlocks()[0].cause == "grant"

        terminal.send(26, 999)
        unknown = door.next_access(1)
        assert (unknown.credential, unknown.decision, unknown.reason) == (
            "face",
            "denied",
            "unknown_face",
        )
        assert unknown.worker_id is None
