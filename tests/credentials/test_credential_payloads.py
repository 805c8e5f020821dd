"""The desired-state payloads: keys, revocations and the face/card map."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import ValidationError

from contract.credential_payloads import (
    CREDENTIAL_MODELS,
    CredentialEntry,
    CredentialMap,
    PublicKeyEntry,
    PublicKeys,
    Revocations,
)
from contract.payloads import Payload
from tests.credentials.support import KEY_A, KEY_B, NOON_SHANGHAI, published


def test_public_keys_name_their_schema_and_round_trip() -> None:
    payload = published(KEY_A, KEY_B, version=7)
    wire = json.loads(payload.to_json())
    assert wire["schema"] == "keys/1"
    assert wire["issued_at"] == "2026-01-05T04:00:00.000Z"
    assert base64.b64decode(wire["keys"][0]["public_key"]) == KEY_A.public_key_bytes()
    assert PublicKeys.model_validate(wire) == payload


@pytest.mark.parametrize("public_key", ["not base64!", base64.b64encode(bytes(31)).decode(), ""])
def test_a_public_key_must_be_32_raw_bytes_in_base64(public_key: str) -> None:
    with pytest.raises(ValidationError):
        PublicKeyEntry(key_id=1, public_key=public_key)


def test_key_ids_in_one_list_are_distinct() -> None:
    with pytest.raises(ValidationError):
        published(KEY_A, KEY_A)


def test_revocations_round_trip_and_refuse_numbers_a_token_cannot_carry() -> None:
    payload = Revocations(version=2, issued_at=NOON_SHANGHAI, worker_numbers=[1, 0xFFFF_FFFF])
    wire = json.loads(payload.to_json())
    assert wire["schema"] == "revocations/1"
    assert Revocations.model_validate(wire) == payload
    with pytest.raises(ValidationError):
        Revocations(version=2, issued_at=NOON_SHANGHAI, worker_numbers=[1 << 32])
    with pytest.raises(ValidationError):
        Revocations.model_validate({**wire, "schema": "revocations/2"})


def test_a_credential_map_refuses_one_id_twice() -> None:
    entry = CredentialEntry(kind="card", external_id="123", worker_number=5)
    with pytest.raises(ValidationError):
        CredentialMap(station_id="cs-1", version=1, issued_at=NOON_SHANGHAI, entries=[entry, entry])


def test_every_model_subclasses_payload_with_its_schema_as_default() -> None:
    for model in CREDENTIAL_MODELS:
        assert issubclass(model, Payload)
        assert model.model_fields["schema_"].default == model.SCHEMA
        assert model.model_fields["schema_"].alias == "schema"
