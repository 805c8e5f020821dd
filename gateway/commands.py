"""Commands to the gateway: freshness, expiry and answers to invalid ones, free of I/O.

A command is carried out only while it is fresh (`issued_at + ttl_s` not yet passed, the
time-to-live capped by the gateway, and not issued in the future beyond the allowed clock
skew) and only once per request id (`gateway.command_gate`): an unlock queued in a broker
during an outage must never open a door hours later. A command
that fails validation (another gateway's, or not a `command/1` at all) is answered too,
when it carries a request id a reply can echo (`refusal_of`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from contract.codec import MAX_PAYLOAD_BYTES, Rejected
from contract.payloads import Command, ReplyStatus

MAX_CLOCK_SKEW = timedelta(seconds=30)
"""How far in the future a command's `issued_at` may lie before it is refused."""

DEFAULT_MAX_TTL_S = 60.0
"""A gateway's cap on a command's `ttl_s` unless `[maintenance] max_command_ttl_s` says
otherwise: an unlock that waited in a broker for more than a minute is not wanted."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether to carry a command out, and if not, the reply status and message."""

    accepted: bool
    status: ReplyStatus = ReplyStatus.OK
    message: str = ""


def expires_at(command: Command, max_ttl_s: float) -> datetime:
    """When `command` expires: `issued_at + ttl_s`, the time-to-live capped at `max_ttl_s`."""
    return command.issued_at + timedelta(seconds=min(command.ttl_s, max_ttl_s))


def freshness(command: Command, now: datetime, max_ttl_s: float) -> Verdict:
    """Whether `command` is fresh at `now`: not expired, and not dated in the future beyond
    `MAX_CLOCK_SKEW`."""
    expires = expires_at(command, max_ttl_s)
    if now >= expires:
        late = (now - expires).total_seconds()
        capped = f", capped to {max_ttl_s:g} s by this gateway" if command.ttl_s > max_ttl_s else ""
        return Verdict(
            False,
            ReplyStatus.EXPIRED,
            f"command expired {late:.1f} s ago (issued {command.issued_at.isoformat()}, "
            f"ttl {command.ttl_s:g} s{capped}); not carried out",
        )
    if command.issued_at - now > MAX_CLOCK_SKEW:
        return Verdict(
            False,
            ReplyStatus.EXPIRED,
            "command is dated in the future beyond the allowed clock skew; "
            "check the sender's clock",
        )
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
