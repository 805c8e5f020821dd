"""What access decisions must remember across a restart: used tokens and who is inside.

A gateway that forgot its replay cache on restart would let a token it had just granted
in again; one that forgot anti-passback would let a worker who is inside hand their code
out. Both live in `state_dir/access.json`, rewritten (atomically, `gateway.state_files`)
whenever a grant or a named exit changes them. The writing happens on a thread of its
own, never on the door's path: a burst of grants costs one write (one disk sync, which
takes milliseconds on an SD card) for all of them, and a clean stop writes what is left.
A crash can lose only the grants of the write in progress, as the outbox can lose the
appends of its current batch window::

    {"format": 1,
     "replay": [[worker, not_before, until], ...],
     "passback": [[worker, entered_at], ...]}

Times are Unix seconds. The file stays small on its own: a token is remembered until it
expires (at most 255 s plus skew), an entry until `passback_reset_s`, and both tables are
swept as they grow (`gateway.access_rules.PRUNE_ABOVE`). The throttle counters are not
kept: they count on the monotonic clock, which a reboot starts again.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Final

from gateway.access_rules import AccessState, PassbackState, ReplayCache, sweep_limit
from gateway.state_files import read_json, write_json

log = logging.getLogger(__name__)

FILE_NAME: Final = "access.json"
FORMAT: Final = 1


class AccessMemory:
    """The replay cache and anti-passback record of one gateway, on disk."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE_NAME
        self._pending: AccessState | None = None
        self._writing = False
        self._changed = threading.Condition()
        self._writer: threading.Thread | None = None

    def load(self) -> AccessState:
        """What the file holds; an empty memory when there is none or it cannot be read."""
        document = read_json(self.path, "the replay cache and anti-passback record")
        if document is None:
            return AccessState()
        try:
            return _state_of(document)
        except (TypeError, ValueError, KeyError) as exc:
            log.error("ignored %s, which is not a format %d file: %s", self.path, FORMAT, exc)
            return AccessState()

    def save(self, state: AccessState) -> None:
        """Have `state` written soon, on the writer thread; returns at once. A newer state
        handed over before the write starts replaces it: only the latest is written."""
        with self._changed:
            self._pending = state
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_forever, daemon=True)
                self._writer.name = "access-memory"
                self._writer.start()
            self._changed.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every state handed to `save` is on disk; False on timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self._pending is None and not self._writing, timeout
            )

    def _write_forever(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._pending is not None)
                state, self._pending, self._writing = self._pending, None, True
            try:
                if state is not None:
                    self._write(state)
            finally:
                with self._changed:
                    self._writing = False
                    self._changed.notify_all()

    def _write(self, state: AccessState) -> None:
        document = {
            "format": FORMAT,
            "replay": [
                [worker, not_before, until]
                for (worker, not_before), until in state.replay.forget_after.items()
            ],
            "passback": [[worker, at] for worker, at in state.passback.entered_at.items()],
        }
        try:
            write_json(self.path, document)
        except OSError as exc:
            # Deciding goes on from memory; only a restart would forget this change.
            log.error("cannot save the replay cache to %s: %s", self.path, exc)


def _state_of(document: Any) -> AccessState:
    if document["format"] != FORMAT:
        raise ValueError(f"format {document['format']!r}")
    replay = {(int(w), int(nb)): float(until) for w, nb, until in document["replay"]}
    passback = {int(worker): float(at) for worker, at in document["passback"]}
    return AccessState(
        ReplayCache(replay, sweep_limit(len(replay))),
        PassbackState(passback, sweep_limit(len(passback))),
    )
