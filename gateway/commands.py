"""Commands to the gateway: freshness checks and dispatch, free of I/O.

A command is carried out only while it is fresh (`issued_at + ttl_s` not yet passed, and
not issued in the future beyond the allowed clock skew) and only once per request id: an
unlock queued in a broker during an outage must never open a door hours later. A command
that fails validation (another gateway's, or not a `command/1` at all) is answered too,
when it carries a request id a reply can echo (`refusal_of`).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from contract.codec import MAX_PAYLOAD_BYTES, Rejected
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


@dataclass(frozen=True, slots=True)
class Refusal:
    """The answer to a command that failed validation, and where the sender wants it."""

    request_id: str
    reply_to: str | None
    status: ReplyStatus
    message: str


def refusal_of(rejected: Rejected, raw: bytes) -> Refusal | None:
    """The reply to a command the codec refused; None when the payload holds no request
    id a reply could echo (then only the log says why)."""
    try:
        document = json.loads(raw) if len(raw) <= MAX_PAYLOAD_BYTES else None
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    request_id, reply_to = document.get("request_id"), document.get("reply_to")
    if not (isinstance(request_id, str) and 0 < len(request_id) <= 64 and request_id.isprintable()):
        return None
    if rejected.code == "wrong_identity":
        status = ReplyStatus.WRONG_TARGET
        message = f"this command is for another gateway ({rejected.reason}); not carried out"
    else:
        status = ReplyStatus.INVALID
        message = f"not a valid command/1 payload ({rejected.reason}); not carried out"
    return Refusal(
        request_id, reply_to if isinstance(reply_to, str) else None, status, message[:1024]
    )
