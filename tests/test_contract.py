"""Wire contract v1: topic grammar, payload validation, and the published JSON Schemas."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.codec import MAX_PAYLOAD_BYTES, Decoded, Rejected, decode
from contract.models import ALL_MODELS
from contract.payloads import AccessEvent, Availability, format_utc
from contract.schema_files import SCHEMA_DIR, expected_files, schema_file_name
from contract.topics import TOPICS, event_topic, gateway_topic, occupancy_topic, parse_topic


def access(**changes: object) -> AccessEvent:
    fields: dict[str, object] = {
        "station_id": "cs-0001",
        "gateway_id": "gw-1",
        "seq": 1,
        "at": datetime(2026, 11, 23, 3, 0, tzinfo=UTC),
        "door_id": "main",
        "direction": "in",
        "credential": "qr",
        "decision": "granted",
        "reason": "granted",
    }
    fields.update(changes)
    return AccessEvent.model_validate(fields)


def test_schema_files_on_disk_match_the_models() -> None:
    on_disk = {path.name: path.read_text("utf-8") for path in SCHEMA_DIR.glob("*.json")}
    assert on_disk == expected_files(), "stale: run `python -m contract.schema_files`"


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.SCHEMA)
def test_every_model_has_a_schema_file_and_a_topic(model: type) -> None:
    assert (SCHEMA_DIR / schema_file_name(model)).exists()
    assert any(spec.model is model for spec in TOPICS)


def test_a_payload_validates_against_its_published_schema() -> None:
    schema = json.loads((SCHEMA_DIR / "access.v1.json").read_text("utf-8"))
    jsonschema.validate(json.loads(access().to_json()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**json.loads(access().to_json()), "seq": 0}, schema)


@pytest.mark.parametrize(
    "topic",
    [
        event_topic("cs-0001", "gw-1", "access"),
        event_topic("cs-0001", "gw-1", "alarm"),
        gateway_topic("cs-0001", "gw-1", "availability"),
        gateway_topic("cs-0001", "gw-1", "command"),
        gateway_topic("cs-0001", "gw-1", "stored"),
        occupancy_topic("cs-0001"),
    ],
)
def test_built_topics_parse_back(topic: str) -> None:
    address = parse_topic(topic)
    assert address is not None
    assert address.station_id == "cs-0001"


@pytest.mark.parametrize(
    "topic",
    [
        "yz/v2/st/a/gw/b/event/access",
        "yz/v1/st/A/gw/b/event/access",
        "yz/v1/st/a/gw/b/event/unknown",
        "yz/v1/st/a/gw/b/event/access/extra",
        "yz/v1/st/a/gw/b/health/extra",
        "yz/v1/st/a/gw/b/reply/#",
        "yz/v1/st/a/gw/b/reply/+/mine",
        "yz/v1/st/a/gw/b/replies",
        "yz/v1/st/a/occupancy/x",
        "yz/v1/st/+/gw/b/event/access",
        "",
    ],
)
def test_foreign_topics_do_not_parse(topic: str) -> None:
    assert parse_topic(topic) is None


def test_a_topic_below_a_reply_topic_is_a_reply_of_that_gateway() -> None:
    address = parse_topic("yz/v1/st/cs-0001/gw/gw-1/reply/alice/1")
    assert address is not None
    assert (address.spec.name, address.station_id, address.gateway_id) == (
        "reply",
        "cs-0001",
        "gw-1",
    )


def test_event_topic_refuses_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="unknown event kind"):
        event_topic("a", "b", "sneeze")


def test_wildcards_cover_their_patterns() -> None:
    assert {spec.wildcard for spec in TOPICS} >= {
        "yz/v1/st/+/gw/+/event/access",
        "yz/v1/st/+/gw/+/availability",
        "yz/v1/st/+/occupancy",
    }


def test_times_are_utc_with_milliseconds_and_z() -> None:
    shanghai = timezone(timedelta(hours=8))
    event = access(at=datetime(2026, 11, 23, 11, 0, 0, 123456, tzinfo=shanghai))
    assert json.loads(event.to_json())["at"] == "2026-11-23T03:00:00.123Z"
    assert format_utc(event.at) == "2026-11-23T03:00:00.123Z"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        access(at=datetime(2026, 11, 23, 3, 0))


def test_decode_accepts_a_good_event() -> None:
    event = access()
    result = decode(event_topic("cs-0001", "gw-1", "access"), event.to_json())
    assert isinstance(result, Decoded)
    assert result.payload == event


@pytest.mark.parametrize(
    ("payload", "code", "words"),
    [
        (b"{", "bad_json", "not JSON"),
        (b"[1, 2]", "bad_json", "JSON object"),
        (b'{"seq": 1}', "unknown_schema", "no 'schema' field"),
        (b'{"schema": "access/2"}', "unknown_schema", "unknown schema version 'access/2'"),
        (b'{"schema": "door/1"}', "unknown_schema", "does not belong on this topic"),
        (b'{"schema": "access/1", "seq": "x"}', "invalid", "seq"),
        (b"\xff\xfe", "bad_json", "not JSON"),
        (b"x" * (MAX_PAYLOAD_BYTES + 1), "oversized", "limit"),
    ],
)
def test_decode_rejects_with_a_reason(payload: bytes, code: str, words: str) -> None:
    result = decode(event_topic("cs-0001", "gw-1", "access"), payload)
    assert isinstance(result, Rejected)
    assert result.code == code
    assert words in result.reason


def test_decode_rejects_a_station_id_that_does_not_match_the_topic() -> None:
    result = decode(event_topic("cs-0002", "gw-1", "access"), access().to_json())
    assert isinstance(result, Rejected)
    assert result.code == "wrong_identity"


def test_decode_rejects_unknown_fields() -> None:
    document = {**json.loads(access().to_json()), "surprise": 1}
    result = decode(event_topic("cs-0001", "gw-1", "access"), json.dumps(document).encode())
    assert isinstance(result, Rejected)
    assert "surprise" in result.reason


def test_the_last_will_payload_is_valid() -> None:
    will = Availability(station_id="cs-0001", gateway_id="gw-1", online=False)
    result = decode(gateway_topic("cs-0001", "gw-1", "availability"), will.to_json())
    assert isinstance(result, Decoded)


@given(st.binary(max_size=2048))
def test_decode_never_raises_on_arbitrary_bytes(payload: bytes) -> None:
    result = decode("yz/v1/st/cs-0001/gw/gw-1/event/access", payload)
    assert isinstance(result, Rejected)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=20,
    )
)
def test_decode_never_raises_on_arbitrary_json(document: object) -> None:
    payload = json.dumps(document).encode()
    result = decode("yz/v1/st/cs-0001/gw/gw-1/event/door", payload)
    assert isinstance(result, Rejected | Decoded)
