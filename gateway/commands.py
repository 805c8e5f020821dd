"""Commands to the gateway: freshness checks and dispatch, free of I/O.

A command is carried out only while it is fresh (`issued_at + ttl_s` not yet passed, and
not issued in the future beyond the allowed clock skew) and only once per request id: an
unlock queued in a broker during an outage must never open a door hours later.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from contract.payloads import Command, ReplyStatus

MAX_CLOCK_SKEW = timedelta(seconds=30)
"""How far in the future a command's `issued_at` may lie before it is refused."""

REMEMBERED_REQUESTS = 1024


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether to carry a command out, and if not, the reply status and message."""

    accepted: bool
    status: ReplyStatus = ReplyStatus.OK
    message: str = ""


class CommandGate:
    """Refuses expired, future-dated and replayed commands; remembers recent request ids."""

    def __init__(self, remembered: int = REMEMBERED_REQUESTS) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._remembered = remembered

    def admit(self, command: Command, now: datetime) -> Verdict:
        """Decide whether `command` may run now; a refused command changes nothing."""
        expires = command.issued_at + timedelta(seconds=command.ttl_s)
        if now >= expires:
            late = (now - expires).total_seconds()
            return Verdict(
                False,
                ReplyStatus.EXPIRED,
                f"command expired {late:.1f} s ago (issued {command.issued_at.isoformat()}, "
                f"ttl {command.ttl_s:g} s); not carried out",
            )
        if command.issued_at - now > MAX_CLOCK_SKEW:
            return Verdict(
                False,
                ReplyStatus.EXPIRED,
                "command is dated in the future beyond the allowed clock skew; "
                "check the sender's clock",
            )
        if command.request_id in self._seen:
            return Verdict(
                False,
                ReplyStatus.REPLAYED,
                f"request {command.request_id!r} was already handled; not carried out again",
            )
        self._seen[command.request_id] = None
        if len(self._seen) > self._remembered:
            self._seen.popitem(last=False)
        return Verdict(True)
