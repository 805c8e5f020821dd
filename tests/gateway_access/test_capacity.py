"""A full station refuses entry with "full" and still lets people out; the central's
retained count corrects the gateway's own; the door shows each outcome on its LEDs."""

from __future__ import annotations

from pathlib import Path

from gpiozero.pins.mock import MockFactory

from contract.payloads import DoorEvent, StationOccupancy, utc_now
from gateway.config import PolicySettings
from gateway.service import Gateway
from tests.gateway_access.support import (
    NUMBER,
    REGION,
    STATION,
    current_token,
    enroll,
    running_door,
    wait_trust,
)
from tests.support.mosquitto import MosquittoBroker
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until
from yizhan.simulated_station import FEEDBACK_PINS, PINS

ONE_PLACE = PolicySettings(station_number=NUMBER, region_code=REGION, capacity=1)


def pattern(pins: MockFactory, name: str, changes: int) -> list[bool]:
    """A feedback pin's states since they were cleared, once `changes` have happened."""
    pin = pins.pin(FEEDBACK_PINS[name])
    wait_until(lambda: len(pin.states) >= changes + 1, 5, f"{name} to play its pattern")
    return [s.state for s in pin.states]


def settle(gateway: Gateway, count: int) -> None:
    """Wait until the gateway has heard the central count `count`.

    The central's messages trail the gateway's own count by a moment; once the one that
    says `count` has arrived, no older one is still on its way to undo a later change.
    """
    wait_until(lambda: gateway.access.central_occupancy == count, 10, f"the central's {count}")


def clear_feedback(pins: MockFactory) -> None:
    for pin in FEEDBACK_PINS.values():
        pins.pin(pin).clear_states()


def test_a_full_station_refuses_entry_and_lets_people_out(
    central: RunningCentral, own_broker: MosquittoBroker, mock_pins: MockFactory, tmp_path: Path
) -> None:
    first, second, third = enroll(central), enroll(central), enroll(central)
    with running_door(own_broker.url, tmp_path / "state", mock_pins, ONE_PLACE) as door:
        wait_trust(door.gateway, "the central's keys", lambda t: t.keys_version > 0)
        a, b, c = (current_token(central, s) for s in (first, second, third))

        clear_feedback(mock_pins)
        assert door.scan_in(a).reason == "granted"
        # Granted: green for a second, one short beep, red stays dark.
        assert pattern(mock_pins, "green", 2) == [False, True, False]
        assert pattern(mock_pins, "buzzer", 2) == [False, True, False]
        assert pattern(mock_pins, "red", 0) == [False]
        assert door.gateway.access.occupancy == 1

        clear_feedback(mock_pins)
        full = door.scan_in(b)
        assert (full.decision, full.reason) == ("denied", "full")
        # Full: red and green together three times, two beeps.
        assert pattern(mock_pins, "red", 6) == [False, True] * 3 + [False]
        assert pattern(mock_pins, "green", 6) == [False, True] * 3 + [False]
        assert pattern(mock_pins, "buzzer", 4) == [False, True] * 2 + [False]

        # The station is full, and the one inside leaves all the same.
        assert door.scan_out(a).decision == "granted"
        assert door.gateway.access.occupancy == 0
        # The central's count follows the gateway's; let its messages catch up, so that
        # a late one cannot undo a later change here.
        settle(door.gateway, 0)
        assert door.scan_in(b).reason == "granted"
        settle(door.gateway, 1)

        # Full again; once the lock has secured behind them, the exit button lets the
        # next one out and frees the place.
        door.events.wait_for(
            DoorEvent, lambda e: e.state == "locked" and e.at > door.unlocks()[-1].at
        )
        assert door.scan_in(c).reason == "full"
        unlocks = len(door.unlocks())
        mock_pins.pin(PINS["rex"]).drive_low()
        mock_pins.pin(PINS["rex"]).drive_high()
        wait_until(lambda: len(door.unlocks()) > unlocks, 5, "the exit button to release")
        assert door.unlocks()[-1].cause == "rex"
        wait_until(lambda: door.gateway.access.occupancy == 0, 5, "the count to drop")
        assert door.scan_in(c).reason == "granted"


def test_a_refusal_shows_red_three_times_and_a_long_beep(
    central: RunningCentral, own_broker: MosquittoBroker, mock_pins: MockFactory, tmp_path: Path
) -> None:
    with running_door(own_broker.url, tmp_path / "state", mock_pins) as door:
        clear_feedback(mock_pins)
        assert door.scan_in("YZ1:not-a-real-token").reason == "malformed"
        assert pattern(mock_pins, "red", 6) == [False, True] * 3 + [False]
        assert pattern(mock_pins, "buzzer", 2) == [False, True, False]
        assert pattern(mock_pins, "green", 0) == [False]
        buzzer = mock_pins.pin(FEEDBACK_PINS["buzzer"])
        assert buzzer.states[2].timestamp > 0.5, "the refusal's beep is a long one"


def test_the_centrals_count_corrects_the_gateways(
    central: RunningCentral,
    own_broker: MosquittoBroker,
    mock_pins: MockFactory,
    probe: MqttProbe,
    tmp_path: Path,
) -> None:
    policy = PolicySettings(station_number=NUMBER, region_code=REGION, capacity=3)
    worker = enroll(central)
    with running_door(own_broker.url, tmp_path / "state", mock_pins, policy) as door:
        wait_trust(door.gateway, "the central's keys", lambda t: t.keys_version > 0)
        topic = f"yz/v1/st/{STATION}/occupancy"

        def central_says(count: int) -> None:
            message = StationOccupancy(station_id=STATION, occupancy=count, at=utc_now())
            probe.publish(topic, message.to_json(), retain=True)
            wait_until(lambda: door.gateway.access.occupancy == count, 10, f"count {count}")

        central_says(3)  # people came in through another gateway of the station
        token = current_token(central, worker)
        assert door.scan_in(token).reason == "full"
        # Garbage on the topic changes nothing.
        probe.publish(topic, b'{"schema": "occupancy/1", "occupancy": -4}', retain=True)
        central_says(2)
        assert door.scan_in(token).reason == "granted"
