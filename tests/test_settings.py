"""Configuration files and YIZHAN_* variables: validated at start, errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.core.config import CentralSettings
from dashboard.services.station_import import parse_toml
from gateway.config import GatewaySettings, load_board, load_gateway_settings
from servicekit.settings import ConfigError, load_settings
from yizhan.cli import main

GOOD_GATEWAY = """\
station_id = "cs-0001"
gateway_id = "gw-1"

[broker]
url = "mqtt://127.0.0.1:1883"

[doors.front]
unlock_s = 4
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_loads(tmp_path: Path) -> None:
    settings = load_gateway_settings(write(tmp_path, GOOD_GATEWAY))
    assert settings.timings()["front"].unlock_s == 4
    assert settings.timings()["front"].held_open_s == 30
    assert settings.broker.port == 1883
    board = load_board(settings)
    assert [door.id for door in board.doors] == ["front", "yard"]


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    settings = load_settings(
        GatewaySettings,
        write(tmp_path, GOOD_GATEWAY),
        environ={"YIZHAN_BROKER__URL": "mqtt://broker.local:8883", "YIZHAN_GATEWAY_ID": "gw-2"},
    )
    assert (settings.broker.host, settings.broker.port) == ("broker.local", 8883)
    assert settings.gateway_id == "gw-2"


def test_environment_alone_is_enough() -> None:
    settings = load_settings(CentralSettings, None, environ={"YIZHAN_HTTP__PORT": "9000"})
    assert settings.http.port == 9000


def test_a_wrong_value_names_key_line_and_what_was_given(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_GATEWAY.replace("unlock_s = 4", "unlock_s = 99"))
    with pytest.raises(ConfigError) as error:
        load_gateway_settings(path)
    message = str(error.value)
    assert "doors.front.unlock_s" in message
    assert "line 8" in message
    assert "less than or equal to 60" in message
    assert "99" in message


def test_a_door_the_board_does_not_have_is_refused(tmp_path: Path) -> None:
    settings = load_gateway_settings(write(tmp_path, GOOD_GATEWAY.replace("front", "back")))
    with pytest.raises(ConfigError, match="no door 'back'; its doors are front, yard"):
        load_board(settings)


def test_a_bad_profile_path_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "board.toml").write_text("[board]\nmodel = 1\n", encoding="utf-8")
    settings = load_gateway_settings(
        write(
            tmp_path,
            GOOD_GATEWAY.replace(
                'gateway_id = "gw-1"', 'gateway_id = "gw-1"\nprofile = "board.toml"'
            ),
        )
    )
    with pytest.raises(ConfigError, match="board profile"):
        load_board(settings, tmp_path)


def test_a_misspelt_key_is_an_error_not_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_GATEWAY.replace("[broker]\n", "[broker]\nusrname = 'x'\n"))
    with pytest.raises(ConfigError, match=r"line 5: broker\.usrname: unknown key"):
        load_gateway_settings(path)


def test_a_missing_key_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_GATEWAY.replace('station_id = "cs-0001"\n', ""))
    with pytest.raises(ConfigError, match="station_id: required key is missing"):
        load_gateway_settings(path)


def test_a_bad_broker_url_says_what_is_expected(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_GATEWAY.replace("mqtt://127.0.0.1:1883", "http://x"))
    with pytest.raises(ConfigError, match=r"broker\.url: .*expected mqtt://host:port"):
        load_gateway_settings(path)


def test_broken_toml_gives_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 2"):
        load_gateway_settings(write(tmp_path, 'station_id = "a"\ngateway_id = \n'))


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_gateway_settings(tmp_path / "nope.toml")


def test_the_cli_exits_2_with_the_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD_GATEWAY.replace("unlock_s = 4", 'unlock_s = "soon"'))
    assert main(["gateway", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "configuration error" in err
    assert "doors.front.unlock_s" in err


def test_the_shipped_examples_load() -> None:
    deploy = Path(__file__).resolve().parent.parent / "deploy" / "config"
    gateway = load_gateway_settings(deploy / "gateway.toml")
    policy = gateway.policy.policy()
    assert policy.location is not None
    assert (policy.location.station_number, policy.capacity) == (4242, 12)
    assert policy.hours.always_open
    assert load_board(gateway, deploy).doors[0].id == "front"
    central = load_settings(CentralSettings, deploy / "central.toml", environ={})
    assert central.database.path == Path("/var/lib/yizhan/central.db")
    stations = parse_toml((deploy / "stations.toml").read_bytes())
    assert stations.problems == []
    assert [(s.id, s.number, s.region_code, s.capacity) for s in stations.stations] == [
        ("cs-0001", 4242, 430102, 12)
    ]


def test_a_central_config_that_still_lists_stations_says_where_they_went(
    tmp_path: Path,
) -> None:
    path = tmp_path / "central.toml"
    path.write_text(
        '[http]\nport = 8000\n\n[[stations]]\nid = "cs-0001"\nname = "x"\nnumber = 1\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(CentralSettings, path, environ={})
    message = str(raised.value)
    assert "line 4: stations:" in message
    assert "yizhan stations import" in message
    assert "number = 1" not in message and "'cs-0001'" not in message


def test_an_unknown_time_zone_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_GATEWAY + '\n[policy]\ntime_zone = "Mars/Olympus"\n')
    with pytest.raises(ConfigError, match=r"policy\.time_zone: .*unknown time zone 'Mars/Olympus'"):
        load_gateway_settings(path)
