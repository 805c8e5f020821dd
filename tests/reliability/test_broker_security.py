"""The shipped Mosquitto config, with accounts made by `yizhan broker`, keeps everyone in
their lane: no anonymous access, a gateway writes only as itself, TLS works.

The broker runs `deploy/mosquitto/mosquitto.conf` as shipped; only its ports and file
paths are changed to the test's (and, when the tests run as root, `user root` is added so
that the broker keeps the right to read the test's private files).
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from contract.payloads import AccessEvent, Command, DoorEvent, StoredMark, utc_now
from contract.tokens import SigningKey
from dashboard.central import Central
from dashboard.core.config import (
    CentralSettings,
    ClockSettings,
    DatabaseSettings,
    HttpSettings,
)
from gateway.config import DoorSettings, GatewaySettings
from gateway.ha_discovery import Discovery
from gateway.service import Gateway
from hardware.sim.scanner import VirtualScanner
from servicekit.broker_accounts import (
    AccountKind,
    add_account,
    central_acl,
    gateway_acl,
    gateway_username,
    maintainer_acl,
    viewer_acl,
)
from servicekit.mqtt_link import Message, MqttLink
from servicekit.settings import BrokerSettings
from tests.reliability.site import SITE_KEY_ID, one_door_board, token_for, write_trust
from tests.support.mosquitto import INSTALL_HINT, free_port, run_as_current_user, wait_for_port
from tests.support.tls import make_tls
from tests.support.waiting import wait_until

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "mosquitto.conf"
PASSWORD = {
    "cs-0001.gw-1": "pw-gw-1",
    "cs-0001.gw-2": "pw-gw-2",
    "cs-0002.gw-1": "pw-other",
    "a_b.c": "pw-ab-c",
    "a.b_c": "pw-a-bc",
    "hass": "pw-hass",
    "central.central-1": "pw-c",
    "alice": "pw-maintainer",
    "bob": "pw-maintainer-2",
    "wall": "pw-viewer",
}


@dataclass
class SecureBroker:
    port: int
    tls_port: int
    directory: Path

    def settings(self, username: str | None, tls: bool = False, **extra: object) -> BrokerSettings:
        url = f"mqtts://localhost:{self.tls_port}" if tls else f"mqtt://127.0.0.1:{self.port}"
        return BrokerSettings.model_validate(
            {
                "url": url,
                "username": username,
                "password": PASSWORD.get(username or ""),
                "reconnect_min_s": 0.2,
                "reconnect_max_s": 1.0,
                **({"ca_file": self.directory / "tls" / "ca.crt"} if tls else {}),
                **extra,
            }
        )


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    assert Path(binary).exists(), INSTALL_HINT
    directory = tmp_path_factory.mktemp("secure-broker")
    make_tls(directory / "tls")
    for station, gateway in (("cs-0001", "gw-1"), ("cs-0001", "gw-2"), ("cs-0002", "gw-1")):
        add_account(
            directory,
            gateway_username(station, gateway),
            gateway_acl(station, gateway),
            AccountKind.GATEWAY,
            PASSWORD[f"{station}.{gateway}"],
        )
    add_account(
        directory,
        "central.central-1",
        central_acl("central-1"),
        AccountKind.CENTRAL,
        PASSWORD["central.central-1"],
    )
    add_account(directory, "alice", maintainer_acl(), AccountKind.MAINTAINER, PASSWORD["alice"])
    add_account(directory, "bob", maintainer_acl(), AccountKind.MAINTAINER, PASSWORD["bob"])
    add_account(directory, "wall", viewer_acl(), AccountKind.VIEWER, PASSWORD["wall"])
    # Two gateways whose ids, joined by `_`, spell the same thing.
    for station, gateway in (("a_b", "c"), ("a", "b_c")):
        username = gateway_username(station, gateway)
        add_account(
            directory, username, gateway_acl(station, gateway), AccountKind.GATEWAY,
            PASSWORD[username],
        )  # fmt: skip
    # Home Assistant's own account: it reads the discovery tree.
    add_account(
        directory, "hass", ["topic read homeassistant/#"], AccountKind.VIEWER, PASSWORD["hass"]
    )
    port, tls_port = free_port(), free_port()
    config = SHIPPED.read_text("utf-8")
    for old, new in (
        ("/etc/mosquitto/yizhan/", f"{directory}/"),
        ("/var/lib/mosquitto/", f"{directory}/"),
        ("listener 1883 127.0.0.1", f"listener {port} 127.0.0.1"),
        ("listener 8883", f"listener {tls_port} 127.0.0.1"),
    ):
        assert old in config, f"the shipped config no longer has {old!r}"
        config = config.replace(old, new)
    (directory / "mosquitto.conf").write_text(config + "log_dest stderr\n" + run_as_current_user())
    with (directory / "mosquitto.log").open("ab") as log:
        process = subprocess.Popen(
            [binary, "-c", str(directory / "mosquitto.conf")], stdout=log, stderr=log
        )
    assert wait_for_port(port, 10) and wait_for_port(tls_port, 10), (
        directory / "mosquitto.log"
    ).read_text()
    yield SecureBroker(port, tls_port, directory)
    process.terminate()
    process.wait(10)


class Client:
    """A link with given credentials that keeps what it receives."""

    def __init__(self, settings: BrokerSettings, topics: Sequence[str] = ()) -> None:
        self.messages: queue.Queue[Message] = queue.Queue()
        self.link = MqttLink(
            f"test-{uuid.uuid4().hex[:8]}",
            settings,
            subscriptions=[(t, 1) for t in topics],
            on_message=self.messages.put,
            clean_session=True,
        )
        self.link.start()

    def next_on(self, prefix: str, timeout: float = 10) -> Message:
        while True:
            message = self.messages.get(timeout=timeout)
            if message.topic.startswith(prefix):
                return message

    def close(self) -> None:
        self.link.stop()


def event(station: str, seq: int, gateway: str = "gw-1") -> bytes:
    return AccessEvent(
        station_id=station, gateway_id=gateway, seq=seq, at=utc_now(), door_id="main",
        direction="in", credential="qr", decision="denied", reason="unknown_credential",
    ).to_json()  # fmt: skip


def test_anonymous_clients_are_refused(secure_broker: SecureBroker) -> None:
    result = subprocess.run(
        [
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            str(secure_broker.port),
            "-t",
            "yz/#",
            "-C",
            "1",
            "-W",
            "5",
        ],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode != 0
    assert "not authorised" in result.stderr.lower() or "refused" in result.stderr.lower()


def test_a_gateway_cannot_speak_for_another_station(secure_broker: SecureBroker) -> None:
    central = Client(secure_broker.settings("central.central-1"), ["yz/v1/st/+/gw/+/event/+"])
    gateway = Client(secure_broker.settings("cs-0001.gw-1"))
    try:
        assert central.link.wait_connected(10) and gateway.link.wait_connected(10)
        # First a QoS 1 event under someone else's station, then one under its own. The
        # broker keeps one client's messages in order, so if the first got through it
        # would arrive before the second.
        forged = event("cs-0002", 1)
        gateway.link.publish("yz/v1/st/cs-0002/gw/gw-1/event/access", forged)
        gateway.link.publish("yz/v1/st/cs-0001/gw/gw-2/event/access", event("cs-0001", 1))
        allowed = event("cs-0001", 2)
        gateway.link.publish("yz/v1/st/cs-0001/gw/gw-1/event/access", allowed)
        first = central.next_on("yz/v1/st/")
        assert (first.topic, first.payload) == ("yz/v1/st/cs-0001/gw/gw-1/event/access", allowed)
    finally:
        central.close()
        gateway.close()


def test_a_gateway_reads_only_its_own_commands(secure_broker: SecureBroker) -> None:
    central = Client(secure_broker.settings("central.central-1"))
    nosy = Client(
        secure_broker.settings("cs-0001.gw-1"),
        ["yz/v1/st/cs-0002/gw/gw-1/command", "yz/v1/st/cs-0001/gw/gw-1/command", "yz/#"],
    )
    try:
        assert central.link.wait_connected(10) and nosy.link.wait_connected(10)
        command = Command(
            request_id="r-1",
            station_id="cs-0001",
            gateway_id="gw-1",
            issued_at=utc_now(),
            command="ping",
        ).to_json()

        # Subscriptions are sent on connect; a command to itself proves they are active.
        def own_command_arrives() -> bool:
            central.link.publish("yz/v1/st/cs-0001/gw/gw-1/command", command)
            return not nosy.messages.empty()

        wait_until(own_command_arrives, 10, "own command delivered")
        central.link.publish("yz/v1/st/cs-0002/gw/gw-1/command", command)
        central.link.publish("yz/v1/st/cs-0001/gw/gw-1/command", b'{"last": true}')
        while (message := nosy.next_on("yz/")).payload != b'{"last": true}':
            assert message.topic == "yz/v1/st/cs-0001/gw/gw-1/command", message.topic
    finally:
        central.close()
        nosy.close()


def test_a_gateway_reads_its_own_stations_access_events_and_nothing_else_of_its_peers(
    secure_broker: SecureBroker,
) -> None:
    """Gateways share used tokens through their station's access events: a gateway may read
    those of its own station, but no other station's, and no other kind of event."""
    nosy = Client(
        secure_broker.settings("cs-0001.gw-1"),
        ["yz/v1/st/+/gw/+/event/+"],
    )
    peer = Client(secure_broker.settings("cs-0001.gw-2"))
    stranger = Client(secure_broker.settings("cs-0002.gw-1"))
    try:
        assert all(c.link.wait_connected(10) for c in (nosy, peer, stranger))
        # Routed (or dropped) by the time the broker acknowledges them, so before the
        # peer's access event below is even sent.
        sent = [threading.Event(), threading.Event()]
        assert stranger.link.publish_acked(
            "yz/v1/st/cs-0002/gw/gw-1/event/access", event("cs-0002", 1), sent[0].set
        )
        door = DoorEvent(
            station_id="cs-0001", gateway_id="gw-2", seq=1, at=utc_now(), door_id="main",
            state="opened",
        ).to_json()  # fmt: skip
        assert peer.link.publish_acked("yz/v1/st/cs-0001/gw/gw-2/event/door", door, sent[1].set)
        assert all(done.wait(10) for done in sent), "the broker did not acknowledge"
        allowed = event("cs-0001", 2, gateway="gw-2")
        peer.link.publish("yz/v1/st/cs-0001/gw/gw-2/event/access", allowed)
        first = nosy.next_on("yz/v1/st/")
        assert (first.topic, first.payload) == ("yz/v1/st/cs-0001/gw/gw-2/event/access", allowed)
    finally:
        for client in (nosy, peer, stranger):
            client.close()


def test_central_and_gateway_work_end_to_end_with_their_accounts(
    secure_broker: SecureBroker, tmp_path: Path, mock_pins: MockFactory
) -> None:
    key = SigningKey.generate(SITE_KEY_ID)
    write_trust(tmp_path / "state", key)
    central = Central(
        CentralSettings(
            broker=secure_broker.settings("central.central-1"),
            http=HttpSettings(port=free_port()),
            database=DatabaseSettings(path=tmp_path / "c.db"),
            clock=ClockSettings(tick_s=0.5),
        )
    )
    scanner = VirtualScanner()
    gateway = Gateway(
        GatewaySettings(
            station_id="cs-0001",
            gateway_id="gw-1",
            # Gateways come over TLS, as in the field.
            broker=secure_broker.settings("cs-0001.gw-1", tls=True),
            doors={"main": DoorSettings(unlock_s=0.05)},
            state_dir=tmp_path / "state",
        ),
        one_door_board(scanner.port),
        pin_factory=mock_pins,
    )
    central.start()
    gateway.start()
    try:
        assert central.link.wait_connected(10), "the central's account was refused"
        assert gateway.link.wait_connected(10), "the gateway's account (over TLS) was refused"
        assert gateway.devices.wait_serial_open(5)
        scanner.scan(token_for(key, 4242))
        (entry,) = wait_until(lambda: central.store.entries(5), 10, "access event stored")
        assert (entry.worker_id, entry.gateway_id, entry.decision) == ("w4242", "gw-1", "granted")
        wait_until(lambda: central.store.stations()[0].online, 10, "availability read")
        # The central's mark reaches the gateway through both accounts, and empties it.
        wait_until(
            lambda: gateway.outbox.confirmed_seq and gateway.outbox.stats().pending == 0,
            10,
            "the central's stored mark at the gateway",
        )
        # The central may tell its time and the gateway may hear it.
        wait_until(
            lambda: gateway.central_clock.now(time.monotonic()), 10, "the central's clock tick"
        )
    finally:
        gateway.stop()
        central.stop()
        scanner.close()


def test_tls_refuses_a_broker_signed_by_another_ca(
    secure_broker: SecureBroker, tmp_path: Path
) -> None:
    make_tls(tmp_path / "other")
    trusting = Client(secure_broker.settings("cs-0001.gw-1", tls=True))
    stranger = Client(
        secure_broker.settings("cs-0002.gw-1", tls=True, ca_file=tmp_path / "other" / "ca.crt")
    )
    try:
        assert trusting.link.wait_connected(10)
        assert not stranger.link.wait_connected(3), "connected to a broker it cannot verify"
    finally:
        trusting.close()
        stranger.close()


def test_only_maintainers_and_centrals_can_command_a_gateway(secure_broker: SecureBroker) -> None:
    """A viewer's or a gateway's credentials cannot publish a command or desired config:
    the broker drops them. Each forbidden publish is acknowledged by the broker (MQTT 3.1.1
    has no way to say no), so once acknowledged it has been routed or dropped; a reader that
    may read everything then sees only the central's and the maintainer's commands."""
    topic = "yz/v1/st/cs-0001/gw/gw-1/command"
    desired = "yz/v1/st/cs-0001/gw/gw-1/config/desired"
    reader = Client(secure_broker.settings("bob"), [topic, desired])
    senders = {name: Client(secure_broker.settings(name)) for name in ("wall", "cs-0001.gw-1")}
    senders["cs-0002.gw-1"] = Client(secure_broker.settings("cs-0002.gw-1", tls=True))
    central = Client(secure_broker.settings("central.central-1"))
    maintainer = Client(secure_broker.settings("alice"))
    everyone = [reader, central, maintainer, *senders.values()]

    def command(request_id: str) -> bytes:
        return Command(
            request_id=request_id,
            station_id="cs-0001",
            gateway_id="gw-1",
            issued_at=utc_now(),
            command="ping",
        ).to_json()

    try:
        assert all(client.link.wait_connected(10) for client in everyone)

        def subscribed() -> bool:
            maintainer.link.publish(topic, command("warm-up"))
            return not reader.messages.empty()

        wait_until(subscribed, 10, "reader subscribed")
        acked = []
        for name, client in senders.items():
            for where, payload in ((topic, command(f"from-{name}")), (desired, b"{}")):
                done = threading.Event()
                assert client.link.publish_acked(where, payload, done.set)
                acked.append(done)
        assert all(done.wait(10) for done in acked), "the broker did not acknowledge"
        central.link.publish(topic, command("from-central"))
        maintainer.link.publish(desired, b'{"from": "alice"}')
        seen: list[bytes] = []
        while len([p for p in seen if b"from-central" in p or b'"alice"' in p]) < 2:
            seen.append(reader.next_on("yz/v1/st/").payload)
        forged = [p for p in seen if b"from-wall" in p or b"from-cs-" in p or p == b"{}"]
        assert not forged, f"a forbidden publish got through: {forged}"
    finally:
        for client in everyone:
            client.close()


def test_only_a_central_can_tell_a_gateway_what_is_stored(secure_broker: SecureBroker) -> None:
    """A stored mark makes a gateway delete the events it names, so only a central may
    write one: not another gateway, not the gateway itself, not a maintainer. A gateway
    reads its own mark and no one else's."""
    own = "yz/v1/st/cs-0001/gw/gw-1/stored"
    other = "yz/v1/st/cs-0002/gw/gw-1/stored"
    gateway = Client(secure_broker.settings("cs-0001.gw-1"), [own])
    nosy = Client(secure_broker.settings("cs-0002.gw-1", tls=True), [own, other])
    reader = Client(secure_broker.settings("bob"), [own])
    forgers = {name: Client(secure_broker.settings(name)) for name in ("cs-0002.gw-1", "alice")}
    central = Client(secure_broker.settings("central.central-1"))
    everyone = [gateway, nosy, reader, central, *forgers.values()]

    def mark(station: str, seq: int) -> bytes:
        return StoredMark(station_id=station, gateway_id="gw-1", seq=seq, at=utc_now()).to_json()

    try:
        assert all(client.link.wait_connected(10) for client in everyone)
        acked = []
        for name, client in [*forgers.items(), ("cs-0001.gw-1", gateway)]:
            done = threading.Event()
            assert client.link.publish_acked(own, f'{{"forged": "{name}"}}'.encode(), done.set)
            acked.append(done)
        assert all(done.wait(10) for done in acked), "the broker did not acknowledge"
        said = mark("cs-0001", 7)
        central.link.publish(own, said)
        central.link.publish(other, mark("cs-0002", 9))
        # Each reader's first live message is the central's: every forgery was dropped.
        # (An earlier test's central may have left its own mark retained.)
        for client in (reader, gateway):
            while (message := client.next_on(own)).retain:
                assert json.loads(message.payload)["schema"] == "stored/1"
            assert message.payload == said, "a forged mark got through"
        first_for_nosy = nosy.next_on("yz/v1/st/")
        assert first_for_nosy.topic == other, "a gateway read another gateway's mark"
    finally:
        for client in everyone:
            client.close()


def test_home_assistant_configs_of_two_gateways_never_share_a_node(
    secure_broker: SecureBroker,
) -> None:
    """Stations `a_b` and `a` with gateways `c` and `b_c`: once their node ids were both
    `yz_a_b_c`, so each gateway's account could overwrite the other's entities. Each config
    topic now names one gateway, and the broker lets a gateway write only its own."""

    def topics(station: str, gateway: str) -> set[str]:
        own = f"yz/v1/st/{station}/gw/{gateway}"
        discovery = Discovery("homeassistant", station, gateway, f"{own}/health", f"{own}/x")
        return {topic for topic, _ in discovery.messages(one_door_board())}

    first, second = topics("a_b", "c"), topics("a", "b_c")
    assert first and second and not first & second
    hass = Client(secure_broker.settings("hass"), ["homeassistant/#"])
    writer = Client(secure_broker.settings("a.b_c"))
    try:
        assert hass.link.wait_connected(10) and writer.link.wait_connected(10)
        for topic in sorted(first) + sorted(second):
            writer.link.publish_as(topic, topic.encode(), qos=1, retain=False)
        # The broker keeps one client's messages in order: once the last own config is
        # in, every config of the other gateway sent before it has been dropped or routed.
        received: set[str] = set()
        while received != second:
            message = hass.next_on("homeassistant/")
            assert message.topic not in first, f"wrote another gateway's entity {message.topic}"
            received.add(message.topic)
    finally:
        hass.close()
        writer.close()
