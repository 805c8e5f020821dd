"""ZKTeco PUSH (iclock) bodies: records read, bad lines refused with a reason, commands
written so that no field can smuggle in another."""

from __future__ import annotations

from datetime import datetime

import pytest

from firmware_bridge.iclock import (
    handshake_reply,
    parse_command_results,
    parse_upload,
    user_delete_command,
    user_update_command,
)


def test_a_realtime_record_names_the_person_and_door_state_lines_are_ignored() -> None:
    body = (
        "time=2026-12-01 08:30:05\tpin=4242001\tcardno=0\teventaddr=1\tevent=0\t"
        "inoutstatus=0\tverifytype=15\tindex=12\r\n"
        "time=2026-12-01 08:30:06\tsensor=01\trelay=00\talarm=0000000000000000\tdoor=01\r\n"
        "time=2026-12-01 08:30:07\tpin=0\tcardno=0\tevent=27\tverifytype=15\r\n"
    )
    upload = parse_upload("rtlog", body)
    (record,) = upload.verifications
    assert (record.pin, record.at, record.verify_mode, record.realtime) == (
        "4242001",
        datetime(2026, 12, 1, 8, 30, 5),
        15,
        True,
    )
    assert upload.ignored == 2 and upload.refused == ()


def test_attlog_punches_are_read_and_bad_lines_refused_with_their_line_number() -> None:
    body = (
        "1001\t2026-12-01 08:30:05\t0\t15\t0\t0\t0\nbroken line\n1002\t2026-13-01 00:00:00\t0\t1\n"
    )
    upload = parse_upload("ATTLOG", body)
    assert [v.pin for v in upload.verifications] == ["1001"]
    assert [(r.line_no, r.reason) for r in upload.refused] == [
        (2, "1 tab-separated fields, at least 4 expected"),
        (3, "time '2026-13-01 00:00:00' is not YYYY-MM-DD HH:MM:SS"),
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("time=2026-12-01 08:30:05\tpin=12 34", "PIN '12 34' is not 1-24 letters or digits"),
        ("pin=1001\tverifytype=15", "no time= field"),
        ("time=2026-12-01 08:30:05\tpin=1001\tverifytype=face", "verifytype 'face' is not a"),
        ("just words", "field 'just words' is not key=value"),
    ],
)
def test_a_bad_realtime_line_is_refused_with_a_reason(line: str, reason: str) -> None:
    upload = parse_upload("rtlog", line)
    assert upload.verifications == ()
    assert reason in upload.refused[0].reason


def test_operlog_and_unknown_tables_are_counted_and_their_content_dropped() -> None:
    templates = "FACE PIN=1\tFID=0\tSIZE=1024\tVALID=1\tTMP=AAAA\nOPLOG 4\t0\t2026-12-01 08:00:00\n"
    assert parse_upload("OPERLOG", templates).ignored == 2
    assert parse_upload("BIODATA", "Pin=1\tTmp=AAAA\n").verifications == ()


def test_the_handshake_asks_for_realtime_uploads_without_photos() -> None:
    reply = handshake_reply("CQZ7233460003", 5)
    assert reply.startswith("GET OPTION FROM: CQZ7233460003\n")
    assert "Realtime=1\n" in reply and "Delay=5\n" in reply
    assert "ATTPHOTOStamp=9999\n" in reply


def test_user_commands_are_byte_exact_and_a_name_cannot_add_fields() -> None:
    assert user_update_command(7, "4242001", "W000123") == (
        "C:7:DATA UPDATE USERINFO PIN=4242001\tName=W000123\tPri=0"
    )
    assert user_delete_command(8, "4242001") == "C:8:DATA DELETE USERINFO PIN=4242001"
    sneaky = user_update_command(9, "1", "x\tPri=14\nC:10:DATA DELETE USERINFO PIN=2")
    assert sneaky.count("\t") == 2 and "\n" not in sneaky and "Pri=14" not in sneaky
    with pytest.raises(ValueError, match="PIN"):
        user_delete_command(1, "1\tPIN=2")


def test_command_results_are_read_and_garbage_refused() -> None:
    results, refused = parse_command_results(
        "ID=7&Return=0&CMD=DATA\nID=8&Return=-1002&CMD=DATA\nnope\n"
    )
    assert [(r.command_id, r.ok) for r in results] == [(7, True), (8, False)]
    assert refused[0].line_no == 3
