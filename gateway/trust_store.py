"""The gateway's copy of what the central pushes: keys, revocations, the face/card map.

The three retained documents (`contract.credential_payloads`) arrive over MQTT. The
gateway keeps the newest of each in memory as `TrustData` (decisions read it) and on
disk, so that after a reboot with the broker or the central down it still verifies
tokens and still honours the last revocation list it heard.

The file is JSON holding the three payloads exactly as the central sent them::

    {"format": 1, "keys": {...keys/1...}, "revocations": {...}, "credentials": {...}}

It is written with `gateway.state_files.write_json`, so a power cut leaves either the
old file or the new one, never half of one. Loading validates each payload again with the
wire models; a part that fails is logged and left out, and a file that cannot be read at
all starts the gateway with no trust data (every token then refused as `unknown_key`)
rather than not at all.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from contract.credential_payloads import CredentialMap, PublicKeys, Revocations
from contract.tokens import KeyRing
from gateway.access_rules import TrustData
from gateway.state_files import read_json, write_json

log = logging.getLogger(__name__)

FILE_NAME: Final = "trust.json"
FORMAT: Final = 1

TrustPayload = PublicKeys | Revocations | CredentialMap

_PARTS: Final[dict[str, type[TrustPayload]]] = {
    "keys": PublicKeys,
    "revocations": Revocations,
    "credentials": CredentialMap,
}


def _part_of(payload: TrustPayload) -> str:
    for name, model in _PARTS.items():
        if isinstance(payload, model):
            return name
    raise TypeError(f"not a trust payload: {type(payload).__name__}")


def load_trust_file(path: Path, station_id: str) -> dict[str, TrustPayload]:
    """The payloads kept in `path`, each validated; parts that fail are logged and skipped."""
    document = read_json(path, "trust data")
    if document is None:
        return {}
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        log.error("trust file %s is not format %d; starting without trust data", path, FORMAT)
        return {}
    payloads: dict[str, TrustPayload] = {}
    for name, model in _PARTS.items():
        raw = document.get(name)
        if raw is None:
            continue
        try:
            payload = model.model_validate(raw)
        except ValidationError as exc:
            log.error("trust file %s: %s is invalid and ignored: %s", path, name, exc)
            continue
        if isinstance(payload, CredentialMap) and payload.station_id != station_id:
            # A state directory carried over from another station's gateway.
            log.error(
                "trust file %s holds the map of station %s, not %s; ignored",
                path,
                payload.station_id,
                station_id,
            )
            continue
        payloads[name] = payload
    return payloads


def write_trust_file(path: Path, payloads: dict[str, TrustPayload]) -> None:
    """Write the payloads atomically; raises `OSError`."""
    document: dict[str, Any] = {"format": FORMAT}
    for name, payload in payloads.items():
        document[name] = json.loads(payload.to_json())
    write_json(path, document)


class TrustStore:
    """The newest trust data, in memory for decisions and on disk for the next boot.

    `apply` is called from the MQTT thread, `trust` read from scanner threads: a new
    `TrustData` replaces the old one in one assignment, so a decision sees either all of
    an update or none of it, and a revocation takes effect for the very next decision.
    """

    def __init__(self, state_dir: Path, station_id: str) -> None:
        self.path = state_dir / FILE_NAME
        self._station_id = station_id
        self._lock = threading.Lock()
        self._payloads = load_trust_file(self.path, station_id)
        trust = TrustData(KeyRing.of([]))
        for payload in self._payloads.values():
            trust = trust.with_payload(payload)
        self.trust = trust
        """What decisions use now."""

    def versions(self) -> dict[str, int]:
        """Part (`keys`, `revocations`, `credentials`) → the version held now."""
        with self._lock:
            return {part: payload.version for part, payload in self._payloads.items()}

    def apply(self, payload: TrustPayload) -> bool:
        """Take a pushed payload if it is newer than the one held; True if it was taken.

        An older or equal version never replaces a newer one (`TrustData.with_payload`).
        """
        if isinstance(payload, CredentialMap) and payload.station_id != self._station_id:
            log.warning("ignored the map of station %s", payload.station_id)
            return False
        with self._lock:
            updated = self.trust.with_payload(payload)
            if updated is self.trust:
                return False
            self.trust = updated  # effective from here on, before the disk write
            self._payloads[_part_of(payload)] = payload
            snapshot = dict(self._payloads)
            try:
                write_trust_file(self.path, snapshot)
            except OSError as exc:
                # Deciding goes on from memory; only the next boot would miss this update.
                log.error("cannot save trust data to %s: %s", self.path, exc)
        log.info("trust data updated: %s version %d", _part_of(payload), payload.version)
        return True
