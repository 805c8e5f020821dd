"""`yizhan gateway enroll` checks what it can before it spends the code: the central's
address (HTTPS, or HTTP to loopback with a flag) and a directory it can write."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.enrollment import EnrollmentBundle
from gateway.config import load_gateway_settings
from gateway.enrollment import (
    EnrollmentError,
    EnrollTarget,
    check_central_url,
    enroll,
    write_files,
)
from tests.support.mosquitto import free_port

CODE = "AAAAA-BBBBB-CCCCC-DDDDD"


@pytest.mark.parametrize(
    ("url", "allow_http", "words"),
    [
        ("http://central.example.org", True, "loopback"),
        ("http://10.0.0.5:8000", True, "loopback"),
        ("http://127.0.0.1:8000", False, "--allow-http"),
        ("ftp://central.example.org", False, "https://"),
        ("central.example.org", False, "https://"),
    ],
)
def test_only_https_or_loopback_http_is_used(url: str, allow_http: bool, words: str) -> None:
    with pytest.raises(EnrollmentError, match=words):
        check_central_url(url, allow_http)


def test_allowed_addresses_name_the_enrollment_endpoint() -> None:
    assert check_central_url("https://c.example.org/", False) == "https://c.example.org/api/enroll"
    assert check_central_url("http://[::1]:8000", True) == "http://[::1]:8000/api/enroll"
    assert check_central_url("http://localhost:8000", True) == "http://localhost:8000/api/enroll"


def test_a_directory_it_cannot_write_stops_it_before_the_central_is_asked(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    # Nothing listens on this port: had it asked, the error would say it cannot reach it.
    target = EnrollTarget(
        central_url=f"http://127.0.0.1:{free_port()}",
        directory=tmp_path / "a-file" / "etc",
        state_dir=tmp_path / "state",
        profile="raspberry-pi-4",
        allow_http=True,
    )
    with pytest.raises(EnrollmentError, match=r"cannot write .* the code is still good"):
        enroll(CODE, target)


def test_the_written_configuration_starts_a_gateway_and_keeps_the_old_one(tmp_path: Path) -> None:
    bundle = EnrollmentBundle(
        station_id="cs-0001",
        gateway_id="gw-2",
        broker_url="mqtts://broker.example.org:8883",
        username="cs-0001.gw-2",
        password='p"a\\ss',
        ca_certificate="-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n",
        operator_keys={"central-central-1": "A" * 43 + "="},
    )
    (tmp_path / "gateway.toml").write_text("# the example install.sh wrote\n")
    target = EnrollTarget("https://c.example.org", tmp_path, tmp_path / "state", "raspberry-pi-5")
    written = write_files(bundle, target)
    assert written.replaced is not None
    assert written.replaced.read_text() == "# the example install.sh wrote\n"
    settings = load_gateway_settings(written.config)
    assert settings.broker.password == 'p"a\\ss'
    assert settings.broker.ca_file == tmp_path / "ca.crt"
    assert settings.profile == "raspberry-pi-5"
    assert settings.outbox.path == tmp_path / "state" / "outbox.db"
    assert (tmp_path / "ca.crt").stat().st_mode & 0o777 == 0o600
