"""Access decisions at the door: every reason, the precedence between them, and state."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from contract.credential_payloads import CredentialEntry, CredentialMap, Revocations
from contract.payloads import AccessEvent, CredentialKind, Decision, Direction, Reason
from contract.station_rules import OpeningHours, OpeningInterval
from contract.tokens import Scope, SigningKey, decode_token, issue_token
from gateway.access_rules import (
    PRUNE_ABOVE,
    AccessDecision,
    AccessRequest,
    AccessState,
    CardCredential,
    CredentialDirectory,
    FaceCredential,
    Presented,
    QrCredential,
    RevocationSet,
    StationPolicy,
    ThrottlePolicy,
    ThrottleState,
    TrustData,
    decide,
)
from gateway.events import EventStamper
from gateway.wire_events import from_access
from tests.credentials.support import HERE, KEY_A, KEY_B, NOON_SHANGHAI, gateway_ring, published

WORKER = 11_223_344
FACE_WORKER = 55_667_788
DOOR = "front"

TRUST = TrustData(gateway_ring(KEY_A)).with_payload(
    CredentialMap(
        station_id="cs-furong-001",
        version=1,
        issued_at=NOON_SHANGHAI,
        entries=[
            CredentialEntry(kind="face", external_id="hik-0042", worker_number=FACE_WORKER),
            CredentialEntry(kind="card", external_id="12345678", worker_number=WORKER, group=2),
        ],
    )
)
POLICY = StationPolicy(location=HERE, capacity=10)
EMPTY = AccessState()


def qr(
    now: datetime = NOON_SHANGHAI,
    worker: int = WORKER,
    key: SigningKey = KEY_A,
    scope: Scope | None = None,
    group: int = 0,
) -> QrCredential:
    """A token shown at `now`, from the rotation step the phone page would be on."""
    text = issue_token(
        key,
        worker_number=worker,
        not_before=now - timedelta(seconds=5),
        scope=scope or Scope.any(),
        group=group,
    )
    return QrCredential(text)


def ask(
    credential: Presented,
    *,
    now: datetime = NOON_SHANGHAI,
    direction: Direction = Direction.IN,
    policy: StationPolicy = POLICY,
    trust: TrustData = TRUST,
    state: AccessState = EMPTY,
    occupancy: int = 0,
    door: str = DOOR,
    monotonic_s: float | None = None,
) -> AccessDecision:
    """Decide at `now`; the monotonic clock reads as the wall clock unless told otherwise."""
    mono = now.timestamp() if monotonic_s is None else monotonic_s
    request = AccessRequest(credential, door, direction, now, mono)
    return decide(request, policy, trust, state, occupancy)


def shanghai(hour: int, minute: int = 0, day: int = 5) -> datetime:
    """A moment given in Shanghai wall time (2026-01-05 is a Monday), as UTC."""
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


# --- grants and the egress rule ------------------------------------------------------


def test_a_valid_token_is_granted_and_names_the_pseudonymous_worker() -> None:
    decision = ask(qr())
    assert (decision.decision, decision.reason) == (Decision.GRANTED, Reason.GRANTED)
    assert decision.worker_id == f"w{WORKER}"
    assert decision.credential is CredentialKind.QR


def test_a_full_station_refuses_entry_and_still_lets_people_out() -> None:
    entering = ask(qr(), occupancy=10)
    assert (entering.decision, entering.reason) == (Decision.DENIED, Reason.FULL)
    assert entering.worker_id == f"w{WORKER}"

    leaving = ask(qr(), occupancy=10, direction=Direction.OUT)
    assert (leaving.decision, leaving.reason) == (Decision.GRANTED, Reason.GRANTED)
    assert ask(qr(), occupancy=9).granted


@pytest.mark.parametrize(
    "credential",
    [
        QrCredential("garbage"),
        QrCredential(""),
        FaceCredential("stranger"),
        CardCredential("999"),
    ],
)
def test_exits_are_granted_whatever_the_credential_or_station_state(
    credential: Presented,
) -> None:
    worst = replace(POLICY, lockdown=True, hours=OpeningHours(()), anti_passback=True)
    decision = ask(credential, direction=Direction.OUT, policy=worst, occupancy=99)
    assert decision.granted
    assert decision.worker_id is None


def test_an_exit_with_an_expired_or_revoked_token_is_granted() -> None:
    revoked = TRUST.with_payload(
        Revocations(version=1, issued_at=NOON_SHANGHAI, worker_numbers=[WORKER])
    )
    later = NOON_SHANGHAI + timedelta(hours=1)
    assert ask(qr(), now=later, direction=Direction.OUT).granted
    assert ask(qr(), direction=Direction.OUT, trust=revoked).granted


# --- opening hours -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "at", "is_open"),
    [
        (OpeningHours.daily(time(8), time(20)), shanghai(8), True),
        (OpeningHours.daily(time(8), time(20)), shanghai(19, 59), True),
        (OpeningHours.daily(time(8), time(20)), shanghai(20), False),
        (OpeningHours.daily(time(8), time(20)), shanghai(7, 59), False),
        # Past midnight: 22:00-06:00.
        (OpeningHours.daily(time(22), time(6)), shanghai(23), True),
        (OpeningHours.daily(time(22), time(6)), shanghai(3), True),
        (OpeningHours.daily(time(22), time(6)), shanghai(6), False),
        (OpeningHours.daily(time(22), time(6)), shanghai(12), False),
        # A night that starts Friday only: Saturday 03:00 open, Sunday 03:00 not.
        (
            OpeningHours((OpeningInterval(time(22), time(6), frozenset({4})),)),
            shanghai(3, 0, 10),
            True,
        ),
        (
            OpeningHours((OpeningInterval(time(22), time(6), frozenset({4})),)),
            shanghai(3, 0, 11),
            False,
        ),
        (
            OpeningHours((OpeningInterval(time(22), time(6), frozenset({4})),)),
            shanghai(23, 0, 9),
            True,
        ),
        (
            OpeningHours((OpeningInterval(time(22), time(6), frozenset({4})),)),
            shanghai(23, 0, 8),
            False,
        ),
        # Never open.
        (OpeningHours(()), shanghai(12), False),
    ],
)
def test_opening_hours_in_the_station_time_zone(
    hours: OpeningHours, at: datetime, is_open: bool
) -> None:
    decision = ask(qr(now=at), now=at, policy=replace(POLICY, hours=hours))
    assert decision.reason is (Reason.GRANTED if is_open else Reason.CLOSED)


def test_the_zone_decides_what_the_hours_mean() -> None:
    # 01:00 UTC is 09:00 in Shanghai (open 08-20) but 01:00 in London (closed).
    at = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    daytime = replace(POLICY, hours=OpeningHours.daily(time(8), time(20)))
    assert ask(qr(now=at), now=at, policy=daytime).granted
    london = replace(daytime, zone=ZoneInfo("Europe/London"))
    assert ask(qr(now=at), now=at, policy=london).reason is Reason.CLOSED


def test_a_24_hour_station_is_open_at_every_hour() -> None:
    for hour in range(24):
        at = shanghai(hour, 30)
        assert ask(qr(now=at), now=at).granted, hour
    assert POLICY.hours.always_open
    assert OpeningHours.daily(time(6), time(6)).is_open(datetime(2026, 1, 5, 5, 59))


# --- revocation, replay, scope, groups -----------------------------------------------


def test_a_revoked_worker_is_refused_by_token_and_by_face() -> None:
    trust = TRUST.with_payload(
        Revocations(version=3, issued_at=NOON_SHANGHAI, worker_numbers=[WORKER, FACE_WORKER])
    )
    assert ask(qr(), trust=trust).reason is Reason.REVOKED
    assert ask(FaceCredential("hik-0042"), trust=trust).reason is Reason.REVOKED
    assert ask(qr(worker=WORKER + 1), trust=trust).granted


def test_an_older_revocation_list_never_undoes_a_newer_one() -> None:
    newer = TRUST.with_payload(
        Revocations(version=5, issued_at=NOON_SHANGHAI, worker_numbers=[WORKER])
    )
    stale = newer.with_payload(Revocations(version=4, issued_at=NOON_SHANGHAI))
    assert stale.revocations == RevocationSet(frozenset({WORKER}), 5)
    assert ask(qr(), trust=stale).reason is Reason.REVOKED


def test_a_newer_key_list_replaces_the_ring() -> None:
    rotated = TRUST.with_payload(published(KEY_B, version=2))
    assert ask(qr(key=KEY_B), trust=rotated).granted
    assert ask(qr(key=KEY_A), trust=rotated).reason is Reason.UNKNOWN_KEY
    assert rotated.with_payload(published(KEY_A, version=2)) is rotated


def test_a_token_used_once_is_refused_as_replayed_until_it_expires() -> None:
    shown = qr()
    first = ask(shown)
    state = EMPTY.after(first, POLICY)
    assert first.granted
    assert len(state.replay) == 1

    again = ask(shown, now=NOON_SHANGHAI + timedelta(seconds=3), state=state)
    assert (again.reason, again.worker_id) == (Reason.REPLAYED, f"w{WORKER}")

    # The next rotation step's token is a different token.
    t1 = NOON_SHANGHAI + timedelta(seconds=30)
    assert ask(qr(now=t1), now=t1, state=state).granted


def test_the_replay_cache_stays_bounded_and_forgets_expired_tokens() -> None:
    shown = qr()
    state = EMPTY.after(ask(shown), POLICY)
    # A grant every 5 s (one door cycle) for an hour: far more than the cache may keep.
    for i in range(1, 720):
        at = NOON_SHANGHAI + timedelta(seconds=5 * i)
        state = state.after(ask(qr(now=at, worker=i), now=at, state=state), POLICY)
        assert len(state.replay) <= PRUNE_ABOVE + 1

    assert decode_token(shown.text).claims.token_id not in state.replay.forget_after
    assert ask(shown, now=at, state=state).reason is Reason.EXPIRED


def test_a_token_refused_for_a_full_station_is_not_used_up() -> None:
    shown = qr()
    refused = ask(shown, occupancy=10)
    state = EMPTY.after(refused, POLICY)
    assert refused.reason is Reason.FULL
    assert ask(shown, occupancy=9, state=state).granted


def test_wrong_scope_and_groups_the_station_does_not_admit() -> None:
    assert ask(qr(scope=Scope.station(HERE.station_number + 1))).reason is Reason.WRONG_SCOPE
    assert ask(qr(scope=Scope.region(430100))).granted

    couriers_only = replace(POLICY, allowed_groups=frozenset({2}))
    assert ask(qr(group=1), policy=couriers_only).reason is Reason.WRONG_SCOPE
    assert ask(qr(group=2), policy=couriers_only).granted
    assert ask(CardCredential("12345678"), policy=couriers_only).granted
    assert ask(FaceCredential("hik-0042"), policy=couriers_only).reason is Reason.WRONG_SCOPE


@pytest.mark.parametrize(
    ("credential", "reason"),
    [
        (QrCredential("YZ1:not a token"), Reason.MALFORMED),
        (QrCredential(qr().text.replace("YZ1:", "YZ2:")), Reason.MALFORMED),
    ],
)
def test_malformed_codes(credential: QrCredential, reason: Reason) -> None:
    decision = ask(credential)
    assert (decision.reason, decision.worker_id, decision.throttle_key) == (reason, None, None)


# --- face terminals and cards --------------------------------------------------------


def test_a_mapped_face_is_granted_and_an_unmapped_one_is_unknown_face() -> None:
    known = ask(FaceCredential("hik-0042"))
    assert (known.reason, known.worker_id) == (Reason.GRANTED, f"w{FACE_WORKER}")
    assert known.credential is CredentialKind.FACE

    unknown = ask(FaceCredential("hik-9999"))
    assert (unknown.decision, unknown.reason, unknown.worker_id) == (
        Decision.DENIED,
        Reason.UNKNOWN_FACE,
        None,
    )


def test_cards_map_to_workers_and_unmapped_cards_are_unknown_credentials() -> None:
    assert ask(CardCredential("12345678")).worker_id == f"w{WORKER}"
    assert ask(CardCredential("87654321")).reason is Reason.UNKNOWN_CREDENTIAL


def test_the_credential_map_follows_its_version() -> None:
    emptied = TRUST.with_payload(
        CredentialMap(station_id="cs-furong-001", version=2, issued_at=NOON_SHANGHAI)
    )
    assert ask(FaceCredential("hik-0042"), trust=emptied).reason is Reason.UNKNOWN_FACE
    assert emptied.credentials == CredentialDirectory(version=2)


# --- anti-passback -------------------------------------------------------------------


def test_passback_a_worker_inside_must_leave_before_entering_again() -> None:
    policy = replace(POLICY, anti_passback=True)
    state = EMPTY.after(ask(qr(), policy=policy), policy)

    t1 = NOON_SHANGHAI + timedelta(minutes=1)
    second = ask(qr(now=t1), now=t1, policy=policy, state=state)
    assert (second.reason, second.worker_id) == (Reason.PASSBACK, f"w{WORKER}")
    # The same person by another credential is the same worker.
    assert ask(CardCredential("12345678"), now=t1, policy=policy, state=state).reason is (
        Reason.PASSBACK
    )

    out = ask(qr(now=t1), now=t1, policy=policy, state=state, direction=Direction.OUT)
    state = state.after(out, policy)
    t2 = t1 + timedelta(minutes=1)
    assert ask(qr(now=t2), now=t2, policy=policy, state=state).granted


def test_passback_is_off_by_default_and_lapses_after_the_reset_time() -> None:
    state = EMPTY.after(ask(qr()), POLICY)
    t1 = NOON_SHANGHAI + timedelta(minutes=1)
    assert ask(qr(now=t1), now=t1, state=state).granted

    policy = replace(POLICY, anti_passback=True, passback_reset_s=3600)
    state = EMPTY.after(ask(qr(), policy=policy), policy)
    t2 = NOON_SHANGHAI + timedelta(hours=1)
    assert ask(qr(now=t2), now=t2, policy=policy, state=state).granted
    assert state.passback.cleared().entered_at == {}


def test_an_anonymous_exit_does_not_clear_passback() -> None:
    policy = replace(POLICY, anti_passback=True)
    state = EMPTY.after(ask(qr(), policy=policy), policy)
    out = ask(QrCredential("smudged"), policy=policy, state=state, direction=Direction.OUT)
    assert state.after(out, policy) == state


# --- throttling ----------------------------------------------------------------------


def run(state: AccessState, decision: AccessDecision, policy: StationPolicy) -> AccessState:
    return state.after(decision, policy)


def test_junk_at_a_reader_throttles_its_junk_and_never_a_valid_token() -> None:
    policy = replace(POLICY, throttle=ThrottlePolicy(window_s=60, per_door=3, per_credential=10))
    state = EMPTY
    impostor = SigningKey.from_private_bytes(KEY_A.key_id, bytes(32))
    for i, junk in enumerate([QrCredential("junk"), qr(key=impostor), QrCredential("")]):
        at = NOON_SHANGHAI + timedelta(seconds=i)
        state = run(state, ask(junk, now=at, policy=policy, state=state), policy)

    at = NOON_SHANGHAI + timedelta(seconds=5)
    blocked = ask(QrCredential("more junk"), now=at, policy=policy, state=state)
    assert blocked.reason is Reason.THROTTLED
    assert ask(qr(key=impostor, now=at), now=at, policy=policy, state=state).reason is (
        Reason.THROTTLED
    )
    # A validly signed token is never throttled, at this reader or any other.
    assert ask(qr(now=at), now=at, policy=policy, state=state).granted
    # The junk source is this door's QR reader: its card reader is not throttled.
    assert ask(CardCredential("99999999"), now=at, policy=policy, state=state).reason is (
        Reason.UNKNOWN_CREDENTIAL
    )
    # Throttled denials do not extend the block.
    state = run(state, blocked, policy)
    later = NOON_SHANGHAI + timedelta(seconds=61)
    assert ask(QrCredential("junk"), now=later, policy=policy, state=state).reason is (
        Reason.MALFORMED
    )


def test_cards_sprayed_at_a_reader_throttle_every_card_there() -> None:
    policy = replace(POLICY, throttle=ThrottlePolicy(window_s=60, per_door=3, per_credential=10))
    state = EMPTY
    for guess in range(3):
        decision = ask(CardCredential(str(90_000_000 + guess)), policy=policy, state=state)
        assert decision.reason is Reason.UNKNOWN_CREDENTIAL
        state = run(state, decision, policy)
    # Card numbers can be guessed: a right guess now is refused like a wrong one.
    assert ask(CardCredential("12345678"), policy=policy, state=state).reason is (Reason.THROTTLED)
    assert ask(CardCredential("12345678"), policy=policy, state=state, door="side").granted
    assert ask(qr(), policy=policy, state=state).granted


def test_throttle_windows_follow_the_monotonic_clock_not_the_wall_clock() -> None:
    policy = replace(POLICY, throttle=ThrottlePolicy(window_s=60, per_door=2, per_credential=10))
    state = EMPTY
    # Junk while the wall clock stood two hours ahead, a second apart on the monotonic one.
    ahead = NOON_SHANGHAI + timedelta(hours=2)
    for i in range(2):
        junk = ask(QrCredential("junk"), now=ahead, monotonic_s=100.0 + i, policy=policy)
        state = run(state, junk, policy)
    assert ask(QrCredential("junk"), monotonic_s=102.0, policy=policy, state=state).reason is (
        Reason.THROTTLED
    )
    # The wall clock is set back; 61 monotonic seconds later the window has passed.
    assert ask(QrCredential("junk"), monotonic_s=162.0, policy=policy, state=state).reason is (
        Reason.MALFORMED
    )


def test_an_unknown_face_retried_too_often_is_throttled() -> None:
    policy = replace(POLICY, throttle=ThrottlePolicy(window_s=60, per_door=100, per_credential=5))
    state = EMPTY
    reasons = []
    for i in range(7):
        at = NOON_SHANGHAI + timedelta(seconds=i)
        decision = ask(FaceCredential("hik-9999"), now=at, policy=policy, state=state)
        reasons.append(decision.reason)
        state = run(state, decision, policy)
    assert reasons == [Reason.UNKNOWN_FACE] * 5 + [Reason.THROTTLED] * 2
    at = NOON_SHANGHAI + timedelta(seconds=8)
    assert ask(FaceCredential("hik-0042"), now=at, policy=policy, state=state).granted


def test_a_worker_whose_tokens_keep_failing_is_never_throttled() -> None:
    policy = replace(POLICY, throttle=ThrottlePolicy(window_s=60, per_door=2, per_credential=2))
    # Someone keeps showing the worker's old and out-of-scope codes.
    old = qr(now=NOON_SHANGHAI - timedelta(hours=1))
    elsewhere = qr(scope=Scope.station(1))
    state = EMPTY
    for refused in (old, elsewhere) * 5:
        decision = ask(refused, policy=policy, state=state)
        assert decision.reason in (Reason.EXPIRED, Reason.WRONG_SCOPE)
        assert decision.throttle_key is None
        state = run(state, decision, policy)
    assert ask(qr(), policy=policy, state=state).granted


def test_a_queue_at_a_full_station_is_not_throttled() -> None:
    policy = replace(POLICY, throttle=ThrottlePolicy(window_s=60, per_door=2, per_credential=2))
    state = EMPTY
    for i in range(5):
        at = NOON_SHANGHAI + timedelta(seconds=i)
        decision = ask(qr(now=at), now=at, policy=policy, state=state, occupancy=10)
        assert decision.reason is Reason.FULL
        state = run(state, decision, policy)
    assert state.throttle == ThrottleState()


def test_throttling_can_be_switched_off() -> None:
    policy = replace(POLICY, throttle=ThrottlePolicy(per_door=1, enabled=False))
    state = run(EMPTY, ask(CardCredential("1"), policy=policy), policy)
    assert ask(CardCredential("12345678"), policy=policy, state=state).granted


# --- lockdown and precedence ---------------------------------------------------------


def test_lockdown_refuses_every_entry_and_no_exit() -> None:
    locked = replace(POLICY, lockdown=True)
    assert ask(qr(), policy=locked).reason is Reason.LOCKDOWN
    assert ask(FaceCredential("hik-0042"), policy=locked).reason is Reason.LOCKDOWN
    assert ask(qr(), policy=locked, direction=Direction.OUT).granted


def test_precedence_credential_faults_before_station_state() -> None:
    worst = replace(POLICY, lockdown=True, hours=OpeningHours(()), anti_passback=True, capacity=0)
    later = NOON_SHANGHAI + timedelta(hours=1)
    revoked = TRUST.with_payload(
        Revocations(version=1, issued_at=NOON_SHANGHAI, worker_numbers=[WORKER])
    )
    assert ask(qr(key=KEY_B), policy=worst).reason is Reason.UNKNOWN_KEY
    assert ask(qr(), now=later, policy=worst).reason is Reason.EXPIRED
    assert ask(qr(scope=Scope.station(1)), policy=worst, trust=revoked).reason is (
        Reason.WRONG_SCOPE
    )
    assert ask(qr(), policy=worst, trust=revoked).reason is Reason.REVOKED


def test_precedence_among_station_states() -> None:
    entered = replace(POLICY, anti_passback=True)
    state = EMPTY.after(ask(qr(worker=1), policy=entered), entered)
    t1 = NOON_SHANGHAI + timedelta(minutes=1)

    def reason(policy: StationPolicy) -> Reason:
        return ask(qr(now=t1, worker=1), now=t1, policy=policy, state=state).reason

    everything = replace(entered, lockdown=True, hours=OpeningHours(()), capacity=0)
    assert reason(everything) is Reason.LOCKDOWN
    no_lockdown = replace(everything, lockdown=False)
    assert reason(no_lockdown) is Reason.CLOSED
    open_full = replace(no_lockdown, hours=POLICY.hours)
    assert reason(open_full) is Reason.FULL
    room = replace(open_full, capacity=None)
    assert reason(room) is Reason.PASSBACK
    assert reason(replace(room, anti_passback=False)) is Reason.GRANTED


# --- purity and the event ------------------------------------------------------------


def test_decide_is_pure_the_same_inputs_give_the_same_answer_and_leave_state_alone() -> None:
    policy = replace(POLICY, anti_passback=True)
    state = EMPTY.after(ask(qr(worker=7), policy=policy), policy)
    snapshot = AccessState(state.replay, state.passback, state.throttle)
    shown = qr()
    assert ask(shown, policy=policy, state=state) == ask(shown, policy=policy, state=state)
    assert state == snapshot


def test_a_decision_becomes_an_access_event() -> None:
    decision = ask(qr(), occupancy=10)
    stamper = EventStamper("cs-furong-001", "gw1", clock=lambda: NOON_SHANGHAI, first_seq=12)
    event = stamper.stamp(from_access(decision))
    wire = AccessEvent.model_validate_json(event.to_json())
    assert (wire.door_id, wire.direction, wire.credential) == (DOOR, Direction.IN, "qr")
    assert (wire.reason, wire.decision, wire.worker_id, wire.seq) == (
        Reason.FULL,
        Decision.DENIED,
        f"w{WORKER}",
        12,
    )


def test_the_passback_table_stays_bounded_when_exits_go_unseen() -> None:
    policy = replace(POLICY, anti_passback=True, passback_reset_s=60)
    state = EMPTY
    for i in range(1, 1500):
        at = NOON_SHANGHAI + timedelta(seconds=5 * i)
        state = state.after(ask(qr(now=at, worker=i), now=at, policy=policy, state=state), policy)
        assert len(state.passback.entered_at) <= PRUNE_ABOVE + 1
    assert state.passback.inside(1499, at.timestamp(), 60)
    assert not state.passback.inside(1, at.timestamp(), 60)


def test_a_request_without_a_time_zone_is_refused_before_any_decision() -> None:
    with pytest.raises(ValueError):
        AccessRequest(qr(), DOOR, Direction.IN, datetime(2026, 1, 5, 12, 0), 0.0)
