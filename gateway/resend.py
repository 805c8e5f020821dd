"""When the gateway publishes again what the central has not confirmed storing.

The broker's acknowledgement says only that the broker has an event; a broker that
crashes before its next save loses it, and the central's retained `stored/1` mark then
stops short of it. The gateway keeps such events and publishes them again, in order and
unchanged (same event id, same sequence number, so the central stores each once):

- at once when a central comes online (it may have lost what the broker held for it);
- when the mark has not moved for `wait_s` while events wait for it and some central is
  online; each fruitless pass doubles the wait, up to `max_wait_s`, so a central that
  cannot store (its database down) is not buried under copies, and progress resets it.

Pure: the caller passes the time (monotonic seconds) in.
"""

from __future__ import annotations


class ResendPolicy:
    """Decides the passes that publish unconfirmed events again."""

    def __init__(self, wait_s: float, max_wait_s: float, now: float) -> None:
        self.wait_s = wait_s
        self.max_wait_s = max(wait_s, max_wait_s)
        self._wait = wait_s
        self._since = now
        self._online: set[str] = set()

    @property
    def central_online(self) -> bool:
        """Whether some central replica last said it is online."""
        return bool(self._online)

    def progress(self, now: float) -> None:
        """The central's mark moved: wait the shortest time again from now."""
        self._since = now
        self._wait = self.wait_s

    def central(self, central_id: str, online: bool, live: bool, now: float) -> bool:
        """A central's availability arrived (`live`: just said, not a retained copy).
        True when a pass is due now: that central has just come online."""
        if not online:
            self._online.discard(central_id)
            return False
        self._online.add(central_id)
        if not live:
            return False
        self.progress(now)
        return True

    def due(self, now: float, unconfirmed: int) -> bool:
        """Whether a pass is due now, with `unconfirmed` events waiting for the mark."""
        if unconfirmed == 0:
            # Nothing waits: the clock starts with the next event the broker takes.
            self.progress(now)
            return False
        if not self._online or now - self._since < self._wait:
            return False
        self._since = now
        self._wait = min(self._wait * 2, self.max_wait_s)
        return True
