"""The lock relay of one door, driven through gpiozero."""

from __future__ import annotations

import threading

from gpiozero import DigitalOutputDevice
from gpiozero.pins import Factory


class LockRelay:
    """Pulses the relay that releases a door's lock; secured again when the pulse ends."""

    def __init__(self, pin: int, active_high: bool = True, pin_factory: Factory | None = None):
        # Scanners on the same door run in their own threads; gpiozero's blink is not
        # safe to restart from two threads at once.
        self._guard = threading.Lock()
        self._relay = DigitalOutputDevice(
            pin, active_high=active_high, initial_value=False, pin_factory=pin_factory
        )

    def pulse(self, seconds: float) -> None:
        """Release the lock for `seconds`, without blocking the caller."""
        # gpiozero's blink runs in its own thread; a new pulse restarts the window.
        with self._guard:
            self._relay.blink(on_time=seconds, off_time=0, n=1, background=True)

    @property
    def released(self) -> bool:
        """True while the relay holds the lock released."""
        return bool(self._relay.value)

    def close(self) -> None:
        """Secure the lock and free the pin."""
        with self._guard:
            self._relay.off()
            self._relay.close()
