"""Operator signatures on commands and desired config: Ed25519 over canonical JSON.

The signed bytes are the payload as the model serialises it, without `signature`, as
JSON with sorted keys and no spaces, prefixed with `YZOP1:` so a signature made for this
purpose can never be taken for a token signature. Signer and verifier both go through the
model, so field order, whitespace and time formatting cannot make a good signature fail.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contract.payloads import Payload

DOMAIN = b"YZOP1:"

P = TypeVar("P", bound=Payload)


def canonical_bytes(payload: Payload) -> bytes:
    """What an operator signs: the payload without its signature, canonical JSON."""
    document = payload.model_dump(mode="json", by_alias=True, exclude={"signature"})
    return (
        DOMAIN
        + json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )


def sign(payload: P, sender: str, key: Ed25519PrivateKey) -> P:
    """A copy of `payload` naming `sender` and carrying its signature."""
    named = payload.model_copy(update={"sender": sender, "signature": None})
    signature = key.sign(canonical_bytes(named))
    return named.model_copy(update={"signature": base64.b64encode(signature).decode()})


def verify(payload: Payload, operators: dict[str, Ed25519PublicKey]) -> str | None:
    """None when an operator in `operators` signed `payload`; else why not, for the reply."""
    sender = getattr(payload, "sender", None)
    signature = getattr(payload, "signature", None)
    if not sender or not signature:
        return "it must be signed by an operator key (sender and signature)"
    key = operators.get(sender)
    if key is None:
        return f"sender {sender!r} is not an operator this gateway knows"
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, canonical_bytes(payload))
    except (binascii.Error, ValueError, InvalidSignature):
        return f"the signature does not match sender {sender!r} and this payload"
    return None


def load_public_key(text: str) -> Ed25519PublicKey:
    """A 32-byte raw Ed25519 public key in standard base64; raises `ValueError`."""
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError("not base64") from exc
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, not {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)
