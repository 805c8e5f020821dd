"""The pure parts of maintenance: signatures, per-key setting checks, host figures, the
error ring."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from contract.payloads import Command, utc_now
from contract.signing import sign, verify
from gateway.diagnostics import RecentErrors, cpu_temp_c, memory_available_mb
from gateway.live_config import check_setting
from tests.support.signing import OPERATOR, STRANGER

OPERATORS = {OPERATOR.name: OPERATOR.private_key.public_key()}


def test_a_signature_covers_every_field() -> None:
    command = Command(
        request_id="r-1",
        station_id="cs-0001",
        gateway_id="gw-1",
        issued_at=utc_now(),
        command="unlock",
        args={"door": "main"},
    )
    signed = sign(command, OPERATOR.name, OPERATOR.private_key)
    assert verify(signed, OPERATORS) is None
    # Through the wire and back (key order, spacing and time format do not matter).
    assert verify(Command.model_validate_json(signed.to_json()), OPERATORS) is None
    for change in (
        {"request_id": "r-2"},
        {"ttl_s": 300.0},
        {"args": {"door": "back"}},
        {"station_id": "cs-0002"},
        {"gateway_id": "gw-2"},
    ):
        assert "does not match" in (verify(signed.model_copy(update=change), OPERATORS) or "")
    forged = sign(command, STRANGER.name, STRANGER.private_key)
    assert "does not match" in (verify(forged, OPERATORS) or "")
    assert "not an operator" in (verify(sign(command, "eve", STRANGER.private_key), {}) or "")
    assert "signed by an operator" in (verify(command, OPERATORS) or "")


@pytest.mark.parametrize(
    ("key", "value", "wanted"),
    [
        ("policy.capacity", 0, 0),
        ("policy.capacity", None, None),
        ("doors.main.unlock_s", 60, 60.0),
        ("policy.hours", "24h", "24h"),
        ("maintenance.health_interval_s", 1, 1.0),
    ],
)
def test_good_settings_pass(key: str, value: object, wanted: object) -> None:
    assert check_setting(key, value, ["main"]) == wanted


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("policy.capacity", -1, "whole number"),
        ("policy.capacity", True, "whole number"),
        ("doors.main.unlock_s", 61, "at most 60"),
        ("doors.main.unlock_s", float("nan"), "number of seconds"),
        ("doors.side.unlock_s", 5, "no door 'side'"),
        ("policy.hours", ["6-23"], "HH:MM-HH:MM"),
        ("policy.hours", 24, '"24h"'),
        ("broker.url", "mqtt://x", "can change while running"),
    ],
)
def test_bad_settings_say_why(key: str, value: object, why: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_setting(key, value, ["main"])
    assert why in str(caught.value)


def test_host_figures_read_what_the_kernel_gives(tmp_path: Path) -> None:
    (tmp_path / "temp").write_text("48312\n")
    assert cpu_temp_c(tmp_path / "temp") == 48.3
    assert cpu_temp_c(tmp_path / "absent") is None
    (tmp_path / "meminfo").write_text("MemTotal: 4000000 kB\nMemAvailable:  2048000 kB\n")
    assert memory_available_mb(tmp_path / "meminfo") == 2000.0


def test_recent_errors_keep_the_last_warnings_only() -> None:
    ring = RecentErrors(size=2)
    logger = logging.getLogger("test.ring")
    logger.addHandler(ring)
    try:
        logger.warning("one")
        logger.info("not kept")
        logger.error("two %d", 2)
        logger.error("three")
    finally:
        logger.removeHandler(ring)
    assert [entry["message"] for entry in ring.recent()] == ["two 2", "three"]
