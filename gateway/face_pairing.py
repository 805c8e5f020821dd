"""Pairing a worker's face at the door: the enrolment window and the confirming scan.

A face terminal is put in enrolment mode for one door (the signed maintenance command
`face_enrol_start`); the terminal shows the consent notice and captures the face of the
worker in front of it, and keeps it. The worker then confirms by scanning their pass QR
at a scanner of the same door within the window. Only then does the gateway create the
person on the terminal, under the worker's pseudonymous number, and report the pairing
(`face_pairing/1`). A scan after the window, or a token that is not good, pairs nobody.
The rules here are pure; `gateway.service` does the I/O.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from contract.payloads import Reason
from contract.tokens import TokenError, verify_token
from gateway.access_rules import StationPolicy, TrustData

DEFAULT_WINDOW_S = 60.0
"""How long the worker has to scan their pass after the terminal captured their face."""
MAX_WINDOW_S = 300.0
NOTICE_VERSION = "face-consent-1"
"""The consent notice of docs/face-terminals.md, as terminals are told to show it."""
LATE_MEMORY_S = 600.0
"""How long after it closed a window is remembered, to say why a late scan paired nobody."""


@dataclass(frozen=True, slots=True)
class EnrolmentWindow:
    """One terminal in enrolment mode at one door, until `closes_s` (monotonic)."""

    terminal_id: str
    door_id: str
    notice_version: str
    closes_s: float


@dataclass(frozen=True, slots=True)
class Confirmed:
    """A good confirming scan: who, and the token they confirmed with."""

    worker_number: int
    token_not_before: int

    @property
    def person_id(self) -> str:
        """The person id on the terminal: the worker's pseudonymous number."""
        return str(self.worker_number)


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a scan in an enrolment window paired nobody."""

    reason: str


def confirm(
    text: str, trust: TrustData, policy: StationPolicy, now: datetime
) -> Confirmed | Refused:
    """Check a confirming QR scan as the door would, without opening it: the token must
    be authentic, in its window, cover this station, and its worker must not be revoked."""
    verified = verify_token(
        text, trust.keyring, now, location=policy.location, skew_s=policy.skew_s
    )
    if isinstance(verified, TokenError):
        return Refused(f"the pass QR was refused ({verified.reason.value}: {verified})")
    claims = verified.claims
    if claims.worker_number in trust.revocations.workers:
        return Refused(f"worker w{claims.worker_number} is {Reason.REVOKED.value}")
    return Confirmed(claims.worker_number, claims.not_before)


class EnrolmentDesk:
    """The open enrolment windows of one gateway, by door. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, EnrolmentWindow] = {}

    def open(self, window: EnrolmentWindow) -> None:
        """Open (or replace) the door's window."""
        with self._lock:
            self._open[window.door_id] = window

    def take(self, door_id: str, now_s: float) -> tuple[EnrolmentWindow | None, float]:
        """The door's window, closed by taking it: (window, 0) while it is open; (window,
        seconds late) after it closed, within `LATE_MEMORY_S`; (None, 0) when there is none.
        """
        with self._lock:
            window = self._open.get(door_id)
            if window is None:
                return None, 0.0
            late = now_s - window.closes_s
            if late > LATE_MEMORY_S:
                del self._open[door_id]
                return None, 0.0
            del self._open[door_id]
            return window, max(late, 0.0)

    def waiting(self) -> list[EnrolmentWindow]:
        """Every window not yet taken."""
        with self._lock:
            return list(self._open.values())
