"""Every maintenance command, sent by a real MQTT client through the private Mosquitto to
a gateway on simulated hardware: the reply, and the effect on the door and the devices."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from contract.payloads import Command, DoorEvent, utc_now
from gateway.live_config import LiveConfig
from servicekit.mqtt_link import Message
from servicekit.settings import BrokerSettings
from tests.maintenance.rig import BASE, GATEWAY, STATION, Rig, start_rig
from tests.support.schemas import validate_published
from tests.support.signing import STRANGER
from tests.support.waiting import wait_until
from yizhan.simulated_station import DOOR, PINS


@pytest.fixture()
def rig(broker_settings: BrokerSettings, mock_pins: MockFactory, tmp_path: Path) -> Iterator[Rig]:
    yield from start_rig(broker_settings, mock_pins, tmp_path / "state")


def test_unlock_releases_and_lock_secures_at_once(rig: Rig) -> None:
    assert rig.relay.state is True
    reply = rig.ask("unlock", "u-1", door=DOOR)
    assert (reply["status"], reply["message"]) == ("ok", "door 'main' released")
    wait_until(lambda: rig.relay.state is False, 5, "relay released")
    # The unlock time is 30 s: only the lock command can secure it this soon.
    reply = rig.ask("lock", "l-1")
    assert reply["status"] == "ok" and reply["data"]["lock"] == {DOOR: "secured"}
    assert rig.relay.state is True
    rig.events.wait_for(DoorEvent, lambda e: e.state == "locked" and e.cause == "remote")


def test_a_door_opening_command_needs_an_operator_signature(rig: Rig) -> None:
    rig.relay.clear_states()
    unsigned = rig.ask("unlock", "u-unsigned", key=None)
    assert unsigned["status"] == "unauthorised"
    assert "signed by an operator key" in unsigned["message"]
    forged = rig.ask("unlock", "u-forged", key=STRANGER)
    assert forged["status"] == "unauthorised"
    assert "signature does not match" in forged["message"]
    off = rig.ask("lockdown", "ld-unsigned", key=None, on=False)
    assert off["status"] == "unauthorised"
    # A signed one after them does move the relay, so the silence above means something.
    assert rig.ask("unlock", "u-signed", door=DOOR)["status"] == "ok"
    wait_until(lambda: rig.relay.state is False, 5, "relay released")
    assert [s.state for s in rig.relay.states][:2] == [True, False]
    # Commands that cannot open a door need no signature.
    assert rig.ask("ping", "p-1", key=None)["status"] == "ok"


def test_lockdown_refuses_entries_until_lifted(rig: Rig) -> None:
    on = rig.ask("lockdown", "ld-on", key=None, on=True)
    assert on["status"] == "ok" and "grants refused" in on["message"]
    refused = rig.scan()
    assert (refused.decision, refused.reason) == ("denied", "lockdown")
    assert rig.ask("unlock", "u-ld", door=DOOR)["status"] == "error"
    assert rig.ask("lockdown", "ld-off", on=False)["status"] == "ok"
    granted = rig.scan()
    assert (granted.decision, granted.reason) == ("granted", "granted")


def test_set_config_applies_valid_keys_refuses_the_rest_and_persists(
    rig: Rig, tmp_path: Path
) -> None:
    settings = {
        "policy.capacity": 0,
        "doors.main.unlock_s": 2.5,
        "doors.main.held_open_s": -1,
        "doors.back.unlock_s": 3,
        "policy.colour": "red",
    }
    reply = rig.ask("set_config", "c-1", settings=settings)
    assert reply["status"] == "ok"
    assert reply["data"]["applied"] == {"policy.capacity": 0, "doors.main.unlock_s": 2.5}
    refused = reply["data"]["refused"]
    assert set(refused) == {"doors.main.held_open_s", "doors.back.unlock_s", "policy.colour"}
    assert "above 0" in refused["doors.main.held_open_s"]
    assert "no door 'back'" in refused["doors.back.unlock_s"]
    assert "can change while running" in refused["policy.colour"]
    # The effect: a full station, and the door's new unlock time.
    denied = rig.scan()
    assert (denied.decision, denied.reason) == ("denied", "full")
    assert rig.gateway.devices.doors[DOOR].timing.unlock_s == 2.5
    # Reported, retained, and kept on disk for the next boot.
    reported = rig.latest(f"{BASE}/config/reported")
    assert reported["applied"]["policy.capacity"] == 0
    assert set(reported["refused"]) == set(refused)
    again = LiveConfig(rig.gateway.settings, [DOOR])
    assert again.values()["doors.main.unlock_s"] == 2.5
    assert again.policy().capacity == 0
    # Nothing valid at all: bad_args, saying why.
    bad = rig.ask("set_config", "c-2", settings={"policy.hours": ["25:00-26:00"]})
    assert bad["status"] == "bad_args" and "HH:MM-HH:MM" in bad["message"]


def test_desired_config_is_applied_only_when_signed_and_newer(rig: Rig) -> None:
    from contract.maintenance_payloads import ConfigDesired
    from contract.payloads import utc_now
    from contract.signing import sign
    from tests.support.signing import OPERATOR

    def desired(version: int, signed: bool, **settings: object) -> bytes:
        payload = ConfigDesired(
            station_id="mt-0001",
            gateway_id="gw-1",
            version=version,
            issued_at=utc_now(),
            settings=settings,
        )
        if signed:
            payload = sign(payload, OPERATOR.name, OPERATOR.private_key)
        return payload.to_json()

    topic = f"{BASE}/config/desired"
    rig.probe.publish(topic, desired(5, False, **{"policy.capacity": 0}), retain=True)
    report = rig.latest(f"{BASE}/config/reported", lambda d: bool(d["refused"]))
    assert "signed by an operator" in report["refused"]["policy.capacity"]
    assert report["applied"]["policy.capacity"] is None
    rig.probe.publish(
        topic, desired(6, True, **{"policy.capacity": 7, "policy.hours": "nope"}), retain=True
    )
    report = rig.latest(f"{BASE}/config/reported", lambda d: d["version"] == 6)
    assert report["version"] == 6 and report["applied"]["policy.capacity"] == 7
    assert "policy.hours" in report["refused"]
    assert rig.gateway.access.policy.capacity == 7
    validate_published(f"{BASE}/config/reported", json.dumps(report).encode())


def test_self_test_cycles_the_relay_and_asks_every_device(rig: Rig, mock_pins: MockFactory) -> None:
    rig.relay.clear_states()
    reply = rig.ask("self_test", "st-1")
    assert reply["status"] == "ok", reply
    devices = reply["data"]["devices"]
    assert devices["relay-main"]["ok"] is True
    assert [s.state for s in rig.relay.states] == [True, False, True], "relay cycled once"
    assert devices["scanner-in"]["ok"] and devices["scanner-out"]["ok"]
    assert "register read" in devices["scanner-in"]["detail"]
    assert (
        devices["radar-radar"]["ok"] and "enable and end config" in devices["radar-radar"]["detail"]
    )
    assert rig.radar.config_mode is False, "the radar was left in config mode"
    assert devices["input-door-main"]["state"]["open"] is False
    assert "input-beams-main" in devices and "input-main-pir" in devices
    # An open door is never cycled, and an unplugged scanner fails.
    mock_pins.pin(PINS["contact"]).drive_high()
    rig.exit.close()
    rig.relay.clear_states()
    reply = rig.ask("self_test", "st-2")
    assert reply["status"] == "error"
    assert reply["data"]["skipped"]["relay-main"] == "not cycled: door open"
    assert reply["data"]["devices"]["scanner-out"]["ok"] is False
    assert "scanner-out" in reply["message"] and "skipped" in reply["message"]
    assert len(rig.relay.states) == 1, "the relay moved with the door open"
    mock_pins.pin(PINS["contact"]).drive_low()


def test_diagnostics_show_versions_uptime_outbox_and_recent_errors(rig: Rig) -> None:
    rig.ask("unlock", "u-bad", key=None)  # logs a warning
    reply = rig.ask("diagnostics", "d-1")
    data = reply["data"]
    assert reply["status"] == "ok" and data["version"] == "0.1.0"
    assert data["uptime_s"] >= 0 and data["outbox_depth"] >= 0 and data["connected"]
    assert any("u-bad" in entry["message"] for entry in data["recent_errors"])
    # The keys are the test mint's (version 1,000,000), not a central's.
    assert data["trust_versions"]["keys"] == 1_000_000


def test_log_level_per_logger_and_root(rig: Rig) -> None:
    target = logging.getLogger("gateway.access")
    saved, root_saved = target.level, logging.getLogger().level
    try:
        reply = rig.ask("log_level", "ll-1", level="debug", logger="gateway.access")
        assert reply["status"] == "ok" and reply["data"]["level"] == "DEBUG"
        assert target.level == logging.DEBUG
        assert rig.ask("log_level", "ll-2", level="ERROR")["data"]["logger"] == "root"
        assert logging.getLogger().level == logging.ERROR
        bad = rig.ask("log_level", "ll-3", level="LOUD")
        assert bad["status"] == "bad_args" and "DEBUG, INFO" in bad["message"]
    finally:
        target.setLevel(saved)
        logging.getLogger().setLevel(root_saved)


def test_reload_trust_asks_the_broker_again(rig: Rig) -> None:
    reply = rig.ask("reload_trust", "rt-1")
    assert reply["status"] == "ok" and reply["data"]["versions"]["keys"] == 1_000_000


def test_unknown_commands_and_bad_arguments_get_a_reply_that_says_why(rig: Rig) -> None:
    unknown = rig.ask("open_sesame", "x-1", key=None)
    assert unknown["status"] == "unknown_command" and "self_test" in unknown["message"]
    extra = rig.ask("ping", "x-2", key=None, loud=True)
    assert extra["status"] == "bad_args" and "'loud'" in extra["message"]
    door = rig.ask("unlock", "x-3", door="back")
    assert door["status"] == "wrong_target" and "no door 'back'" in door["message"]
    unnamed = rig.ask("unlock", "x-3b")
    assert unnamed["status"] == "bad_args" and "name the door" in unnamed["message"]
    seconds = rig.ask("unlock", "x-4", door=DOOR, seconds="long")
    assert seconds["status"] == "bad_args"
    flag = rig.ask("lockdown", "x-5", on="yes")
    assert flag["status"] == "bad_args" and "true or false" in flag["message"]
    empty = rig.ask("set_config", "x-6", settings=[])
    assert empty["status"] == "bad_args"
    assert rig.ask("ping", "x-7", key=None)["status"] == "ok", "still answering"


def is_reply_to(request_id: str, message: Message) -> bool:
    """Whether `message` is this gateway's reply to `request_id`, on any reply topic."""
    return (
        message.topic.startswith(f"{BASE}/reply")
        and json.loads(message.payload)["request_id"] == request_id
    )


def test_a_reply_goes_where_reply_to_asks_only_below_the_gateways_own_reply_topic(
    rig: Rig,
) -> None:
    own = f"{BASE}/reply"
    wanted_and_used = {
        "r-below": (f"{own}/alice", f"{own}/alice"),
        "r-other-gateway": ("yz/v1/st/mt-0001/gw/gw-2/reply", own),
        "r-wildcard": (f"{own}/#", own),
        "r-outside": ("somewhere/else", own),
    }
    for request_id, (wanted, used) in wanted_and_used.items():
        ping = Command(
            request_id=request_id,
            station_id=STATION,
            gateway_id=GATEWAY,
            reply_to=wanted,
            issued_at=utc_now(),
            command="ping",
        )
        rig.probe.publish(f"{BASE}/command", ping.to_json())
        reply = rig.probe.wait_for(partial(is_reply_to, request_id))
        assert (reply.topic, json.loads(reply.payload)["status"]) == (used, "ok"), request_id
