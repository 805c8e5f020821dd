"""Opening a door from a phone: the central's rules, free of I/O.

A worker scans the door's sticker (a QR code holding the door's secret address) and taps
Open on the page it leads to. The central decides first, with the rules the gateway
applies to a scanned code (`contract.station_rules`): the worker's standing (revoked,
suspended, outside their validity), their scope, then the station's state as the
central knows it (opening hours in the station's zone, capacity against the current
count). Only then does it send the door's gateway a signed `phone_open`, which the
gateway decides again with its own state (lockdown, anti-passback, its head count) before
it releases the door. Abuse limits come before all of it: a per-worker rate limit, and
a geofence when one is set and the phone shared its position.

What the worker reads is one of a few `PhoneOutcome`s, in their language.
"""

from __future__ import annotations

import re
from datetime import datetime, time, tzinfo
from enum import StrEnum

from contract.payloads import Reason
from contract.station_rules import ALWAYS_OPEN, OpeningHours, station_refusal
from dashboard.core.commands import Outcome
from dashboard.core.workers import Worker, WorkerStatus

_HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class PhoneOutcome(StrEnum):
    """What the worker's page shows after a tap."""

    OPENED = "opened"
    """The gateway released the door (门已开)."""
    PENDING = "pending"
    """Sent; no answer yet (only while the page waits)."""
    FULL = "full"
    """The station is full (驿站已满)."""
    CLOSED = "closed"
    """Outside the station's opening hours (不在开放时间)."""
    NO_ANSWER = "no_answer"
    """The gateway did not answer in time (无应答); the command expires unused."""
    REFUSED = "refused"
    """Any other refusal (revoked, outside scope, lockdown, passback); `reason` says which."""
    RATE_LIMITED = "rate_limited"
    """Too many taps within a minute."""
    TOO_FAR = "too_far"
    """The phone shared a position farther from the station than the geofence allows."""
    NO_PASS = "no_pass"
    """The phone has no pass session: open the personal pass link first."""


def opening_hours(text: str | None) -> OpeningHours:
    """A station's `HH:MM-HH:MM` daily window as `OpeningHours`; None is 24 hours."""
    if text is None:
        return ALWAYS_OPEN
    match = _HOURS.match(text.strip())
    if match is None:
        raise ValueError(f"opening hours must read HH:MM-HH:MM, not {text!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return OpeningHours.daily(time(h1, m1), time(h2, m2))


def worker_refusal(worker: Worker, now: datetime) -> Reason | None:
    """Why the worker's own standing refuses them (as their token would be), or None."""
    if worker.status is not WorkerStatus.ACTIVE:
        return Reason.REVOKED
    if worker.valid_from is not None and now < worker.valid_from:
        return Reason.NOT_YET_VALID
    if not worker.valid_at(now):
        return Reason.EXPIRED
    return None


def central_refusal(
    worker: Worker,
    *,
    in_scope: bool,
    hours: str | None,
    zone: tzinfo,
    capacity: int | None,
    occupancy: int,
    now: datetime,
) -> Reason | None:
    """The central's decision on a phone open, in the gateway's order: the worker's
    standing, scope, then the station's state. None: send the door its `phone_open`.

    Lockdown and anti-passback are the gateway's to know; it decides them again."""
    standing = worker_refusal(worker, now)
    if standing is not None:
        return standing
    if not in_scope:
        return Reason.WRONG_SCOPE
    return station_refusal(
        lockdown=False,
        hours=opening_hours(hours),
        local_now=now.astimezone(zone),
        capacity=capacity,
        occupancy=occupancy,
        inside=False,
    )


def outcome_of_reason(reason: Reason) -> PhoneOutcome:
    """How a decision's reason reads on the worker's page."""
    if reason is Reason.GRANTED:
        return PhoneOutcome.OPENED
    if reason is Reason.FULL:
        return PhoneOutcome.FULL
    if reason is Reason.CLOSED:
        return PhoneOutcome.CLOSED
    return PhoneOutcome.REFUSED


def reason_in_reply(message: str) -> Reason | None:
    """The reason a gateway's `phone_open` refusal starts with (`full: door ...`)."""
    word = message.split(":", 1)[0].strip()
    try:
        return Reason(word)
    except ValueError:
        return None


def outcome_of_command(outcome: Outcome, message: str) -> tuple[PhoneOutcome, Reason | None]:
    """How a sent `phone_open` stands for the worker: the command's outcome, and for a
    refusal the gateway's reason."""
    if outcome is Outcome.PENDING:
        return PhoneOutcome.PENDING, None
    if outcome is Outcome.NO_ANSWER:
        return PhoneOutcome.NO_ANSWER, None
    if outcome is Outcome.DONE:
        return PhoneOutcome.OPENED, Reason.GRANTED
    reason = reason_in_reply(message)
    return (PhoneOutcome.REFUSED if reason is None else outcome_of_reason(reason)), reason


def over_rate(opens_in_last_minute: int, per_minute: int) -> bool:
    """Whether another tap would exceed the worker's limit per minute."""
    return opens_in_last_minute >= per_minute


def outside_geofence(distance_m: float | None, geofence_m: float | None) -> bool:
    """Whether a shared position is too far: only when a geofence is set and the phone
    shared its position (a phone that shares none is let through: the pass session and
    the rate limit still hold)."""
    return geofence_m is not None and distance_m is not None and distance_m > geofence_m
