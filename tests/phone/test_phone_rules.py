"""The pure parts of a phone open: the central's decision and what the page shows, the
gateway's decision on a `phone_open`, and the command's need for a signature."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from contract.payloads import CredentialKind, Decision, Direction, Reason
from contract.station_rules import OpeningHours
from contract.tokens import StationLocation
from dashboard.core.commands import Outcome
from dashboard.core.phone_open import (
    PhoneOutcome,
    central_refusal,
    opening_hours,
    outcome_of_command,
    outside_geofence,
    over_rate,
)
from dashboard.core.workers import Platform, Worker, WorkerStatus
from gateway.access_rules import (
    AccessRequest,
    AccessState,
    PhoneCredential,
    RevocationSet,
    StationPolicy,
    TrustData,
    decide,
)
from tests.credentials.support import KEY_A, gateway_ring

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


def worker(**changes: object) -> Worker:
    base = Worker(
        number=42,
        display_name="李明",
        platform=next(iter(Platform)),
        groups=(),
        valid_from=None,
        valid_until=None,
        status=WorkerStatus.ACTIVE,
        scope="any",
        face_ids=(),
        card_numbers=(),
        created_at=NOON,
        updated_at=NOON,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def central(who: Worker, **station: object) -> Reason | None:
    fields: dict[str, object] = dict(
        in_scope=True, hours=None, zone=SHANGHAI, capacity=10, occupancy=0, now=NOON
    )
    fields.update(station)
    return central_refusal(who, **fields)  # type: ignore[arg-type]


def test_the_central_decides_in_the_gateways_order() -> None:
    assert central(worker()) is None
    assert central(worker(status=WorkerStatus.SUSPENDED)) is Reason.REVOKED
    assert central(worker(valid_until=NOON - timedelta(days=1))) is Reason.EXPIRED
    assert central(worker(valid_from=NOON + timedelta(days=1))) is Reason.NOT_YET_VALID
    assert central(worker(), in_scope=False) is Reason.WRONG_SCOPE
    assert central(worker(), hours="18:00-06:00") is Reason.CLOSED
    assert central(worker(), hours="06:00-18:00") is None
    assert central(worker(), occupancy=10) is Reason.FULL
    # Standing before station state: a suspended worker never learns the station is full.
    assert central(worker(status=WorkerStatus.SUSPENDED), occupancy=10) is Reason.REVOKED
    assert central(worker(), hours="18:00-06:00", occupancy=10) is Reason.CLOSED


def test_opening_hours_read_as_the_gateway_reads_them() -> None:
    assert opening_hours(None).always_open
    assert opening_hours("22:00-06:00") == OpeningHours.daily(time(22), time(6))


def test_what_the_page_shows_for_each_answer() -> None:
    assert outcome_of_command(Outcome.DONE, "granted: door released") == (
        PhoneOutcome.OPENED,
        Reason.GRANTED,
    )
    assert outcome_of_command(Outcome.REFUSED, "full: door 'main' stays shut") == (
        PhoneOutcome.FULL,
        Reason.FULL,
    )
    assert outcome_of_command(Outcome.REFUSED, "passback: door 'main' stays shut") == (
        PhoneOutcome.REFUSED,
        Reason.PASSBACK,
    )
    assert outcome_of_command(Outcome.REFUSED, "command expired 3.0 s ago") == (
        PhoneOutcome.REFUSED,
        None,
    )
    assert outcome_of_command(Outcome.NO_ANSWER, "") == (PhoneOutcome.NO_ANSWER, None)
    assert outcome_of_command(Outcome.PENDING, "") == (PhoneOutcome.PENDING, None)


def test_abuse_limits() -> None:
    assert not over_rate(5, 6) and over_rate(6, 6)
    assert not outside_geofence(5000.0, None)  # no geofence set
    assert not outside_geofence(None, 300.0)  # the phone shared no position
    assert not outside_geofence(299.0, 300.0) and outside_geofence(301.0, 300.0)


def gateway_decides(policy: StationPolicy, occupancy: int = 0, **trust: object) -> Reason:
    request = AccessRequest(PhoneCredential(42, 0), "main", Direction.IN, NOON, 100.0)
    data = TrustData(gateway_ring(KEY_A), **trust)  # type: ignore[arg-type]
    decision = decide(request, policy, data, AccessState(), occupancy)
    assert decision.credential is CredentialKind.PHONE
    assert decision.worker_id is not None
    assert (decision.decision is Decision.GRANTED) == (decision.reason is Reason.GRANTED)
    return decision.reason


def test_the_gateway_decides_a_phone_open_by_the_scans_rules() -> None:
    policy = StationPolicy(location=StationLocation(1, 430102), capacity=2)
    assert gateway_decides(policy) is Reason.GRANTED
    assert gateway_decides(policy, occupancy=2) is Reason.FULL
    assert gateway_decides(replace(policy, lockdown=True)) is Reason.LOCKDOWN
    closed = replace(policy, hours=OpeningHours.daily(time(18), time(6)))
    assert gateway_decides(closed) is Reason.CLOSED
    assert gateway_decides(replace(policy, allowed_groups=frozenset({3}))) is Reason.WRONG_SCOPE
    revoked = RevocationSet(frozenset({42}), 1)
    assert gateway_decides(policy, revocations=revoked) is Reason.REVOKED
    # Anti-passback: once in, the worker is inside until seen leaving.
    passback = replace(policy, anti_passback=True)
    request = AccessRequest(PhoneCredential(42, 0), "main", Direction.IN, NOON, 100.0)
    trust = TrustData(gateway_ring(KEY_A))
    first = decide(request, passback, trust, AccessState(), 0)
    state = AccessState().after(first, passback)
    assert decide(request, passback, trust, state, 1).reason is Reason.PASSBACK
