"""The central's Ed25519 signing keys: generated here, kept as 0600 files, rotated.

Private keys live in files `key-<id>.ed25519` (32 raw bytes) in the configured key
directory, which is created 0700; the database keeps only each key's public half and
schedule. A key file readable by anyone but its owner is refused, as ssh does.

Rotation (`rotate`) is two-phase, so gateways that were offline for a while still know
the new public key before they meet a token signed by it:

1. the new key is published at once (gateways trust it from its creation), but the old
   key goes on signing for `lead` seconds;
2. from `signs_from = now + lead` the new key signs; every older key stays trusted for
   `overlap` more seconds (tokens already issued and pre-fetched by pass pages) and is
   then retired: dropped from the published list and its private file deleted.
"""

from __future__ import annotations

import base64
import os
import stat
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from contract.credential_payloads import MAX_PUBLIC_KEYS, PublicKeyEntry
from contract.payloads import format_utc
from contract.tokens import SigningKey
from dashboard.storage.signing_keys import KeyRow
from dashboard.storage.worker_store import WorkerStore

MAX_KEY_ID = 255


FIRST_KEY_WAITS = 50
FIRST_KEY_WAIT_S = 0.1
"""How long a replica waits (in all, 5 s) for another one making the first key."""


class KeyFileError(Exception):
    """A private key file that is missing, malformed or too widely readable."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A key as `yizhan keys list` and the API show it (no private material)."""

    key_id: int
    public_key: str
    created_at: datetime
    signs_from: datetime
    retire_at: datetime | None
    signing: bool


class KeyLimitError(Exception):
    """A new key now would make more trusted keys than one published list holds."""


class KeyManager:
    """Creates, loads, rotates and retires signing keys."""

    def __init__(
        self,
        store: WorkerStore,
        key_dir: Path,
        *,
        lead_s: int,
        overlap_s: int,
    ) -> None:
        self._store = store
        self.key_dir = key_dir
        self.lead = timedelta(seconds=lead_s)
        self.overlap = timedelta(seconds=overlap_s)
        self._loaded: dict[int, SigningKey] = {}
        self._lock = threading.Lock()

    # --- files -----------------------------------------------------------------------

    def _path(self, key_id: int) -> Path:
        return self.key_dir / f"key-{key_id:03d}.ed25519"

    def _write_private(self, key: SigningKey) -> None:
        self.key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        raw = key.private_key.private_bytes_raw()
        # O_EXCL: never overwrite a key that might still be trusted somewhere.
        fd = os.open(self._path(key.key_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(raw)

    def _load_private(self, key_id: int) -> SigningKey:
        path = self._path(key_id)
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise KeyFileError(f"private key {path} is missing") from None
        if stat.S_IMODE(mode) & 0o077:
            raise KeyFileError(f"{path} is readable by others; run: chmod 600 {path}")
        raw = path.read_bytes()
        if len(raw) != 32:
            raise KeyFileError(f"{path} is not a 32-byte Ed25519 private key")
        return SigningKey.from_private_bytes(key_id, raw)

    def private_key(self, key_id: int) -> SigningKey:
        """The signing key with this id, loaded from its file once."""
        with self._lock:
            key = self._loaded.get(key_id)
            if key is None:
                key = self._load_private(key_id)
                self._loaded[key_id] = key
            return key

    # --- schedule --------------------------------------------------------------------

    def _create(self, now: datetime, signs_from: datetime, rows: list[KeyRow]) -> KeyRow:
        used = {row.key_id for row in rows}
        last = rows[-1].key_id if rows else 0
        # Ids count up and wrap, so a recently retired id is not reused at once.
        candidates = [(last + step - 1) % MAX_KEY_ID + 1 for step in range(1, MAX_KEY_ID + 1)]
        key_id = next((c for c in candidates if c not in used), None)
        if key_id is None:
            raise KeyFileError("all 255 key ids are in use; retire old keys first")
        key = SigningKey.generate(key_id)
        self._write_private(key)
        with self._lock:
            self._loaded[key_id] = key
        public = base64.b64encode(key.public_key_bytes()).decode()
        return KeyRow(key_id, public, now, signs_from, None)

    def ensure_key(self, now: datetime) -> None:
        """Create the first key if there is none that is not retiring.

        Replicas share the key directory; two starting at once both find no key and make
        the same first one, and the second finds its file taken. It then waits for the
        first to record the key, rather than failing to start.
        """
        waited = threading.Event()
        for _ in range(FIRST_KEY_WAITS):
            rows = self._store.key_rows()
            if any(row.retire_at is None for row in rows):
                return
            try:
                self._store.insert_key(self._create(now, now, rows))
                return
            except FileExistsError:
                waited.wait(FIRST_KEY_WAIT_S)
        raise KeyFileError(
            f"{self.key_dir} holds a key file the database does not know: from another "
            "database, or a replica that failed while making it; move the directory away"
        )

    def rotate(self, now: datetime, lead: timedelta | None = None) -> KeyRow:
        """Add a key that signs from `now + lead`; retire all older ones after the overlap.

        `KeyLimitError` while `MAX_PUBLIC_KEYS` keys are still trusted: gateways could not
        be told of one more.
        """
        self.prune(now)
        rows = self._store.key_rows()
        if len(rows) >= MAX_PUBLIC_KEYS:
            retiring = [row.retire_at for row in rows if row.retire_at is not None]
            raise KeyLimitError(
                f"{len(rows)} keys are still trusted, as many as gateways take; rotate again "
                f"after {format_utc(min(retiring))}, when the oldest retires"
            )
        signs_from = now + (self.lead if lead is None else lead)
        new = self._create(now, signs_from, rows)
        retire = [(row.key_id, signs_from + self.overlap) for row in rows if row.retire_at is None]
        self._store.insert_key(new, retire)
        return new

    def prune(self, now: datetime) -> list[int]:
        """Delete keys whose retirement has come, files included; return their ids."""
        gone = [
            row.key_id
            for row in self._store.key_rows()
            if row.retire_at is not None and row.retire_at <= now
        ]
        if gone:
            self._store.delete_keys(gone)
            for key_id in gone:
                self._path(key_id).unlink(missing_ok=True)
                with self._lock:
                    self._loaded.pop(key_id, None)
        return gone

    def signer_at(self, when: datetime) -> SigningKey | None:
        """The key that signs tokens starting at `when`: the newest one already signing."""
        signing = [
            row
            for row in self._store.key_rows()
            if row.signs_from <= when and (row.retire_at is None or when < row.retire_at)
        ]
        if not signing:
            return None
        # Rows come oldest first: on equal start times (stored to the millisecond) the
        # later-created key wins.
        _, newest = max(enumerate(signing), key=lambda pair: (pair[1].signs_from, pair[0]))
        return self.private_key(newest.key_id)

    def retire_at(self, key_id: int) -> datetime | None:
        """When a key stops being trusted, if scheduled."""
        for row in self._store.key_rows():
            if row.key_id == key_id:
                return row.retire_at
        return None

    def keys(self, now: datetime) -> list[KeyInfo]:
        """Every kept key, oldest first, with whether it is the one signing now."""
        signer = self.signer_at(now)
        return [
            KeyInfo(
                row.key_id,
                row.public_key,
                row.created_at,
                row.signs_from,
                row.retire_at,
                signer is not None and signer.key_id == row.key_id,
            )
            for row in self._store.key_rows()
        ]

    def published_entries(self, now: datetime) -> list[PublicKeyEntry]:
        """The `keys/1` entries: every key not yet retired.

        No `valid_from`: a key is trusted as soon as it is published (the central alone
        decides when it starts signing), so a gateway whose clock runs behind never
        refuses a brand-new key.
        """
        return [
            PublicKeyEntry(key_id=row.key_id, public_key=row.public_key, valid_until=row.retire_at)
            for row in self._store.key_rows()
            if row.retire_at is None or row.retire_at > now
        ]
