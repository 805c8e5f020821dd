"""Board profiles: the shipped ones load, and every kind of mistake is pinned to its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardware.profile import (
    ProfileError,
    key_lines,
    load_profile,
    load_shipped_profile,
    main,
    shipped_profiles,
)

GOOD = """\
[board]
model = "Raspberry Pi 4 Model B"

[fire]
pin = 26

[[doors]]
id = "front"
[doors.relay]
pin = 17
polarity = "fail_safe"
[doors.contact]
pin = 27
[doors.rex]
pin = "GPIO22"

[[doors]]
id = "yard"
[doors.relay]
pin = "BOARD16"
polarity = "fail_secure"
[doors.contact]
pin = 24
[doors.beams]
a = 5
b = 6

[[scanners]]
id = "front-in"
port = "/dev/serial0"
door = "front"
direction = "in"

[[radars]]
id = "room"
port = "/dev/ttyUSB0"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "board.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> ProfileError:
    path = write(tmp_path, text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(path) in str(info.value)
    return info.value


def line_number(text: str, needle: str, occurrence: int = 1) -> int:
    """Line of the n-th line that is exactly ``needle``, else that contains it."""
    lines = list(enumerate(text.splitlines(), 1))
    hits = [n for n, line in lines if line.strip() == needle] or [
        n for n, line in lines if needle in line
    ]
    return hits[occurrence - 1]


@pytest.mark.parametrize("name", ["raspberry-pi-4", "raspberry-pi-5"])
def test_shipped_profiles_load(name: str) -> None:
    assert name in shipped_profiles()
    profile = load_shipped_profile(name)
    front = profile.door("front")
    assert front.relay.pin == 17
    assert front.relay.polarity == "fail_safe"
    assert profile.fire_for(front) is not None
    assert {s.door for s in profile.scanners} <= {d.id for d in profile.doors}
    assert all(s.port for s in [*profile.scanners, *profile.radars])


def test_unknown_shipped_profile_suggests_a_name() -> None:
    with pytest.raises(ProfileError, match='did you mean "raspberry-pi-4"'):
        load_shipped_profile("raspbery-pi-4")


def test_good_profile_loads_and_converts_pin_names(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, GOOD))
    rex = profile.door("front").rex
    assert rex is not None
    assert rex.pin == 22
    assert rex.active_high is False  # REX default: button to ground
    assert profile.door("yard").relay.pin == 23  # physical 16
    assert profile.radars[0].baud == 256000
    assert profile.scanners[0].baud == 9600


def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    text = GOOD.replace('polarity = "fail_safe"', 'polarity = "fail_safe')
    err = error_for(tmp_path, text)
    line = line_number(text, 'polarity = "fail_safe')
    assert f"board.toml:{line}:" in str(err)
    assert err.problems[0].column is not None
    assert "TOML syntax error" in str(err)
    assert "Fix:" in str(err)


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("pin = 28", "GPIO28 is not on the 40-pin header"),
        ("pin = 1", "GPIO1 is reserved for the HAT ID EEPROM"),
        ('pin = "BOARD6"', "physical pin 6 is ground"),
        ('pin = "BOARD1"', "physical pin 1 is 3V3 power"),
        ('pin = "PIN17"', "'PIN17' is not a pin name"),
        ("pin = 17.0", "a pin must be a number or a name"),
        ("pin = true", "a pin must be a number or a name"),
    ],
)
def test_unknown_pin(tmp_path: Path, bad: str, says: str) -> None:
    text = GOOD.replace('pin = "GPIO22"', bad)
    err = error_for(tmp_path, text)
    line = line_number(text, bad)
    assert f"board.toml:{line}: doors[0].rex.pin: {says}" in str(err)
    assert 'Fix: use a BCM GPIO number 2-27 (e.g. 17), or a name like "GPIO17"' in str(err)


def test_same_pin_twice_names_both_uses_and_lines(tmp_path: Path) -> None:
    text = GOOD.replace("pin = 24", "pin = 27")  # yard contact on the front contact's pin
    err = error_for(tmp_path, text)
    first = line_number(text, "pin = 27", 1)
    second = line_number(text, "pin = 27", 2)
    message = str(err)
    assert f"board.toml:{second}: doors[1].contact.pin: GPIO27 is used twice" in message
    assert f"doors[0].contact.pin (line {first})" in message
    assert f"doors[1].contact.pin (line {second})" in message
    assert "give each signal its own pin" in message


def test_same_pin_through_different_names_is_caught(tmp_path: Path) -> None:
    text = GOOD.replace("a = 5", 'a = "BOARD11"')  # physical 11 is GPIO17, the front relay
    err = error_for(tmp_path, text)
    assert f"board.toml:{line_number(text, 'BOARD11')}: doors[1].beams.a: GPIO17" in str(err)


def test_missing_serial_port(tmp_path: Path) -> None:
    text = GOOD.replace('port = "/dev/ttyUSB0"\n', "")
    err = error_for(tmp_path, text)
    line = line_number(text, "[[radars]]")
    assert f"board.toml:{line}: radars[0]: required key 'port' is missing" in str(err)
    assert 'Fix: add port = "/dev/serial0"' in str(err)


def test_empty_serial_port(tmp_path: Path) -> None:
    text = GOOD.replace('port = "/dev/serial0"', 'port = ""')
    err = error_for(tmp_path, text)
    line = line_number(text, 'port = ""')
    assert f"board.toml:{line}: scanners[0].port: the serial port is empty" in str(err)


def test_door_without_relay(tmp_path: Path) -> None:
    text = GOOD.replace('[doors.relay]\npin = "BOARD16"\npolarity = "fail_secure"\n', "")
    err = error_for(tmp_path, text)
    line = line_number(text, "[[doors]]", 2)
    assert f"board.toml:{line}: doors[1]: required key 'relay' is missing" in str(err)
    assert "Fix: add a [doors.relay] table" in str(err)


def test_relay_without_polarity(tmp_path: Path) -> None:
    text = GOOD.replace('polarity = "fail_safe"\n', "")
    err = error_for(tmp_path, text)
    line = line_number(text, "[doors.relay]", 1)
    assert f"board.toml:{line}: doors[0].relay: required key 'polarity' is missing" in str(err)
    assert '"fail_safe" (maglock' in str(err)


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    text = GOOD.replace('polarity = "fail_secure"', 'polarty = "fail_secure"')
    err = error_for(tmp_path, text)
    line = line_number(text, "polarty")
    assert f"board.toml:{line}: doors[1].relay.polarty: unknown key 'polarty'" in str(err)
    assert "Fix: did you mean 'polarity'?" in str(err)


def test_unknown_table_suggests_the_right_one(tmp_path: Path) -> None:
    text = GOOD.replace("[[radars]]", "[[radar]]")
    err = error_for(tmp_path, text)
    assert f"board.toml:{line_number(text, '[[radar]]')}: radar: unknown key" in str(err)
    assert "did you mean 'radars'?" in str(err)


def test_unknown_key_without_a_close_match_lists_allowed(tmp_path: Path) -> None:
    text = GOOD.replace("[fire]\npin = 26", "[fire]\npin = 26\nvoltage = 24")
    err = error_for(tmp_path, text)
    assert f"board.toml:{line_number(text, 'voltage')}: fire.voltage" in str(err)
    assert "allowed here: pin, active_high, pull, bounce_ms" in str(err)


@pytest.mark.parametrize(
    ("old", "new", "key", "expected"),
    [
        ("pin = 26", 'pin = 26\nactive_high = "no"', "fire.active_high", "true or false"),
        ("a = 5", 'a = 5\npull = "sideways"', "doors[1].beams.pull", "'up', 'down'"),
        ('polarity = "fail_safe"', 'polarity = "fail-safe"', "doors[0].relay.polarity", "fail_"),
        ('port = "/dev/serial0"', "port = 0", "scanners[0].port", "text in double quotes"),
        ('id = "room"', 'id = "room"\nbaud = "9600"', "radars[0].baud", "a whole number"),
        ('[board]\nmodel = "Raspberry Pi 4 Model B"', 'board = "pi4"', "board", "a table"),
    ],
)
def test_wrong_types(tmp_path: Path, old: str, new: str, key: str, expected: str) -> None:
    text = GOOD.replace(old, new, 1)
    err = error_for(tmp_path, text)
    problem = next((p for p in err.problems if p.key == key), None)
    assert problem is not None, str(err)
    # The offending key is the first line of the replacement that is not in the original.
    marker = next(line for line in new.splitlines() if line not in GOOD.splitlines())
    assert problem.line == line_number(text, marker)
    assert expected in problem.message + problem.fix


def test_scanner_for_unknown_door(tmp_path: Path) -> None:
    text = GOOD.replace('door = "front"', 'door = "frnt"')
    err = error_for(tmp_path, text)
    line = line_number(text, 'door = "frnt"')
    assert f"board.toml:{line}: scanners[0].door: no door has id 'frnt'" in str(err)
    assert "did you mean 'front'?" in str(err)


def test_header_uart_pins_are_reserved_when_a_device_uses_it(tmp_path: Path) -> None:
    text = GOOD.replace("b = 6", "b = 14")
    err = error_for(tmp_path, text)
    assert f"board.toml:{line_number(text, 'b = 14')}: doors[1].beams.b: GPIO14" in str(err)
    assert "header UART" in str(err)


def test_duplicate_ids_and_ports(tmp_path: Path) -> None:
    text = GOOD.replace('id = "yard"', 'id = "front"').replace("/dev/ttyUSB0", "/dev/serial0")
    err = error_for(tmp_path, text)
    second_front = line_number(text, 'id = "front"', 2)
    assert f":{second_front}: doors[1].id: door id 'front' is used twice" in str(err)
    assert "serial port /dev/serial0 is used twice" in str(err)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("pin = 17", "pin = 99").replace('direction = "in"', 'direction = "up"')
    err = error_for(tmp_path, text)
    assert len(err.problems) == 2
    assert [p.line for p in err.problems] == sorted(p.line for p in err.problems)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read the file"):
        load_profile(tmp_path / "missing.toml")


def test_key_lines_handles_inline_tables_and_multiline_values() -> None:
    text = """\
title = \"\"\"
[not_a_table]
key = 1
\"\"\"
ports = [
  "a", # [x]
  "b",
]
[[doors]]
relay = { pin = 17, opts = { active_high = true } }
[[doors]]
relay.pin = 18
"""
    lines = key_lines(text)
    assert ("not_a_table",) not in lines
    assert ("key",) not in lines
    assert lines[("ports",)] == 5
    assert lines[("doors", 0, "relay", "pin")] == 10
    assert lines[("doors", 0, "relay", "opts", "active_high")] == 10
    assert lines[("doors", 1)] == 11
    assert lines[("doors", 1, "relay", "pin")] == 12


def test_command_line_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, GOOD)
    assert main([str(good)]) == 0
    assert "ok" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace("pin = 17", "pin = 40"), encoding="utf-8")
    assert main([str(bad)]) == 1
    assert "GPIO40 is not on the 40-pin header" in capsys.readouterr().err
