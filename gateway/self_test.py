"""The self-test: cycle each door's relay, read every input, ask each serial device.

Scanners get a zone-bit register read (the trigger-mode register) and must answer with
a valid reply frame; radars get "enable config" then "end config" and must acknowledge
both. A device that stays silent past the timeout fails. The relay is cycled only on a
door that is closed, secured and not in lockdown or fire: never while someone may be
passing, and the reply says when a door was skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from firmware_bridge import grow_commands, ld2410
from firmware_bridge.grow_commands import GrowReply
from firmware_bridge.ld2410 import CommandAck
from gateway.devices import StationDevices

RELAY_PULSE_S = 0.3
"""How long the self-test releases a lock: a click you can hear, too short to walk in."""

REPLY_TIMEOUT_S = 1.0


@dataclass
class SelfTestResult:
    """Per device: ok or not, with a detail; `skipped` lists what was not tried and why."""

    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every device that was tried passed."""
        return all(entry["ok"] for entry in self.devices.values())

    def summary(self) -> str:
        """One line for a person."""
        failed = [name for name, entry in self.devices.items() if not entry["ok"]]
        text = (
            f"self-test passed ({len(self.devices)} checks)"
            if not failed
            else f"self-test failed: {', '.join(failed)}"
        )
        if self.skipped:
            text += "; skipped: " + "; ".join(f"{k} ({v})" for k, v in self.skipped.items())
        return text


def _scanner(devices: StationDevices, name: str) -> dict[str, Any]:
    reply = devices.ask(
        name, grow_commands.encode_read(grow_commands.Register.MODE), REPLY_TIMEOUT_S
    )
    if isinstance(reply, GrowReply) and reply.ok and len(reply.data) == 1:
        return {"ok": True, "detail": f"answered a register read (mode {reply.data[0]:#04x})"}
    return {"ok": False, "detail": f"no answer to a register read within {REPLY_TIMEOUT_S:g} s"}


def _radar(devices: StationDevices, name: str) -> dict[str, Any]:
    steps = (
        ("enable config", ld2410.enable_config(), ld2410.Command.ENABLE_CONFIG),
        ("end config", ld2410.end_config(), ld2410.Command.END_CONFIG),
    )
    for label, frame, word in steps:
        reply = devices.ask(name, frame, REPLY_TIMEOUT_S)
        if not (isinstance(reply, CommandAck) and reply.command == word and reply.ok):
            if label == "end config":
                # Never leave the radar silent in config mode: try once more.
                devices.ask(name, ld2410.end_config(), REPLY_TIMEOUT_S)
            return {"ok": False, "detail": f"no acknowledgement of {label!r}"}
    return {"ok": True, "detail": "acknowledged enable and end config"}


def _relay(devices: StationDevices, door_id: str, result: SelfTestResult) -> None:
    door = devices.doors[door_id]
    if not door.pulse_relay(RELAY_PULSE_S):
        status = door.status()
        why = (
            "door open"
            if status["open"]
            else "lockdown"
            if status["lockdown"]
            else "fire"
            if status["fire"]
            else "lock released (in use)"
        )
        result.skipped[f"relay-{door_id}"] = f"not cycled: {why}"
        return
    secured = door.wait_secured(RELAY_PULSE_S + 2.0)
    result.devices[f"relay-{door_id}"] = {
        "ok": secured,
        "detail": f"released {RELAY_PULSE_S:g} s and secured again"
        if secured
        else "released but not secured again in time",
    }


def run_self_test(devices: StationDevices) -> SelfTestResult:
    """Run every check; blocks for at most a few seconds (run it off the MQTT thread)."""
    result = SelfTestResult()
    for door_id in devices.doors:
        _relay(devices, door_id, result)
    for name, reading in devices.inputs().items():
        result.devices[f"input-{name}"] = {"ok": True, "detail": "read", "state": reading}
    for name in devices.loops:
        check = _scanner if name.startswith("scanner-") else _radar
        result.devices[name] = check(devices, name)
    return result
