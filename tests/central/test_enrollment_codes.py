"""Enrollment codes in the central's database, on SQLite and on PostgreSQL: kept only as
hashes, spent once, refused with their reason when expired, withdrawn or unknown."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contract.enrollment import MalformedCodeError
from contract.payloads import utc_now
from dashboard.storage.enrollments import CodeRefusedError, EnrollmentStore
from dashboard.storage.migrations import open_database

DAY = timedelta(hours=24)


def refusal(codes: EnrollmentStore, code: str) -> str:
    with pytest.raises(CodeRefusedError) as refused:
        codes.claim(code)
    return refused.value.reason


def test_a_code_is_stored_hashed_and_works_once(database_url: str) -> None:
    database = open_database(database_url)
    codes = EnrollmentStore(database)
    issued = codes.issue("cs-0001", "gw-2", "alice", DAY)
    with database.connection() as db:
        stored = [tuple(r) for r in db.execute("SELECT * FROM enrollment_codes").fetchall()]
    assert len(stored) == 1
    raw = issued.code.replace("-", "")
    assert not any(raw in str(value) or issued.code in str(value) for value in stored[0])
    assert [p.gateway_id for p in codes.pending("cs-0001")] == ["gw-2"]

    # Typed the way a technician might: lower case, spaces instead of dashes.
    claimed = codes.claim(issued.code.lower().replace("-", " "))
    assert (claimed.station_id, claimed.gateway_id) == ("cs-0001", "gw-2")
    assert refusal(codes, issued.code) == "spent"
    assert codes.pending("cs-0001") == []
    database.close()


def test_expired_withdrawn_unknown_and_malformed_codes_change_nothing(database_url: str) -> None:
    database = open_database(database_url)
    codes = EnrollmentStore(database)
    old = codes.issue("cs-0001", "gw-1", "alice", DAY)
    newer = codes.issue("cs-0001", "gw-1", "alice", DAY)
    late = codes.issue("cs-0001", "gw-3", "alice", timedelta(minutes=5))

    def everything() -> list[tuple[object, ...]]:
        with database.connection() as db:
            rows = db.execute("SELECT * FROM enrollment_codes ORDER BY created_at, gateway_id")
            return [tuple(r) for r in rows.fetchall()]

    before = everything()
    assert refusal(codes, old.code) == "revoked"
    assert refusal(codes, "AAAAA-AAAAA-AAAAA-AAAAA") == "unknown"
    with pytest.raises(CodeRefusedError) as expired:
        codes.claim(late.code, now=utc_now() + timedelta(minutes=6))
    assert expired.value.reason == "expired" and "expired at" in str(expired.value)
    for text in ("", "ABCDE", "ABCDE-FGHIJ-KLMNO-PQRS1", "x" * 500):
        with pytest.raises(MalformedCodeError):
            codes.claim(text)
    assert everything() == before

    # Removing the gateway withdraws its code; an enrollment that could not finish gives
    # its code back.
    assert codes.revoke_gateway("cs-0001", "gw-3") == 1
    assert refusal(codes, late.code) == "revoked"
    codes.claim(newer.code)
    codes.unclaim(newer.code)
    assert codes.claim(newer.code).gateway_id == "gw-1"
    database.close()
