"""The lock relay of one door, driven through gpiozero."""

from __future__ import annotations

from gpiozero import DigitalOutputDevice
from gpiozero.pins import Factory


class LockRelay:
    """Pulses the relay that releases a door's lock; secured again when the pulse ends."""

    def __init__(self, pin: int, active_high: bool = True, pin_factory: Factory | None = None):
        self._relay = DigitalOutputDevice(
            pin, active_high=active_high, initial_value=False, pin_factory=pin_factory
        )

    def pulse(self, seconds: float) -> None:
        """Release the lock for `seconds`, without blocking the caller."""
        # gpiozero's blink runs in its own thread; a new pulse restarts the window.
        self._relay.blink(on_time=seconds, off_time=0, n=1, background=True)

    @property
    def released(self) -> bool:
        """True while the relay holds the lock released."""
        return bool(self._relay.value)

    def close(self) -> None:
        """Secure the lock and free the pin."""
        self._relay.off()
        self._relay.close()
