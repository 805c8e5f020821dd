"""GPIO edge for door feedback: plays `gateway.feedback` patterns on LEDs and a buzzer.

gpiozero's `blink(..., background=True)` runs each output's pattern in its own thread,
so showing a decision never delays the door; a new pattern cuts the previous one short.
"""

from __future__ import annotations

import logging
from typing import Any

from gpiozero import LED, Buzzer, DigitalOutputDevice

from contract.payloads import Reason
from gateway.feedback import Blink, pattern_for
from hardware.profile import FeedbackOutputs

log = logging.getLogger(__name__)


class DoorFeedback:
    """The green and red LEDs and the buzzer of one door; each is optional."""

    def __init__(self, outputs: FeedbackOutputs, pin_factory: Any = None) -> None:
        self._devices: list[DigitalOutputDevice] = []
        try:
            self.green = self._open(LED, outputs.green, outputs.active_high, pin_factory)
            self.red = self._open(LED, outputs.red, outputs.active_high, pin_factory)
            self.buzzer = self._open(Buzzer, outputs.buzzer, outputs.active_high, pin_factory)
        except BaseException:
            self.close()
            raise

    def _open(
        self, kind: type[DigitalOutputDevice], pin: int | None, active_high: bool, pin_factory: Any
    ) -> DigitalOutputDevice | None:
        if pin is None:
            return None
        device = kind(pin, active_high=active_high, initial_value=False, pin_factory=pin_factory)
        self._devices.append(device)
        return device

    def show(self, reason: Reason) -> None:
        """Play the pattern for `reason`; outputs the pattern leaves unused are switched off."""
        pattern = pattern_for(reason)
        for device, blink in (
            (self.green, pattern.green),
            (self.red, pattern.red),
            (self.buzzer, pattern.buzzer),
        ):
            if device is None:
                continue
            try:
                _play(device, blink)
            except Exception:  # a broken LED must never cost the worker their decision
                log.exception("feedback output %r failed", device)

    def close(self) -> None:
        """Switch everything off and release the pins."""
        for device in reversed(self._devices):
            try:
                device.close()
            except Exception:
                log.exception("closing feedback output %r failed", device)
        self._devices.clear()


def _play(device: DigitalOutputDevice, blink: Blink | None) -> None:
    if blink is None:
        device.off()
        return
    device.blink(on_time=blink.on_s, off_time=blink.off_s, n=blink.times, background=True)
