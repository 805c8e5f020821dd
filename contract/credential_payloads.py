"""Desired-state payloads for credentials: what the central pushes so gateways decide offline.

All three are meant to be published retained, so a gateway that (re)connects gets the
current picture at once and keeps deciding from its last copy while the link is down:

- `PublicKeys` (`keys/1`): the Ed25519 public keys that sign QR tokens.
- `Revocations` (`revocations/1`): worker numbers whose tokens must be refused.
- `CredentialMap` (`credentials/1`): face-terminal person ids and card numbers of one
  station, mapped to worker numbers.

Worker numbers are the integers inside tokens (`contract.tokens`); the pseudonymous id in
events is `w<number>`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from contract.payloads import Payload, Slug, UtcTime, Version

WorkerNumber = Annotated[int, Field(ge=0, le=0xFFFF_FFFF)]
"""The central's 32-bit number for a worker, as tokens carry it."""


def _raw_ed25519_key(value: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("public key must be standard base64") from None
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
    return value


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class PublicKeyEntry(_Entry):
    """One signing key's public half and the window in which gateways accept it."""

    key_id: int = Field(ge=0, le=255, description="The id tokens name the key by.")
    public_key: Annotated[str, AfterValidator(_raw_ed25519_key)] = Field(
        description="Raw 32-byte Ed25519 public key, standard base64."
    )
    valid_from: UtcTime | None = None
    valid_until: UtcTime | None = Field(
        default=None, description="Tokens signed by this key are refused from this time on."
    )


MAX_PUBLIC_KEYS = 16
"""The most keys one `keys/1` list holds (and a gateway keeps)."""


class PublicKeys(Payload):
    """The keys gateways trust for QR tokens; two overlap while a key rotates."""

    SCHEMA: ClassVar[str] = "keys/1"
    schema_: Literal["keys/1"] = Field(default="keys/1", alias="schema")
    version: Version = Field(description="Counts up; a gateway ignores an older list.")
    issued_at: UtcTime
    keys: list[PublicKeyEntry] = Field(max_length=MAX_PUBLIC_KEYS)

    @model_validator(mode="after")
    def _distinct_ids(self) -> PublicKeys:
        ids = [entry.key_id for entry in self.keys]
        if len(ids) != len(set(ids)):
            raise ValueError("key ids must be distinct")
        return self


class Revocations(Payload):
    """The full list of revoked workers (not a delta), so one retained message is enough."""

    SCHEMA: ClassVar[str] = "revocations/1"
    schema_: Literal["revocations/1"] = Field(default="revocations/1", alias="schema")
    version: Version = Field(description="Counts up; a gateway ignores an older list.")
    issued_at: UtcTime
    worker_numbers: list[WorkerNumber] = Field(default_factory=list, max_length=1_000_000)


class CredentialEntry(_Entry):
    """A face-terminal person id or a card number, and the worker it belongs to."""

    kind: Literal["face", "card"]
    external_id: str = Field(
        min_length=1,
        max_length=64,
        description="The terminal's person id, or the card number in decimal.",
    )
    worker_number: WorkerNumber
    group: int = Field(default=0, ge=0, le=255)


class CredentialMap(Payload):
    """One station's lookup table from face ids and cards to workers."""

    SCHEMA: ClassVar[str] = "credentials/1"
    schema_: Literal["credentials/1"] = Field(default="credentials/1", alias="schema")
    station_id: Slug
    version: Version = Field(description="Counts up; a gateway ignores an older table.")
    issued_at: UtcTime
    entries: list[CredentialEntry] = Field(default_factory=list, max_length=100_000)

    @model_validator(mode="after")
    def _distinct_ids(self) -> CredentialMap:
        keys = {(entry.kind, entry.external_id) for entry in self.entries}
        if len(keys) != len(self.entries):
            raise ValueError("each (kind, external_id) may appear once")
        return self


CREDENTIAL_MODELS: tuple[type[Payload], ...] = (PublicKeys, Revocations, CredentialMap)
