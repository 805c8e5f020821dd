"""Values that once passed validation and then broke every write of their batch: each is
now refused at decoding with a reason, on the careful path and on the ingest's fast path."""

from __future__ import annotations

import json

import pytest

from contract.codec import MAX_DEPTH, Decoded, Rejected, decode
from contract.payloads import AccessEvent, utc_now
from dashboard.ingest.writer import fast_decode

TOPIC = "yz/v1/st/cs-0001/gw/gw-1/event/access"


def valid() -> dict[str, object]:
    event = AccessEvent(
        station_id="cs-0001",
        gateway_id="gw-1",
        seq=1,
        at=utc_now(),
        door_id="main",
        direction="in",
        credential="qr",
        worker_id="w3902551477",
        decision="granted",
        reason="granted",
    )
    document: dict[str, object] = json.loads(event.to_json())
    return document


def refusal(document: object) -> Rejected:
    raw = json.dumps(document).encode()
    assert fast_decode(TOPIC, raw) is None, "the fast path let it through"
    result = decode(TOPIC, raw)
    assert isinstance(result, Rejected), f"accepted: {result}"
    return result


def test_a_valid_event_passes_both_paths() -> None:
    raw = json.dumps(valid()).encode()
    assert isinstance(fast_decode(TOPIC, raw), Decoded)
    assert isinstance(decode(TOPIC, raw), Decoded)


@pytest.mark.parametrize("seq", [2**63, 2**64 + 5, 10**30])
def test_a_sequence_number_beyond_64_bits_is_refused(seq: int) -> None:
    result = refusal({**valid(), "seq": seq})
    assert result.code == "invalid"
    assert "seq" in result.reason


def test_the_largest_64_bit_sequence_number_is_accepted() -> None:
    raw = json.dumps({**valid(), "seq": 2**63 - 1}).encode()
    assert isinstance(decode(TOPIC, raw), Decoded)


@pytest.mark.parametrize("field", ["worker_id", "event_id", "door_id"])
def test_a_nul_character_in_a_string_is_refused(field: str) -> None:
    result = refusal({**valid(), field: "w1\x00"})
    assert result.code == "invalid"


def test_a_nul_character_in_a_free_text_field_is_refused_with_its_reason() -> None:
    document = {**valid(), "schema": "door/1", "state": "open", "cause": "x\x00y"}
    for key in ("credential", "worker_id", "decision", "reason", "direction"):
        document.pop(key)
    raw = json.dumps(document).encode()
    assert fast_decode("yz/v1/st/cs-0001/gw/gw-1/event/door", raw) is None
    result = decode("yz/v1/st/cs-0001/gw/gw-1/event/door", raw)
    assert isinstance(result, Rejected)
    assert "NUL" in result.reason


@pytest.mark.parametrize(
    "at",
    ["0001-01-01T00:00:00.000+01:00", "9999-12-31T23:59:59.999-01:00", "1969-12-31T23:59:59Z"],
)
def test_a_time_no_clock_reports_is_refused_not_raised(at: str) -> None:
    result = refusal({**valid(), "at": at})
    assert result.code == "invalid"
    assert "at" in result.reason


def test_a_gateway_clock_reset_to_1970_is_still_accepted() -> None:
    raw = json.dumps({**valid(), "at": "1970-01-01T00:00:05.000Z"}).encode()
    assert isinstance(decode(TOPIC, raw), Decoded)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 30_000])
def test_json_nested_too_deep_is_refused_not_raised(depth: int) -> None:
    raw = b'{"schema": "access/1", "x": ' + b"[" * depth + b"]" * depth + b"}"
    assert fast_decode(TOPIC, raw) is None
    result = decode(TOPIC, raw)
    assert isinstance(result, Rejected)
    assert result.code == "bad_json"
    assert "nests deeper" in result.reason


@pytest.mark.parametrize(
    "worker_id",
    ["w-1", "w0", "w07", "w4294967296", "w9999999999", '=HYPERLINK("x")', "alice", "w" + "1" * 11],
)
def test_a_worker_id_not_in_its_documented_form_is_refused(worker_id: str) -> None:
    result = refusal({**valid(), "worker_id": worker_id})
    assert result.code == "invalid"
    assert "worker_id" in result.reason
