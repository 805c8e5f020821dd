"""What several central replicas rely on from Mosquitto 2, checked with plain paho clients.

The replicas share the gateways' events through one shared subscription,
`$share/centrals/yz/v1/st/+/gw/+/event/+`, each on a persistent session (clean session
off, a stable client id per replica, QoS 1) and acknowledging a message only once its
batch is committed. Each test below pins one behaviour of the broker that this needs;
docs/scale.md says what each means for running replicas.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from dashboard.central import subscriptions
from servicekit.broker_accounts import (
    AccountKind,
    add_account,
    central_acl,
    gateway_acl,
    maintainer_acl,
)
from tests.support.dynsec_broker import DynsecBroker
from tests.support.mosquitto import MosquittoBroker, free_port, run_as_current_user, wait_for_port
from tests.support.waiting import wait_until

GROUP_FILTER = "$share/centrals/yz/v1/st/+/gw/+/event/+"
SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "mosquitto.conf"
TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Received:
    """One delivery: the payload names the message, `dup` says it is a redelivery."""

    payload: str
    dup: bool


@dataclass
class Member:
    """A paho client on a persistent session that joins the group and, like the central,
    acknowledges only when told to (`manual_ack`); `ack=False` never acknowledges."""

    port: int
    client_id: str
    ack: bool = True
    username: str | None = None
    password: str | None = None
    topic: str = GROUP_FILTER
    received: list[Received] = field(default_factory=list)
    granted: list[int] = field(default_factory=list)
    """The SUBACK's return codes (1 = granted at QoS 1, 128 = refused)."""
    _subacks: queue.Queue[list[int]] = field(default_factory=queue.Queue)
    disconnected: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    client: mqtt.Client | None = None

    def start(self) -> Member:
        """Connect, subscribe, and wait for the SUBACK."""
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        self.client = client
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        self.granted = self._subacks.get(timeout=TIMEOUT)
        return self

    def _on_connect(self, client: mqtt.Client, *_: object) -> None:
        client.subscribe(self.topic, qos=1)

    def _on_subscribe(
        self, _c: mqtt.Client, _u: object, _mid: int, codes: list[ReasonCode], *_: object
    ) -> None:
        self._subacks.put([code.value for code in codes])

    def _on_message(self, client: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.received.append(Received(message.payload.decode(), bool(message.dup)))
        if self.ack:
            client.ack(message.mid, message.qos)

    def _on_disconnect(self, client: mqtt.Client, *_: object) -> None:
        self.disconnected.set()
        # No reconnecting by itself: a connection taken over must stay gone.
        client.disconnect()

    def payloads(self) -> list[str]:
        """What arrived, in order, redeliveries included."""
        with self._lock:
            return [r.payload for r in self.received]

    def deliveries(self) -> list[Received]:
        """Every delivery, in order."""
        with self._lock:
            return list(self.received)

    def stop(self) -> None:
        """Leave cleanly (DISCONNECT), keeping the session."""
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None

    def cut(self) -> None:
        """Drop the connection without DISCONNECT, as a crash does; the session stays."""
        if self.client is not None:
            self.client.loop_stop()
            sock = self.client.socket()
            if sock is not None:
                sock.close()
            self.client = None


class Publisher:
    """A gateway-like publisher at QoS 1; `send` returns once the broker acknowledged."""

    def __init__(self, port: int, username: str | None = None, password: str | None = None):
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}"
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, topic: str, payload: str) -> None:
        """Publish and wait for the PUBACK."""
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=TIMEOUT)
        assert info.is_published(), f"no PUBACK for {payload}"

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def topic(station: int, gateway: int = 1, kind: str = "access") -> str:
    """An event topic of the contract."""
    return f"yz/v1/st/cs-{station:04d}/gw/gw-{gateway}/event/{kind}"


@pytest.fixture()
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A private Mosquitto for the test (the project's test settings, no ACL)."""
    directory = tmp_path / "mosquitto"
    directory.mkdir()
    own = MosquittoBroker(directory, free_port())
    own.start()
    yield own
    own.stop()


def test_each_message_reaches_exactly_one_member_of_the_group(broker: MosquittoBroker) -> None:
    """(a) Three members, six publishers on many stations: every QoS 1 event reaches the
    group once, at exactly one member, and every member gets a share (Mosquitto hands a
    group's messages round robin, whatever their topic or publisher)."""
    members = [Member(broker.port, f"central-{n}").start() for n in range(3)]
    publishers = [Publisher(broker.port) for _ in range(6)]
    per_publisher = 100

    def run(index: int, publisher: Publisher) -> None:
        for n in range(per_publisher):
            publisher.send(topic(index * 1000 + n % 17, n % 3 + 1), f"{index}:{n}")

    threads = [threading.Thread(target=run, args=(i, p)) for i, p in enumerate(publishers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    sent = {f"{i}:{n}" for i in range(len(publishers)) for n in range(per_publisher)}
    wait_until(
        lambda: sum(len(m.payloads()) for m in members) >= len(sent),
        TIMEOUT,
        "every event delivered to the group",
    )
    everything = [p for m in members for p in m.payloads()]
    assert len(everything) == len(sent), "a message reached two members, or one twice"
    assert set(everything) == sent
    shares = sorted(len(m.payloads()) for m in members)
    # Round robin over the group: shares differ by at most one message.
    assert shares[-1] - shares[0] <= 1, shares
    for member in members:
        member.stop()
    for publisher in publishers:
        publisher.close()


def test_a_second_connection_with_the_same_id_takes_the_session_over(
    broker: MosquittoBroker,
) -> None:
    """(b) A replica restarted while its old connection still looks alive to the broker
    connects with the same client id: the broker closes the old connection and gives the
    new one the session, with the messages the old one had received but not acknowledged
    (sent again, flagged as duplicates) and, afterwards, its share of new ones."""
    old = Member(broker.port, "central-1", ack=False).start()
    other = Member(broker.port, "central-2").start()
    publisher = Publisher(broker.port)
    for n in range(10):
        publisher.send(topic(n), f"before:{n}")
    wait_until(lambda: len(old.payloads()) + len(other.payloads()) == 10, TIMEOUT, "10 events")
    unacknowledged = set(old.payloads())
    assert len(unacknowledged) == 5  # its round robin share

    new = Member(broker.port, "central-1")
    new.start()
    assert old.disconnected.wait(TIMEOUT), "the old connection was not closed"
    wait_until(lambda: unacknowledged <= set(new.payloads()), TIMEOUT, "the unacknowledged events")
    redelivered = [r for r in new.deliveries() if r.payload in unacknowledged]
    assert all(r.dup for r in redelivered), redelivered
    assert not unacknowledged & set(other.payloads()), "given to another member"

    for n in range(10):
        publisher.send(topic(n), f"after:{n}")
    after = {f"after:{n}" for n in range(10)}
    wait_until(lambda: after <= set(new.payloads()) | set(other.payloads()), TIMEOUT, "new events")
    assert not set(new.payloads()) & set(other.payloads()), "an event reached both"
    assert after & set(new.payloads()), "the taken-over session gets no share any more"
    new.stop()
    other.stop()
    publisher.close()
    old.cut()


MEMBER_PROCESS = """
import sys
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=sys.argv[2], clean_session=False,
                     protocol=mqtt.MQTTv311, manual_ack=True)
client.on_connect = lambda c, *_: c.subscribe(sys.argv[3], qos=1)
client.on_subscribe = lambda *_: print("subscribed", flush=True)
# Never acknowledges: everything it receives stays in flight.
client.on_message = lambda c, u, m: print(m.payload.decode(), flush=True)
client.connect("127.0.0.1", int(sys.argv[1]))
client.loop_forever()
"""


class MemberProcess:
    """A member in a process of its own, so that it can be killed (SIGKILL) with messages
    in flight: no DISCONNECT, the kernel closes its socket."""

    def __init__(self, port: int, client_id: str) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, "-c", MEMBER_PROCESS, str(port), client_id, GROUP_FILTER],
            stdout=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        assert self.lines.get(timeout=TIMEOUT) == "subscribed"

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def take(self, count: int) -> list[str]:
        """The next `count` payloads it received."""
        return [self.lines.get(timeout=TIMEOUT) for _ in range(count)]

    def kill(self) -> None:
        """SIGKILL and wait."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(TIMEOUT)


def test_a_killed_members_unacknowledged_messages_wait_in_its_session(
    broker: MosquittoBroker,
) -> None:
    """(c) What Mosquitto 2 does with a member that dies holding messages it has not
    acknowledged, and with messages published while it is away:

    - its unacknowledged messages stay in its session: no other member of the group gets
      them, however long it is gone;
    - messages published while it is away are still dealt to it, round robin, as if it
      were connected, and queued in its session (the other members get only their own
      share);
    - when the same client id reconnects (clean session off), it receives both: the
      unacknowledged ones again, flagged as duplicates, then the queued ones.

    So a replica that is down delays its share of the events until it is back (or its
    session is deleted); nothing is lost and nothing reaches two replicas. A replica taken
    away for good must have its session removed (connect once with its client id and a
    clean session), or its share keeps queueing.
    """
    survivor = Member(broker.port, "central-2").start()
    doomed = MemberProcess(broker.port, "central-1")
    publisher = Publisher(broker.port)
    for n in range(20):
        publisher.send(topic(n), f"before:{n}")
    held = set(doomed.take(10))
    wait_until(lambda: len(survivor.payloads()) == 10, TIMEOUT, "the survivor's share")
    assert held | set(survivor.payloads()) == {f"before:{n}" for n in range(20)}
    doomed.kill()

    for n in range(20):
        publisher.send(topic(n), f"away:{n}")
    away = {f"away:{n}" for n in range(20)}
    wait_until(lambda: len(survivor.payloads()) == 20, TIMEOUT, "the survivor's new share")
    survivors = set(survivor.payloads())
    assert not held & survivors, "a dead member's unacknowledged events went to another"
    queued_for_the_dead = away - survivors
    assert len(queued_for_the_dead) == 10, "the absent member was not dealt its share"

    back = Member(broker.port, "central-1").start()
    wait_until(
        lambda: held | queued_for_the_dead <= set(back.payloads()),
        TIMEOUT,
        "the returning member's unacknowledged and queued events",
    )
    deliveries = back.deliveries()
    assert {r.payload for r in deliveries if r.dup} == held
    assert {r.payload for r in deliveries if not r.dup} == queued_for_the_dead
    assert len(deliveries) == 20, "an event arrived twice at the returning member"
    assert not set(back.payloads()) & survivors
    back.stop()
    survivor.stop()
    publisher.close()


@dataclass
class AclBroker:
    """A broker on the shipped `mosquitto.conf` (ports and paths changed) with accounts
    made by `servicekit.broker_accounts`, as `yizhan broker add-*` makes them."""

    port: int
    process: subprocess.Popen[bytes]


PASSWORD = "pw"


@pytest.fixture()
def acl_broker(tmp_path: Path) -> Iterator[AclBroker]:
    """The shipped password-and-ACL-file config with a central, two gateways and a
    maintainer."""
    directory = tmp_path / "acl-broker"
    add_account(
        directory, "central.central-1", central_acl("central-1"), AccountKind.CENTRAL, PASSWORD
    )
    add_account(
        directory, "central.central-2", central_acl("central-2"), AccountKind.CENTRAL, PASSWORD
    )
    for station in ("cs-0001", "cs-0002"):
        add_account(
            directory,
            f"{station}.gw-1",
            gateway_acl(station, "gw-1"),
            AccountKind.GATEWAY,
            PASSWORD,
        )
    add_account(directory, "alice", maintainer_acl(), AccountKind.MAINTAINER, PASSWORD)
    port = free_port()
    config = SHIPPED.read_text("utf-8")
    for old, new in (
        ("/etc/mosquitto/yizhan/", f"{directory}/"),
        ("/var/lib/mosquitto/", f"{directory}/"),
        ("listener 1883 127.0.0.1", f"listener {port} 127.0.0.1"),
    ):
        assert old in config, f"the shipped config no longer has {old!r}"
        config = config.replace(old, new)
    # Only the plain listener: TLS is not what this test is about.
    config = config.split("listener 8883")[0]
    (directory / "mosquitto.conf").write_text(config + "log_dest stderr\n" + run_as_current_user())
    with (directory / "mosquitto.log").open("ab") as log:
        process = subprocess.Popen(
            ["mosquitto", "-c", str(directory / "mosquitto.conf")], stdout=log, stderr=log
        )
    assert wait_for_port(port, TIMEOUT), (directory / "mosquitto.log").read_text()
    yield AclBroker(port, process)
    process.terminate()
    process.wait(TIMEOUT)


def stolen_at(centrals: list[Member]) -> set[str]:
    """The `stolen:` events the centrals received."""
    return {p for c in centrals for p in c.payloads() if p.startswith("stolen:")}


def test_with_the_acl_file_centrals_share_events_and_anyone_may_join_their_group(
    acl_broker: AclBroker,
) -> None:
    """(d, ACL file) Mosquitto 2.0's ACL file does not check subscriptions at all (its
    check answers "allowed" for every SUBSCRIBE); it checks each delivery against the
    real topic, without the `$share/<group>/` prefix. So the centrals' `topic read
    yz/v1/st/+/gw/+/event/+` lets them receive through `$share/centrals/...`.

    The other side of it: any account may join the centrals' group. A gateway's account
    is dealt its round robin share and may not read it, so the broker drops those events
    for the whole group; a maintainer's account may read them, so they go to the
    maintainer instead of a central. Either way no central stores them, and the gateways
    keep them in their outboxes until a stored mark comes, which it does not. With the
    dynamic security plugin (next test) the broker refuses such a subscription."""
    centrals = [
        Member(acl_broker.port, name, username=name, password=PASSWORD).start()
        for name in ("central.central-1", "central.central-2")
    ]
    gateway = Publisher(acl_broker.port, "cs-0001.gw-1", PASSWORD)
    for n in range(10):
        gateway.send(topic(1), f"shared:{n}")
    shared = {f"shared:{n}" for n in range(10)}
    wait_until(
        lambda: shared == set(centrals[0].payloads()) | set(centrals[1].payloads()),
        TIMEOUT,
        "the events at the centrals",
    )
    assert all(c.payloads() for c in centrals)

    stranger = Member(
        acl_broker.port, "cs-0002.gw-1", username="cs-0002.gw-1", password=PASSWORD
    ).start()
    assert stranger.granted == [1], "the ACL file refused a subscription"
    for n in range(30):
        gateway.send(topic(1), f"stolen:{n}")
    # Each of the three members is dealt ten; the gateway's ten are dropped.
    wait_until(lambda: len(stolen_at(centrals)) >= 20, TIMEOUT, "the centrals' share")
    # The tail comes after: had one more stolen event been on its way to a central, it
    # would have arrived before the tail.
    for n in range(3):
        gateway.send(topic(1), f"tail:{n}")
    wait_until(
        lambda: sum(p.startswith("tail:") for c in centrals for p in c.payloads()) == 2,
        TIMEOUT,
        "the tail",
    )
    assert len(stolen_at(centrals)) == 20, sorted(stolen_at(centrals))
    assert stranger.payloads() == []
    stranger.stop()
    for central in centrals:
        central.stop()
    gateway.close()


def test_with_dynamic_security_only_centrals_may_join_the_group(tmp_path: Path) -> None:
    """(d, dynamic security) The plugin checks a SUBSCRIBE against the account's
    `subscribePattern`s with the whole filter, `$share/<group>/` included, and a pattern
    without a leading `$` never matches a filter that has one: a central needs a pattern
    for the shared filter itself, which `central_acl` grants (`$share/+/yz/v1/st/+/gw/+/
    event/+`). Deliveries are checked on the real topic, so the central's
    `publishClientReceive` on `yz/v1/st/+/gw/+/event/+` lets them through. A gateway's or
    a maintainer's account is refused the shared subscription (SUBACK 128)."""
    broker = DynsecBroker(tmp_path / "dynsec")
    (tmp_path / "dynsec").mkdir()
    broker.start()
    try:
        central = broker.add_account("central.central-1", central_acl("central-1"))
        gateway = broker.add_account("cs-0001.gw-1", gateway_acl("cs-0001", "gw-1"))
        maintainer = broker.add_account("alice", maintainer_acl())
        member = Member(
            broker.port, "central.central-1", username=central.username, password=central.password
        ).start()
        assert member.granted == [1]
        # And every filter a sharing central subscribes to, as it subscribes.
        for wanted, _ in subscriptions("centrals"):
            joined = Member(
                broker.port, "central.central-1", username=central.username,
                password=central.password, topic=wanted,
            ).start()  # fmt: skip
            assert joined.granted == [1], wanted
            joined.stop()
        member = Member(
            broker.port, "central.central-1", username=central.username, password=central.password
        ).start()
        publisher = Publisher(broker.port, gateway.username, gateway.password)
        for n in range(5):
            publisher.send(topic(1), f"event:{n}")
        wait_until(lambda: len(member.payloads()) == 5, TIMEOUT, "the events at the central")
        publisher.close()
        for account in (gateway, maintainer):
            assert account.username is not None
            refused = Member(
                broker.port, account.username, username=account.username, password=account.password
            ).start()
            assert refused.granted == [128], account.username
            refused.stop()
        member.stop()
    finally:
        broker.stop()
