"""The gate every command passes: fresh, and never carried out twice.

`CommandGate` admits a command while it is fresh (`gateway.commands.freshness`) and its
request id has not been handled; `HandledRequests` keeps the request ids of the commands
a gateway has carried out, each until the command expires.

A command is refused once `issued_at + ttl_s` (capped) has passed, so its request id need
only be remembered until then; remembering every id that long, and none longer, means no
flood of other commands can push a live one out (a fixed-size list of recent ids could be
flushed by 1,025 pings). Memory is bounded by the commands a gateway can carry out within
the longest time-to-live (300 s at most).

Door-opening commands (those that must be signed) are also written to the state directory
(`handled_commands.json`) before they are carried out, so a restart does not forget them
either: a captured signed unlock can never be replayed while it is fresh. Commands
without a signature need no such protection (whoever could replay one could as well send
a new one), so their ids stay in memory, which still answers a broker's redelivery.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import Final

from contract.payloads import Command, ReplyStatus
from gateway.commands import DEFAULT_MAX_TTL_S, MAX_CLOCK_SKEW, Verdict, expires_at, freshness
from gateway.state_files import read_json, write_json

log = logging.getLogger(__name__)

FILE_NAME: Final = "handled_commands.json"
FORMAT: Final = 1

SWEEP_ABOVE: Final = 256
"""Expired ids are swept once the table grows past this, then not again until it doubles."""


class HandledRequests:
    """Request id → the time (Unix seconds) after which its command is refused anyway."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE_NAME
        self._lock = threading.Lock()
        self._durable = _load(self.path)
        self._until = dict(self._durable)
        self._sweep_above = max(SWEEP_ABOVE, 2 * len(self._until))

    def seen(self, request_id: str, now_s: float) -> bool:
        """Whether `request_id` was handled and its command has not yet expired at `now_s`."""
        with self._lock:
            until = self._until.get(request_id)
        return until is not None and until > now_s

    def remember(self, request_id: str, until_s: float, now_s: float, durable: bool) -> None:
        """Keep `request_id` until `until_s`; on disk as well when `durable` (written before
        this returns, so the command may then be carried out)."""
        with self._lock:
            if len(self._until) > self._sweep_above:
                self._until = {r: t for r, t in self._until.items() if t > now_s}
                self._sweep_above = max(SWEEP_ABOVE, 2 * len(self._until))
            self._until[request_id] = until_s
            if not durable:
                return
            self._durable = {r: t for r, t in self._durable.items() if t > now_s}
            self._durable[request_id] = until_s
            try:
                write_json(self.path, {"format": FORMAT, "requests": self._durable})
            except OSError as exc:
                # Remembered in memory still; only a restart within its lifetime forgets it.
                log.error("cannot save handled commands to %s: %s", self.path, exc)


class CommandGate:
    """Refuses expired, future-dated and replayed commands; remembers handled ones."""

    def __init__(self, state_dir: Path, max_ttl_s: float = DEFAULT_MAX_TTL_S) -> None:
        self.max_ttl_s = max_ttl_s
        self.handled_requests = HandledRequests(state_dir)

    def check(self, command: Command, now: datetime) -> Verdict:
        """Whether `command` may be carried out at `now`; changes nothing."""
        verdict = freshness(command, now, self.max_ttl_s)
        if not verdict.accepted:
            return verdict
        if self.handled_requests.seen(command.request_id, now.timestamp()):
            return Verdict(
                False,
                ReplyStatus.REPLAYED,
                f"request {command.request_id!r} was already handled; not carried out again",
            )
        return Verdict(True)

    def handled(self, command: Command, now: datetime, durable: bool) -> None:
        """Remember `command` as carried out until it expires (on disk too when `durable`);
        call it before carrying the command out."""
        # A little past expiry, so a clock set back by up to the allowed skew cannot make
        # a forgotten command fresh again.
        until = expires_at(command, self.max_ttl_s) + MAX_CLOCK_SKEW
        self.handled_requests.remember(
            command.request_id, until.timestamp(), now.timestamp(), durable
        )


def _load(path: Path) -> dict[str, float]:
    document = read_json(path, "handled commands")
    if document is None:
        return {}
    requests = document.get("requests") if isinstance(document, dict) else None
    if not isinstance(requests, dict) or document.get("format") != FORMAT:
        log.error("%s is not a format %d list of handled commands; ignored", path, FORMAT)
        return {}
    return {
        str(request_id): float(until)
        for request_id, until in requests.items()
        if isinstance(until, int | float) and not isinstance(until, bool)
    }
