"""Turning MQTT messages into payload models, with a reason for every refusal.

Pure: no I/O. The central uses it on everything it receives, the gateway on commands.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import ValidationError

from contract.payloads import Payload
from contract.topics import TopicAddress, parse_topic

MAX_PAYLOAD_BYTES = 64 * 1024
"""Nothing in v1 comes close; anything larger is refused before it is parsed."""

MAX_DEPTH = 32
"""The deepest nesting of objects and arrays in any v1 payload is 4; a deeper document is
refused before validation, and one deep enough to exhaust the parser is refused too."""

ESCAPED_NUL = b"\\u0000"
"""A NUL can only reach a JSON string escaped; no database stores it in text, so a payload
carrying one is refused here rather than failing every write of its batch."""


@dataclass(frozen=True, slots=True)
class Decoded:
    """A message that passed every check."""

    address: TopicAddress
    payload: Payload


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that failed a check, with a reason a person can act on."""

    topic: str
    code: str
    reason: str


def decode(topic: str, raw: bytes) -> Decoded | Rejected:
    """Validate one message against the topic tree and the payload models."""
    address = parse_topic(topic)
    if address is None:
        return Rejected(topic, "unknown_topic", f"topic {topic!r} is not part of wire contract v1")
    if len(raw) > MAX_PAYLOAD_BYTES:
        return Rejected(
            topic,
            "oversized",
            f"payload is {len(raw)} bytes; the limit is {MAX_PAYLOAD_BYTES}",
        )
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Rejected(topic, "bad_json", f"payload is not JSON: {exc}")
    except RecursionError:
        return Rejected(topic, "bad_json", f"payload nests deeper than {MAX_DEPTH} levels")
    if not isinstance(document, dict):
        return Rejected(topic, "bad_json", "payload must be a JSON object")
    if _depth(document) > MAX_DEPTH:
        return Rejected(topic, "bad_json", f"payload nests deeper than {MAX_DEPTH} levels")
    if ESCAPED_NUL in raw and _has_nul(document):
        return Rejected(topic, "invalid", "payload contains a NUL character (\\u0000)")
    model = address.spec.model
    schema = document.get("schema")
    if schema != model.SCHEMA:
        return Rejected(topic, "unknown_schema", _schema_mismatch(schema, model.SCHEMA))
    try:
        payload = model.model_validate(document)
    except ValidationError as exc:
        return Rejected(topic, "invalid", _summarise(exc))
    mismatch = _identity_mismatch(address, payload)
    if mismatch is not None:
        return Rejected(topic, "wrong_identity", mismatch)
    return Decoded(address, payload)


def suspicious(raw: bytes) -> bool:
    """Whether a payload needs the careful path (`decode`) even if a model accepts it: it
    may carry a NUL character or nest deeper than any payload of the contract. Cheap
    (byte scans), for fast paths that validate straight from bytes."""
    return ESCAPED_NUL in raw or raw.count(b"{") + raw.count(b"[") > MAX_DEPTH


def _depth(value: object) -> int:
    """How deeply objects and arrays nest (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def _has_nul(value: object) -> bool:
    """Whether a NUL character stands in any key or string of a decoded document."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _schema_mismatch(schema: object, expected: str) -> str:
    if schema is None:
        return f"payload has no 'schema' field; this topic carries {expected!r}"
    kind = expected.split("/", 1)[0]
    if isinstance(schema, str) and schema.split("/", 1)[0] == kind:
        return f"unknown schema version {schema!r}; this service knows {expected!r}"
    return f"schema {schema!r} does not belong on this topic, which carries {expected!r}"


def _summarise(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "payload"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(parts)
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def _identity_mismatch(address: TopicAddress, payload: Payload) -> str | None:
    for field, expected in (
        ("station_id", address.station_id),
        ("gateway_id", address.gateway_id),
        ("central_id", address.central_id),
    ):
        actual = getattr(payload, field, None)
        if expected is not None and actual is not None and actual != expected:
            return f"{field} {actual!r} in the payload does not match {expected!r} in the topic"
    return None
