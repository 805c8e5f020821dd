"""One QR token lets one person into a station, whichever of its gateways they try.

Two gateways of cs-0001 on simulated boards and the real central, through a private
Mosquitto: each gateway hears the other's access events, and the event names the token
(its worker and `not_before`), which is also what the central needs to see one token used
at two stations.
"""

from __future__ import annotations

import time
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from contract.tokens import decode_token
from tests.gateway_access.support import current_token, enroll, running_door, wait_trust
from tests.support.mosquitto import MosquittoBroker
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until


def test_a_token_used_at_one_gateway_is_refused_at_the_stations_other(
    central: RunningCentral, own_broker: MosquittoBroker, tmp_path: Path
) -> None:
    shared, other = enroll(central), enroll(central)
    pins = MockFactory(), MockFactory()
    try:
        with (
            running_door(own_broker.url, tmp_path / "a", pins[0], gateway_id="gw-1") as a,
            running_door(own_broker.url, tmp_path / "b", pins[1], gateway_id="gw-2") as b,
        ):
            for door in (a, b):
                assert door.gateway.link.wait_connected(10)
                wait_trust(door.gateway, "the central's keys", lambda t: t.keys_version > 0)
            token = current_token(central, shared)
            claims = decode_token(token).claims

            granted = a.scan_in(token)
            assert (granted.decision, granted.worker_id) == ("granted", claims.worker_id)
            assert granted.token_not_before is not None
            assert int(granted.token_not_before.timestamp()) == claims.not_before

            wait_until(
                lambda: b.gateway.access.state.replay.seen(claims.token_id, time.time()),
                10,
                "gw-2 to hear that gw-1 let the token in",
            )
            refused = b.scan_in(token)
            assert (refused.decision, refused.reason) == ("denied", "replayed")
            assert not b.unlocks(), "gw-2 released its lock"
            # gw-2 lets in a token nobody used: the refusal above can fail.
            assert b.scan_in(current_token(central, other)).reason == "granted"
    finally:
        for factory in pins:
            factory.reset()
