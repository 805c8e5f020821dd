"""The gateway's access path: one place that holds what decisions need between scans.

`gateway.access_rules.decide` is pure; this module keeps its inputs: the station policy,
the trust data from the central (`TrustStore`, fed by the retained `TRUST_MODELS`), the
`AccessState` (replay cache, anti-passback, throttle; the first two kept on disk by
`AccessMemory`, so a restart forgets no used token and no one inside) and the local head
count (`LocalOccupancy`, corrected by the central's count).

Gateways of one station share used tokens: each hears the others' access events and
refuses a token one of them granted (`used_elsewhere`), so a code shown at one entrance
cannot open another; the race is the moment the event takes over the broker.

Threads: every scanner and reader reports on its own thread, and the MQTT link on
another. One lock serialises decisions, so two scans of one token at two doors cannot
both pass the replay check, and the lock is held while the door is released, so a grant
the door refuses (lockdown) is never remembered as a used token or a person inside.
Lock order: decision lock → door lock, and decision lock → count lock; the door's own
callbacks (an exit-button crossing) take only the count lock, so no cycle can form.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from datetime import datetime

from contract.credential_payloads import CredentialMap, PublicKeys, Revocations
from contract.payloads import Decision, Direction, Reason
from contract.tokens import MAX_LIFETIME_S
from firmware_bridge.wiegand import WiegandCard
from gateway.access_memory import AccessMemory
from gateway.access_rules import (
    AccessDecision,
    AccessRequest,
    AccessState,
    CardCredential,
    FaceCredential,
    Presented,
    StationPolicy,
    TrustData,
    decide,
)
from gateway.occupancy import LocalOccupancy
from gateway.trust_store import TrustStore

Grant = Callable[[], bool]
"""Releases the door; False when the door refuses (lockdown)."""

log = logging.getLogger(__name__)

TrustMessage = PublicKeys | Revocations | CredentialMap
"""What the central sends, retained, for the gateway to decide offline."""

TRUST_MODELS: tuple[type[TrustMessage], ...] = (PublicKeys, Revocations, CredentialMap)


def wiegand_credential(kind: str, card: WiegandCard) -> FaceCredential | CardCredential:
    """What a Wiegand frame presents: every data bit as one decimal number.

    Face terminals send the person id they matched; card readers the card. The whole
    data field (facility code and card number together for 26 bits) is used, so two
    cards that differ only in facility code are never taken for one another; the
    central's map holds the same decimal number.
    """
    if kind == "face":
        return FaceCredential(str(card.value))
    return CardCredential(str(card.value))


class AccessDesk:
    """Decides at the doors of one gateway and remembers what the next decision needs."""

    def __init__(
        self, station_id: str, policy: StationPolicy, trust: TrustStore, memory: AccessMemory
    ) -> None:
        self.station_id = station_id
        self.policy = policy
        self.trust_store = trust
        self._memory = memory
        self._state = memory.load()
        self._occupancy = LocalOccupancy()
        self.central_occupancy: int | None = None
        """The count in the central's last `occupancy/1` message; None before the first."""
        self._decide_lock = threading.Lock()
        self._count_lock = threading.Lock()

    @property
    def trust(self) -> TrustData:
        """The trust data decisions use now."""
        return self.trust_store.trust

    @property
    def occupancy(self) -> int:
        """The gateway's head count."""
        with self._count_lock:
            return self._occupancy.count

    @property
    def state(self) -> AccessState:
        """The replay, anti-passback and throttle memory as of the last decision."""
        return self._state

    def present(
        self,
        credential: Presented,
        door_id: str,
        direction: Direction,
        now: datetime,
        monotonic_s: float,
        grant: Grant,
    ) -> AccessDecision:
        """Decide one presentation at `now` (the central's time, as estimated) and
        `monotonic_s`, release the door on a grant, and remember the outcome."""
        request = AccessRequest(credential, door_id, direction, now, monotonic_s)
        with self._decide_lock:
            decision = decide(request, self.policy, self.trust, self._state, self.occupancy)
            if decision.granted and not grant():
                # Refused after all, so the token is not used up (`after` keeps only grants).
                decision = dataclasses.replace(
                    decision, decision=Decision.DENIED, reason=Reason.LOCKDOWN
                )
            self._remember(self._state.after(decision, self.policy))
            with self._count_lock:
                self._occupancy = self._occupancy.after_access(decision.decision, direction)
        return decision

    def used_elsewhere(self, token_id: tuple[int, int], now: datetime) -> None:
        """Another gateway of the station granted the token (worker, not_before): refuse
        it here too, as `replayed`, until it has expired."""
        # The other gateway knows the token's lifetime; the longest any token may have
        # is enough here, since the expiry check refuses it by then anyway.
        until = token_id[1] + MAX_LIFETIME_S + self.policy.skew_s
        if until <= now.timestamp():
            return  # expired anyway: a backlog of old events after an outage costs nothing
        with self._decide_lock:
            replay = self._state.replay.with_token(token_id, until, now.timestamp())
            self._remember(dataclasses.replace(self._state, replay=replay))

    def _remember(self, state: AccessState) -> None:
        # On disk before the next decision, whenever a used token or who is inside changed.
        changed = (
            state.replay is not self._state.replay or state.passback is not self._state.passback
        )
        self._state = state
        if changed:
            self._memory.save(state)

    def flush(self) -> None:
        """Wait until the replay cache and anti-passback record are on disk (a clean stop)."""
        if not self._memory.flush():
            log.error("the replay cache was not written to %s in time", self._memory.path)

    def someone_left(self) -> None:
        """An exit without a credential (the exit button): one fewer inside."""
        with self._count_lock:
            self._occupancy = self._occupancy.left()

    def central_count(self, occupancy: int) -> None:
        """The central counted `occupancy` people inside: the head count follows it."""
        with self._count_lock:
            self._occupancy = self._occupancy.corrected(occupancy)
            self.central_occupancy = occupancy
