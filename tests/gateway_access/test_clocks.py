"""A gateway with a wrong clock, or a clock that jumps, still lets valid tokens in, and
junk at a door never locks out a valid token.

The real central issues the tokens and ticks its time every half second (`clock/1`); the
gateway runs on simulated hardware with its wall clock set off by hours. Its monotonic
clock, like a real host's, is not moved by setting the date.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from contract.payloads import utc_now
from contract.tokens import decode_token
from gateway.service import Gateway
from tests.gateway_access.support import (
    Clock,
    current_token,
    enroll,
    running_door,
    token_issued_at,
    wait_trust,
)
from tests.support.mosquitto import MosquittoBroker
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until


def wait_for_the_centrals_time(gateway: Gateway) -> None:
    wait_trust(gateway, "the central's keys", lambda t: t.keys_version > 0)
    wait_until(lambda: gateway.central_clock.now(time.monotonic()) is not None, 10, "a clock tick")


@pytest.mark.parametrize(
    "offset", [timedelta(hours=2), timedelta(hours=-1)], ids=["2h-ahead", "1h-behind"]
)
def test_a_gateway_whose_clock_is_hours_off_grants_valid_tokens(
    central: RunningCentral,
    own_broker: MosquittoBroker,
    mock_pins: MockFactory,
    tmp_path: Path,
    offset: timedelta,
) -> None:
    worker = enroll(central)
    with running_door(own_broker.url, tmp_path / "gw", mock_pins, clock=Clock(offset)) as door:
        wait_for_the_centrals_time(door.gateway)
        decision = door.scan_in(current_token(central, worker))
        assert (decision.decision, decision.reason) == ("granted", "granted")
        # The health report says how far off the gateway's clock is.
        reported = door.gateway.health_report(None).clock_offset_s
        assert reported is not None
        assert abs(reported - offset.total_seconds()) < 5
        # Screenshots are still refused by the central's time, not the gateway's.
        old = token_issued_at(central, worker, utc_now() - timedelta(minutes=5))
        assert door.scan_in(old).reason == "expired"


def test_a_clock_step_forward_and_back_leaves_no_throttle_behind(
    central: RunningCentral, own_broker: MosquittoBroker, mock_pins: MockFactory, tmp_path: Path
) -> None:
    worker = enroll(central)
    clock = Clock()
    with running_door(own_broker.url, tmp_path / "gw", mock_pins, clock=clock) as door:
        wait_for_the_centrals_time(door.gateway)
        clock.offset = timedelta(hours=2)
        token = current_token(central, worker)
        assert door.scan_in(token).reason == "granted"
        # The same code again and again (a queue behind a screenshot), and junk, while the
        # clock stands two hours ahead: refusals that once throttled the worker and the door.
        for _ in range(6):
            assert door.scan_in(token).reason == "replayed"
        for n in range(25):
            assert door.scan_in(f"junk-{n}").reason in ("malformed", "throttled")
        clock.offset = timedelta()
        # Another code of the worker's: one second after the used one, never the same
        # (a code made "a second ago" is the used one again just after a new step).
        fresh = token_issued_at(central, worker, decode_token(token).claims.not_before + 1)
        decision = door.scan_in(fresh)
        assert (decision.decision, decision.reason) == ("granted", "granted")


def test_twenty_junk_codes_at_a_door_do_not_lock_out_a_valid_token(
    central: RunningCentral, own_broker: MosquittoBroker, mock_pins: MockFactory, tmp_path: Path
) -> None:
    worker = enroll(central)
    with running_door(own_broker.url, tmp_path / "gw", mock_pins) as door:
        wait_trust(door.gateway, "the central's keys", lambda t: t.keys_version > 0)
        reasons = [door.scan_in(f"garbage {n}").reason for n in range(21)]
        # The reader that sent them is throttled once it passes the limit (20 a minute).
        assert reasons == ["malformed"] * 20 + ["throttled"]
        decision = door.scan_in(current_token(central, worker))
        assert (decision.decision, decision.reason) == ("granted", "granted")
        assert door.unlocks(), "the lock was released"
