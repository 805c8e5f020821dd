"""The gateway's access decision: a pure function of what was presented and local data.

`decide` reads; `AccessState.after` writes. The door controller calls them in turn::

    decision = decide(request, policy, trust, state, occupancy)
    if decision.granted:
        pulse_relay()
    state = state.after(decision, policy)

`decide` never reads a clock (the request carries `now`, the central's time as the gateway
estimates it, and `monotonic_s`), never does I/O and never changes its inputs, so a
maintenance "would this pass?" check can call it without side effects and tests can
replay any situation. `after` returns a new state: the replay cache and anti-passback
record change only on a grant, the throttle counters only on a denial that points at a
bad credential.

Throttling makes guessing expensive, so it applies to what can be guessed or sprayed and
never to a validly signed token (an Ed25519 signature cannot be guessed, and a worker
whose old screenshot someone keeps showing must still get in with a fresh code):

- junk (a code that is no token or carries no valid signature, an unknown face id or
  card) counts against its *source*, the door's reader of that kind (`source_of`); past
  `per_door` within the window that reader's junk is refused as `throttled`, and for faces
  and cards, which can be guessed, every presentation at that reader is;
- a face id or card that keeps failing counts against itself (`per_credential`).

Windows count on the monotonic clock (`monotonic_s`), so stepping the wall clock forward
or back neither starts nor prolongs a throttle.

Precedence, first match wins:

0. Direction `out` → **granted**, always, whatever the credential. Egress is life
   safety: nobody may be held inside by a stale token, a full list or a lockdown (fire
   release is in hardware anyway). An exit still names the worker when the credential
   checks out, so anti-passback learns they left.
1. The credential itself: `malformed` → `unknown_key` → `bad_signature` for QR tokens
   (`throttled` instead when their reader is throttled); for face ids and cards
   `throttled` (their reader, then the id itself), then `unknown_face` /
   `unknown_credential` when not in the station's map. Every code's signature is checked,
   junk or not: a reader delivers a few codes a second and a check takes microseconds.
2. `not_yet_valid` → `expired` → `wrong_scope` (token scope, or a worker group this
   station does not admit) → `revoked` → `replayed`.
3. Station state: `lockdown` → `closed` → `full` → `passback`.

Credential faults come before station state because they are what the holder can act on
(get a fresh code, ask for a card), and because a forged token should never learn whether
the station is open or full.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Final
from zoneinfo import ZoneInfo

from contract.credential_payloads import CredentialMap, PublicKeys, Revocations
from contract.payloads import CredentialKind, Decision, Direction, Reason
from contract.station_rules import (
    ALWAYS_OPEN,
    OpeningHours,
    station_refusal,
)
from contract.tokens import (
    DEFAULT_SKEW_S,
    KeyRing,
    ScopeKind,
    StationLocation,
    TokenError,
    worker_id_of,
)
from contract.tokens import (
    verify_token as _verify_token,
)

DEFAULT_ZONE: Final = ZoneInfo("Asia/Shanghai")

JUNK: Final = frozenset(
    {
        Reason.MALFORMED,
        Reason.BAD_SIGNATURE,
        Reason.UNKNOWN_KEY,
        Reason.UNKNOWN_FACE,
        Reason.UNKNOWN_CREDENTIAL,
    }
)
"""Refusals of something that is not an authentic, known credential: what garbage, forgery
and guessing look like. Each counts against its source (`source_of`)."""

THROTTLE_COUNTED: Final = JUNK | {Reason.WRONG_SCOPE, Reason.REVOKED}
"""Refusals that count against one face id or card (its `throttle_key`): faults of the
credential, which is what probing looks like. Station state (full, closed, lockdown,
passback) never counts, so a queue at a full station is never throttled; `throttled`
itself does not count, so a limit lifts once the window has passed."""


def source_of(door_id: str, kind: CredentialKind) -> str:
    """Where junk comes from: the reader of one kind (QR, face, card) at one door."""
    return f"{door_id}/{kind.value}"


# --- what was presented --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QrCredential:
    """The text a QR scanner read."""

    text: str


@dataclass(frozen=True, slots=True)
class FaceCredential:
    """A face terminal's id for the person it recognised."""

    person_id: str


@dataclass(frozen=True, slots=True)
class CardCredential:
    """A card number (Wiegand or similar) in decimal, as the driver normalised it."""

    card_number: str


@dataclass(frozen=True, slots=True)
class PhoneCredential:
    """A worker the central vouched for in a signed `phone_open` command: their pass
    session on the phone was checked there, so only the station's own rules (group,
    revocation, station state) remain for the gateway."""

    worker_number: int
    group: int = 0


Presented = QrCredential | FaceCredential | CardCredential | PhoneCredential


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """Someone presented a credential at a door.

    `now` is aware: the central's time as the gateway estimates it (tokens are issued by
    the central's clock). `monotonic_s` is a clock that never steps (`time.monotonic()`),
    for the throttle windows.
    """

    credential: Presented
    door_id: str
    direction: Direction
    now: datetime
    monotonic_s: float

    def __post_init__(self) -> None:
        # A naive time would be read in the host's zone: wrong windows, wrong hours.
        if self.now.tzinfo is None:
            raise ValueError("now must be an aware datetime")


# --- station policy ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """How many counted denials within `window_s` throttle a face id or card
    (`per_credential`) or a door's reader of one kind that sends junk (`per_door`)."""

    window_s: float = 60.0
    per_credential: int = 5
    per_door: int = 20
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class StationPolicy:
    """What a station admits. Change it by building a new one (e.g. to lock down)."""

    location: StationLocation | None
    """Where the station stands, for token scopes. None for a station the central has not
    numbered: it admits only tokens of scope `any`, as the central's maps do."""
    capacity: int | None = None
    """None: no limit."""
    hours: OpeningHours = ALWAYS_OPEN
    zone: tzinfo = DEFAULT_ZONE
    allowed_groups: frozenset[int] | None = None
    """Worker groups admitted; None admits every group."""
    anti_passback: bool = False
    """Off by default: most stations let people out by a REX button, which cannot say who
    left, so a worker would stay 'inside' until `passback_reset_s`. Turn it on where every
    exit reads a credential."""
    passback_reset_s: float = 6 * 3600
    """After this long an entry no longer blocks re-entry (someone left unseen)."""
    lockdown: bool = False
    skew_s: int = DEFAULT_SKEW_S
    throttle: ThrottlePolicy = ThrottlePolicy()


# --- data the central pushes ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RevocationSet:
    """Revoked worker numbers, from the latest `revocations/1` list seen."""

    workers: frozenset[int] = frozenset()
    version: int = 0

    @classmethod
    def from_payload(cls, payload: Revocations) -> RevocationSet:
        """The set a `revocations/1` payload describes."""
        return cls(frozenset(payload.worker_numbers), payload.version)


@dataclass(frozen=True, slots=True)
class MappedWorker:
    """Who a face id or card belongs to."""

    worker_number: int
    group: int = 0


@dataclass(frozen=True, slots=True)
class CredentialDirectory:
    """The station's map from face ids and card numbers to workers."""

    faces: Mapping[str, MappedWorker] = field(default_factory=dict)
    cards: Mapping[str, MappedWorker] = field(default_factory=dict)
    version: int = 0

    @classmethod
    def from_payload(cls, payload: CredentialMap) -> CredentialDirectory:
        """The directory a `credentials/1` payload describes."""
        faces: dict[str, MappedWorker] = {}
        cards: dict[str, MappedWorker] = {}
        for entry in payload.entries:
            table = faces if entry.kind == "face" else cards
            table[entry.external_id] = MappedWorker(entry.worker_number, entry.group)
        return cls(faces, cards, payload.version)


@dataclass(frozen=True, slots=True)
class TrustData:
    """Everything the central pushes that decisions depend on, with the versions seen."""

    keyring: KeyRing
    revocations: RevocationSet = RevocationSet()
    credentials: CredentialDirectory = CredentialDirectory()
    keys_version: int = 0

    def with_payload(self, payload: PublicKeys | Revocations | CredentialMap) -> TrustData:
        """Apply a pushed payload unless an equal or newer version is already held.

        Retained messages can arrive again or out of order after a reconnect; the
        version counter keeps an old list from undoing a newer revocation.
        """
        if isinstance(payload, PublicKeys):
            if payload.version <= self.keys_version:
                return self
            return TrustData(
                KeyRing.from_payload(payload), self.revocations, self.credentials, payload.version
            )
        if isinstance(payload, Revocations):
            if payload.version <= self.revocations.version:
                return self
            return TrustData(
                self.keyring,
                RevocationSet.from_payload(payload),
                self.credentials,
                self.keys_version,
            )
        if payload.version <= self.credentials.version:
            return self
        return TrustData(
            self.keyring,
            self.revocations,
            CredentialDirectory.from_payload(payload),
            self.keys_version,
        )


# --- local state ---------------------------------------------------------------------


PRUNE_ABOVE: Final = 256
"""Stale entries are swept once a table grows past this size, and after a sweep not again
until the table has doubled. Lookups check age anyway, so a stale entry is never wrong,
only memory; sweeping on every update would make each grant cost a pass over the whole
table, and doubling keeps the sweeps' cost constant per update on average."""


def sweep_limit(live: int) -> int:
    """When to sweep a table next that holds `live` entries after a sweep (or a load)."""
    return max(PRUNE_ABOVE, 2 * live)


@dataclass(frozen=True, slots=True)
class ReplayCache:
    """Tokens already granted, by (worker, not_before), each kept until the token expires.

    Memory is bounded: a live entry lasts at most 255 s plus skew (the token format's
    longest lifetime) and each took a grant, i.e. a door opening; expired ones are swept
    once the table passes `PRUNE_ABOVE`. A forgotten token is refused anyway, as
    `expired`, because the expiry check comes first.
    """

    forget_after: Mapping[tuple[int, int], float] = field(default_factory=dict)
    sweep_above: int = field(default=PRUNE_ABOVE, compare=False, repr=False)

    def seen(self, token_id: tuple[int, int], t: float) -> bool:
        """Whether the token was granted before and has not yet expired at `t`."""
        until = self.forget_after.get(token_id)
        return until is not None and until > t

    def with_token(self, token_id: tuple[int, int], until: float, t: float) -> ReplayCache:
        """A cache that also holds `token_id` until `until` (and sweeps it when large)."""
        kept, limit = dict(self.forget_after), self.sweep_above
        if len(kept) > limit:
            kept = {key: ends for key, ends in kept.items() if ends > t}
            limit = sweep_limit(len(kept))
        kept[token_id] = until
        return ReplayCache(kept, limit)

    def __len__(self) -> int:
        return len(self.forget_after)


@dataclass(frozen=True, slots=True)
class PassbackState:
    """Workers who entered and have not been seen leaving: worker number → entry time."""

    entered_at: Mapping[int, float] = field(default_factory=dict)
    sweep_above: int = field(default=PRUNE_ABOVE, compare=False, repr=False)

    def inside(self, worker_number: int, t: float, reset_s: float) -> bool:
        """Whether the worker counts as inside at `t`."""
        entered = self.entered_at.get(worker_number)
        return entered is not None and t - entered < reset_s

    def entered(self, worker_number: int, t: float, reset_s: float) -> PassbackState:
        """The state after a granted entry."""
        kept, limit = dict(self.entered_at), self.sweep_above
        if len(kept) > limit:
            kept = {w: at for w, at in kept.items() if t - at < reset_s}
            limit = sweep_limit(len(kept))
        kept[worker_number] = t
        return PassbackState(kept, limit)

    def left(self, worker_number: int) -> PassbackState:
        """The state after a worker was seen leaving."""
        if worker_number not in self.entered_at:
            return self
        kept = dict(self.entered_at)
        del kept[worker_number]
        return PassbackState(kept, self.sweep_above)

    def cleared(self) -> PassbackState:
        """Nobody inside: e.g. the presence sensors report the station empty."""
        return PassbackState()


def _recent(times: tuple[float, ...], t: float, window_s: float) -> tuple[float, ...]:
    return tuple(at for at in times if t - at < window_s)


@dataclass(frozen=True, slots=True)
class ThrottleState:
    """Recent counted denials, in monotonic seconds, per source of junk and per credential
    key (newest last)."""

    by_source: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    by_credential: Mapping[str, tuple[float, ...]] = field(default_factory=dict)

    def source_throttled(self, source: str, t: float, policy: ThrottlePolicy) -> bool:
        """Whether a reader has sent its limit of junk within the window."""
        times = self.by_source.get(source, ())
        return len(_recent(times, t, policy.window_s)) >= policy.per_door

    def credential_throttled(self, key: str, t: float, policy: ThrottlePolicy) -> bool:
        """Whether one credential has reached its limit within the window."""
        times = self.by_credential.get(key, ())
        return len(_recent(times, t, policy.window_s)) >= policy.per_credential

    def denied(
        self, source: str | None, key: str | None, t: float, policy: ThrottlePolicy
    ) -> ThrottleState:
        """The state after one counted denial; only the newest `limit` times are kept."""

        def bump(
            table: Mapping[str, tuple[float, ...]], name: str | None, limit: int
        ) -> dict[str, tuple[float, ...]]:
            kept = dict(table)
            if len(kept) > PRUNE_ABOVE:
                kept = {
                    k: recent
                    for k, times in kept.items()
                    if (recent := _recent(times, t, policy.window_s))
                }
            if name is not None:
                kept[name] = (*_recent(kept.get(name, ()), t, policy.window_s), t)[-limit:]
            return kept

        return ThrottleState(
            bump(self.by_source, source, policy.per_door),
            bump(self.by_credential, key, policy.per_credential),
        )


@dataclass(frozen=True, slots=True)
class AccessState:
    """The gateway's memory between decisions. Immutable: `after` returns the next one."""

    replay: ReplayCache = ReplayCache()
    passback: PassbackState = PassbackState()
    throttle: ThrottleState = ThrottleState()

    def after(self, decision: AccessDecision, policy: StationPolicy) -> AccessState:
        """The state once `decision` has been carried out.

        Grants of entry remember the token (replay) and the worker (anti-passback); exits
        that named a worker forget them; counted denials feed the throttle.
        """
        t = decision.at.timestamp()
        if decision.decision is Decision.GRANTED:
            if decision.direction is Direction.OUT:
                if decision.worker_number is None:
                    return self
                return AccessState(
                    self.replay, self.passback.left(decision.worker_number), self.throttle
                )
            replay = self.replay
            if decision.token_id is not None and decision.token_until is not None:
                replay = replay.with_token(decision.token_id, decision.token_until, t)
            passback = self.passback
            if policy.anti_passback and decision.worker_number is not None:
                passback = passback.entered(decision.worker_number, t, policy.passback_reset_s)
            return AccessState(replay, passback, self.throttle)
        if policy.throttle.enabled and decision.reason in THROTTLE_COUNTED:
            source = source_of(decision.door_id, decision.credential)
            throttle = self.throttle.denied(
                source if decision.reason in JUNK else None,
                decision.throttle_key,
                decision.monotonic_s,
                policy.throttle,
            )
            return AccessState(self.replay, self.passback, throttle)
        return self


# --- the decision --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessDecision:
    """What the gateway decided, why, and what `AccessState.after` needs to remember."""

    decision: Decision
    reason: Reason
    worker_id: str | None
    worker_number: int | None
    credential: CredentialKind
    door_id: str
    direction: Direction
    at: datetime
    monotonic_s: float
    """When, on the monotonic clock (throttle windows)."""
    token_id: tuple[int, int] | None = None
    """(worker, not_before) of an authentic QR token: its identity, which the replay cache
    keeps once it is granted."""
    token_until: float | None = None
    """Unix time after which the token is refused as expired anyway."""
    throttle_key: str | None = None
    """The face id or card denials are counted under; None for QR tokens, which are never
    throttled one by one (a forgery has no identity, an authentic token is not a guess)."""

    @property
    def granted(self) -> bool:
        """Whether the door opens."""
        return self.decision is Decision.GRANTED


@dataclass(frozen=True, slots=True)
class _Identity:
    worker_number: int
    group: int
    throttle_key: str | None
    token_id: tuple[int, int] | None = None
    token_until: float | None = None


def _kind_of(credential: Presented) -> CredentialKind:
    if isinstance(credential, QrCredential):
        return CredentialKind.QR
    if isinstance(credential, FaceCredential):
        return CredentialKind.FACE
    if isinstance(credential, PhoneCredential):
        return CredentialKind.PHONE
    return CredentialKind.CARD


def decide(
    request: AccessRequest,
    policy: StationPolicy,
    trust: TrustData,
    state: AccessState,
    occupancy: int,
) -> AccessDecision:
    """Decide one access request from local data only; see the module docstring for order.

    `occupancy` is the station's current head count as the gateway's counter has it.
    """
    now, door, direction, credential = (
        request.now,
        request.door_id,
        request.direction,
        request.credential,
    )
    kind = _kind_of(credential)
    t = now.timestamp()

    def result(
        reason: Reason, who: _Identity | None = None, throttle_key: str | None = None
    ) -> AccessDecision:
        granted = reason is Reason.GRANTED
        return AccessDecision(
            decision=Decision.GRANTED if granted else Decision.DENIED,
            reason=reason,
            worker_id=None if who is None else worker_id_of(who.worker_number),
            worker_number=None if who is None else who.worker_number,
            credential=kind,
            door_id=door,
            direction=direction,
            at=now,
            monotonic_s=request.monotonic_s,
            token_id=None if who is None else who.token_id,
            token_until=None if who is None else who.token_until,
            throttle_key=who.throttle_key if who is not None else throttle_key,
        )

    if direction is Direction.OUT:
        return result(Reason.GRANTED, _exit_identity(credential, policy, trust, now))

    throttle, limits, mono = state.throttle, policy.throttle, request.monotonic_s
    source_limited = limits.enabled and throttle.source_throttled(
        source_of(door, kind), mono, limits
    )

    who: _Identity
    if isinstance(credential, QrCredential):
        verified = _verify_token(
            credential.text, trust.keyring, now, location=policy.location, skew_s=policy.skew_s
        )
        refusal: Reason | None = None
        if isinstance(verified, TokenError):
            if verified.claims is None:  # malformed, unknown key, bad signature: no name
                return result(Reason.THROTTLED if source_limited else verified.reason)
            claims, refusal = verified.claims, verified.reason
        else:
            claims = verified.claims
            if policy.location is None and claims.scope.kind is not ScopeKind.ANY:
                # Without a location no region or station scope can be shown to cover us.
                refusal = Reason.WRONG_SCOPE
        # Authentic: never throttled, whatever its reader or earlier tokens did.
        who = _Identity(
            claims.worker_number,
            claims.group,
            None,
            claims.token_id,
            claims.not_after + policy.skew_s,
        )
        if refusal is not None:
            return result(refusal, who)
    elif isinstance(credential, PhoneCredential):
        # The command's signature is the proof; nothing here can be guessed or sprayed.
        who = _Identity(credential.worker_number, credential.group, None)
    else:
        if isinstance(credential, FaceCredential):
            table, external, unknown = (
                trust.credentials.faces,
                credential.person_id,
                Reason.UNKNOWN_FACE,
            )
            key = f"face:{external}"
        else:
            table, external, unknown = (
                trust.credentials.cards,
                credential.card_number,
                Reason.UNKNOWN_CREDENTIAL,
            )
            key = f"card:{external}"
        # Ids and card numbers can be guessed: a reader that sprays them is throttled, and so
        # is one id that keeps failing, before the map is even asked.
        if source_limited or (limits.enabled and throttle.credential_throttled(key, mono, limits)):
            return result(Reason.THROTTLED, throttle_key=key)
        mapped = table.get(external)
        if mapped is None:
            return result(unknown, throttle_key=key)
        who = _Identity(mapped.worker_number, mapped.group, key)

    if policy.allowed_groups is not None and who.group not in policy.allowed_groups:
        return result(Reason.WRONG_SCOPE, who)
    if who.worker_number in trust.revocations.workers:
        return result(Reason.REVOKED, who)
    if who.token_id is not None and state.replay.seen(who.token_id, t):
        return result(Reason.REPLAYED, who)
    station_says = station_refusal(
        lockdown=policy.lockdown,
        hours=policy.hours,
        local_now=now.astimezone(policy.zone),
        capacity=policy.capacity,
        occupancy=occupancy,
        inside=policy.anti_passback
        and state.passback.inside(who.worker_number, t, policy.passback_reset_s),
    )
    return result(station_says or Reason.GRANTED, who)


def _exit_identity(
    credential: Presented, policy: StationPolicy, trust: TrustData, now: datetime
) -> _Identity | None:
    """Who is leaving, when the credential proves it; the exit is granted either way."""
    if isinstance(credential, QrCredential):
        verified = _verify_token(credential.text, trust.keyring, now, skew_s=policy.skew_s)
        if isinstance(verified, TokenError):
            return None
        return _Identity(verified.worker_number, verified.claims.group, None)
    if isinstance(credential, PhoneCredential):
        return _Identity(credential.worker_number, credential.group, None)
    if isinstance(credential, FaceCredential):
        mapped = trust.credentials.faces.get(credential.person_id)
        key = f"face:{credential.person_id}"
    else:
        mapped = trust.credentials.cards.get(credential.card_number)
        key = f"card:{credential.card_number}"
    return None if mapped is None else _Identity(mapped.worker_number, mapped.group, key)
