"""Validating raw MQTT payloads against the JSON Schema files published in docs/schema."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema

from contract.schema_files import SCHEMA_DIR, schema_file_name
from contract.topics import parse_topic


@cache
def _validator(file_name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMA_DIR / file_name).read_text("utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def validate_published(topic: str, payload: bytes) -> dict[str, Any]:
    """Parse `payload` and validate it against the schema file of its topic's family."""
    address = parse_topic(topic)
    assert address is not None, f"{topic} is not a documented topic"
    document: dict[str, Any] = json.loads(payload)
    _validator(schema_file_name(address.spec.model)).validate(document)
    return document
