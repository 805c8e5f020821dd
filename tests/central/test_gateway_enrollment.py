"""A gateway added from the API, enrolled with `yizhan gateway enroll` as a separate
process, connected with the account the central made through Mosquitto's dynamic
security plugin, kept to its own topics, and shut out when removed. Every refusal of a
code changes nothing. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
import io
import queue
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import zxingcpp
from gpiozero.pins.mock import MockFactory
from PIL import Image

from contract.payloads import AccessEvent, utc_now
from dashboard.core.config import ProvisioningSettings
from dashboard.storage.enrollments import EnrollmentStore
from gateway.config import load_gateway_settings
from gateway.service import Gateway
from servicekit.broker_accounts import central_acl
from servicekit.mqtt_link import Message, MqttLink
from tests.central.conftest import STATIONS, central_settings
from tests.reliability.site import one_door_board
from tests.support.dynsec_broker import DynsecBroker
from tests.support.running_central import RunningCentral, run_central
from tests.support.waiting import wait_until

STATION = "cs-0002"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dynsec_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DynsecBroker]:
    broker = DynsecBroker(tmp_path_factory.mktemp("dynsec"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture()
def provisioning_central(
    tmp_path: Path, dynsec_broker: DynsecBroker, database_url: str
) -> Iterator[RunningCentral]:
    central_id = f"test-{uuid.uuid4().hex[:8]}"
    account = dynsec_broker.add_account(f"central.{central_id}", central_acl(central_id))
    settings = central_settings(
        tmp_path,
        dynsec_broker.url,
        database_url,
        central_id=central_id,
        broker=account,
        provisioning=ProvisioningSettings(
            mode="dynsec",
            admin_username=dynsec_broker.admin().username,
            admin_password=dynsec_broker.admin_password,
            gateway_broker_url=dynsec_broker.tls_url,
            ca_file=dynsec_broker.ca_file,
        ),
    )
    yield from run_central(settings, stations=STATIONS)


class Watcher:
    """An account that may read every gateway's access events, and keeps what arrives."""

    def __init__(self, broker: DynsecBroker) -> None:
        name = f"watch-{uuid.uuid4().hex[:6]}"
        settings = broker.add_account(name, ["topic read yz/v1/st/+/gw/+/event/+"])
        self.messages: queue.Queue[Message] = queue.Queue()
        self.link = MqttLink(
            name,
            settings,
            subscriptions=[("yz/v1/st/+/gw/+/event/access", 1)],
            on_message=self.messages.put,
            clean_session=True,
        )
        self.link.start()
        assert self.link.wait_connected(10)

    def next(self) -> Message:
        return self.messages.get(timeout=10)


def enroll(code: str, central: RunningCentral, directory: Path) -> subprocess.CompletedProcess[str]:
    """`yizhan gateway enroll` as the technician runs it (HTTP only because it is loopback)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "yizhan.cli",
            "gateway",
            "enroll",
            code,
            "--central",
            central.base_url,
            "--allow-http",
            "--dir",
            str(directory / "etc"),
            "--state-dir",
            str(directory / "state"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )


def can_log_in(
    broker: DynsecBroker, username: str, password: str
) -> subprocess.CompletedProcess[str]:
    """`mosquitto_sub` with these credentials, as a maintainer would check them."""
    return subprocess.run(
        [
            "mosquitto_sub",
            "-h",
            "localhost",
            "-p",
            str(broker.tls_port),
            "--cafile",
            str(broker.ca_file),
            "-u",
            username,
            "-P",
            password,
            "-t",
            "yz/v1/keys",
            "-C",
            "1",
            "-W",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def access(station: str, gateway: str, seq: int) -> bytes:
    return AccessEvent(
        station_id=station, gateway_id=gateway, seq=seq, at=utc_now(), door_id="main",
        direction="in", credential="qr", decision="denied", reason="unknown_credential",
    ).to_json()  # fmt: skip


def test_add_enroll_connect_and_remove_a_gateway(
    provisioning_central: RunningCentral,
    dynsec_broker: DynsecBroker,
    tmp_path: Path,
    mock_pins: MockFactory,
) -> None:
    central = provisioning_central
    # Each run its own id: the broker, shared by both databases' runs, keeps the retained
    # availability of a removed gateway, which a later central would learn it from.
    gw = f"gw-{uuid.uuid4().hex[:6]}"
    added = central.http.post(f"/api/stations/{STATION}/gateways", json={"gateway_id": gw})
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["username"] == f"{STATION}.{gw}"
    assert body["command"] == (
        f"yizhan gateway enroll {body['code']} --central http://127.0.0.1:"
        f"{central.service.settings.http.port}"
    )
    # The QR code a technician scans says the same command.
    png = base64.b64decode(body["qr_png"].partition(",")[2])
    (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert decoded.text == body["command"]
    assert body["qr_svg"].startswith("<svg")
    pending = central.http.get(f"/api/stations/{STATION}/enrollments").json()
    assert [p["gateway_id"] for p in pending] == [gw]
    assert "code" not in pending[0]

    done = enroll(body["code"], central, tmp_path)
    assert done.returncode == 0, done.stderr
    config = tmp_path / "etc" / "gateway.toml"
    for written in (config, tmp_path / "etc" / "ca.crt"):
        assert written.stat().st_mode & 0o777 == 0o600, written
    settings = load_gateway_settings(config)
    assert (settings.station_id, settings.gateway_id) == (STATION, gw)
    assert settings.broker.url == dynsec_broker.tls_url
    assert settings.broker.username == f"{STATION}.{gw}"
    operator = central.service.operator_key
    assert settings.maintenance.operators == {operator.name: operator.public_key}
    assert central.http.get(f"/api/stations/{STATION}/enrollments").json() == []

    again = enroll(body["code"], central, tmp_path / "second")
    assert again.returncode == 1
    assert "already used" in again.stderr and "HTTP 409" in again.stderr
    assert not (tmp_path / "second" / "etc" / "gateway.toml").exists()

    watcher = Watcher(dynsec_broker)
    gateway = Gateway(settings, one_door_board(), pin_factory=mock_pins)
    gateway.start()
    try:
        assert gateway.link.wait_connected(10), "the enrolled account (over TLS) was refused"
        wait_until(
            lambda: [
                g
                for g in central.http.get(f"/api/gateways?station_id={STATION}").json()
                if g["gateway_id"] == gw and g["online"]
            ],
            10,
            "the central to see the enrolled gateway online",
        )
        # Its own events go through; one for another station is dropped by the broker,
        # which keeps one client's messages in order: a forged one would arrive first.
        gateway.link.publish_as(
            f"yz/v1/st/cs-0001/gw/{gw}/event/access", access("cs-0001", gw, 1), qos=1,
            retain=False,
        )  # fmt: skip
        own = access(STATION, gw, 1)
        gateway.link.publish_as(
            f"yz/v1/st/{STATION}/gw/{gw}/event/access", own, qos=1, retain=False
        )
        first = watcher.next()
        assert (first.topic, first.payload) == (f"yz/v1/st/{STATION}/gw/{gw}/event/access", own)

        gone = central.http.delete(f"/api/stations/{STATION}/gateways/{gw}")
        assert gone.status_code == 204, gone.text
        wait_until(lambda: not gateway.link.connected, 10, "the removed gateway disconnected")
        refused = can_log_in(
            dynsec_broker, settings.broker.username or "", settings.broker.password or ""
        )
        assert refused.returncode != 0 and "not authori" in refused.stderr.lower(), refused.stderr
        gateways = central.http.get(f"/api/gateways?station_id={STATION}").json()
        assert gw not in [g["gateway_id"] for g in gateways]
        assert central.http.delete(f"/api/stations/{STATION}/gateways/{gw}").status_code == 404
    finally:
        gateway.stop()
        watcher.link.stop()


def test_bad_codes_are_refused_each_with_its_reason_and_change_nothing(
    provisioning_central: RunningCentral, dynsec_broker: DynsecBroker, tmp_path: Path
) -> None:
    central = provisioning_central
    enrolled, waits = f"gw-{uuid.uuid4().hex[:6]}", f"gw-{uuid.uuid4().hex[:6]}"
    first = central.http.post(f"/api/stations/{STATION}/gateways", json={"gateway_id": enrolled})
    assert first.status_code == 201, first.text
    done = enroll(first.json()["code"], central, tmp_path)
    assert done.returncode == 0, done.stderr
    settings = load_gateway_settings(tmp_path / "etc" / "gateway.toml")
    password = settings.broker.password or ""
    waiting = central.http.post(f"/api/stations/{STATION}/gateways", json={"gateway_id": waits})
    assert waiting.status_code == 201
    codes = EnrollmentStore(central.service.database)
    expired = codes.issue(STATION, "gw-10", "test", timedelta(seconds=-1))
    before = central.http.get(f"/api/stations/{STATION}/enrollments").json()

    cases = {
        "malformed": ("not-a-code", 422, "malformed"),
        "too long": ("A" * 200, 422, "100"),
        "unknown": ("AAAAA-BBBBB-CCCCC-DDDDD", 404, "unknown"),
        "expired": (expired.code, 410, "expired"),
        "reused": (first.json()["code"], 409, "already used"),
    }
    for name, (code, status, words) in cases.items():
        answer = central.http.post("/api/enroll", json={"code": code})
        assert answer.status_code == status, (name, answer.text)
        assert words in answer.text, (name, answer.text)
    junks: list[object] = [None, [], {"code": 5}, {"code": "AAAAA-BBBBB-CCCCC-DDDDD", "x": 1}]
    for junk in junks:
        assert central.http.post("/api/enroll", json=junk).status_code == 422, junk
    # The command line says the same, and writes nothing.
    for code, words in (("not-a-code", "malformed"), (expired.code, "expired")):
        refused = enroll(code, central, tmp_path / "refused")
        assert refused.returncode == 1 and words in refused.stderr, refused.stderr
        assert not (tmp_path / "refused" / "etc" / "gateway.toml").exists()

    # Nothing changed: the same codes wait, the enrolled gateway's password still works.
    assert central.http.get(f"/api/stations/{STATION}/enrollments").json() == before
    still = can_log_in(dynsec_broker, f"{STATION}.{enrolled}", password)
    assert "not authori" not in still.stderr.lower(), still.stderr
    assert (
        central.http.post("/api/enroll", json={"code": waiting.json()["code"]}).status_code == 200
    )

    # Adding a known gateway again needs `replace`; unknown stations and bad ids are refused.
    again = central.http.post(f"/api/stations/{STATION}/gateways", json={"gateway_id": enrolled})
    assert again.status_code == 409 and "replace" in again.text
    assert (
        central.http.post("/api/stations/nowhere/gateways", json={"gateway_id": "g"}).status_code
        == 404
    )
    assert (
        central.http.post(
            f"/api/stations/{STATION}/gateways", json={"gateway_id": "G W"}
        ).status_code
        == 422
    )
    replaced = central.http.post(
        f"/api/stations/{STATION}/gateways", json={"gateway_id": enrolled, "replace": True}
    )
    assert replaced.status_code == 201
    cut_off = can_log_in(dynsec_broker, f"{STATION}.{enrolled}", password)
    assert "not authori" in cut_off.stderr.lower(), cut_off.stderr


def test_the_enroll_command_refuses_plain_http_to_another_machine(tmp_path: Path) -> None:
    for url, flag in (("http://192.0.2.1:8000", True), ("http://127.0.0.1:8000", False)):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "yizhan.cli",
                "gateway",
                "enroll",
                "AAAAA-BBBBB-CCCCC-DDDDD",
                "--central",
                url,
                "--dir",
                str(tmp_path),
                *(["--allow-http"] if flag else []),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            check=False,
        )
        assert result.returncode == 1
        assert "https://" in result.stderr, result.stderr
