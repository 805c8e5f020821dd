"""Removing a worker's face from every terminal that holds it.

A withdrawal (from the worker's pass page) or an expiry (found by the central's periodic
checks) takes the worker's paired person
ids out of the credential map at once, so the face opens nothing from the next map on,
and sends each paired gateway the command `face_person_remove` for each of its terminals.
The gateway deletes the person (and so the face) and confirms with a `face_pairing/1`
`removed` event, which the central records. A revocation needs no command: the gateway
deletes a revoked worker's faces itself and confirms the same way. A removal that stays
unconfirmed is sent again (`ask_again`), so a gateway that was offline still hears it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import timedelta

from contract.payloads import Command, format_utc, utc_now
from contract.topics import gateway_topic
from dashboard.services.credentials import Credentials
from dashboard.storage import face_pairings
from dashboard.storage.face_pairings import FacePairingRow

log = logging.getLogger(__name__)

RESEND_AFTER_S = 300.0
"""How long a removal may stay unconfirmed before the central sends it again."""


class FaceRemovals:
    """Asks gateways to delete a worker's faces, and reads where faces are paired."""

    def __init__(
        self,
        credentials: Credentials,
        publish_command: Callable[[str, bytes], None],
        sign_command: Callable[[Command], Command],
        answer_within_s: float,
    ) -> None:
        self._credentials = credentials
        self._publish = publish_command
        self._sign = sign_command
        self._ttl_s = answer_within_s

    def of_worker(self, number: int) -> list[FacePairingRow]:
        """The worker's pairings, newest first, removed ones included."""
        with self._credentials.store.connection() as db:
            return face_pairings.of_worker(db, number)

    def of_station(self, station_id: str) -> list[FacePairingRow]:
        """The station's pairings not yet confirmed removed."""
        with self._credentials.store.connection() as db:
            return face_pairings.of_station(db, station_id)

    def remove_expired(self) -> int:
        """Ask for the removal of the faces of every worker whose validity has ended; how
        many workers that was. Run by the central's periodic checks."""
        with self._credentials.store.connection() as db:
            expired = face_pairings.expired_workers(db, format_utc(utc_now()))
        for number in expired:
            self.remove(number, "expired")
        return len(expired)

    def remove(self, number: int, cause: str) -> list[FacePairingRow]:
        """Take the worker's faces out of the map and ask each terminal holding one to
        delete it; the pairings now waiting for the gateway's confirmation."""
        now = utc_now()
        with self._credentials.store.transaction() as db:
            pending = face_pairings.ask_removal(db, number, cause, format_utc(now))
        self._credentials.changed()
        for pairing in pending:
            self._ask(pairing, cause)
        return pending

    def ask_again(self, unconfirmed_after_s: float = RESEND_AFTER_S) -> int:
        """Send the removal again for every pairing whose removal was asked for more than
        `unconfirmed_after_s` ago and is not confirmed yet (a gateway that was offline
        never saw the command); how many. Run by the central's periodic checks."""
        now = utc_now()
        before = format_utc(now - timedelta(seconds=unconfirmed_after_s))
        with self._credentials.store.db.transaction() as db:
            stale = face_pairings.unconfirmed_removals(db, before, format_utc(now))
        for pairing in stale:
            self._ask(pairing, pairing.removal_cause or "withdrawn")
        return len(stale)

    def _ask(self, pairing: FacePairingRow, cause: str) -> None:
        now = utc_now()
        command = Command(
            request_id=f"face-rm-{secrets.token_hex(6)}",
            station_id=pairing.station_id,
            gateway_id=pairing.gateway_id,
            issued_at=now,
            ttl_s=self._ttl_s,
            command="face_person_remove",
            args={"terminal": pairing.terminal_id, "person": pairing.person_id, "cause": cause},
        )
        topic = gateway_topic(pairing.station_id, pairing.gateway_id, "command")
        self._publish(topic, self._sign(command).to_json())
        log.info(
            "asked %s/%s to remove person %s from terminal %s (%s)",
            pairing.station_id,
            pairing.gateway_id,
            pairing.person_id,
            pairing.terminal_id,
            cause,
        )
