"""Every message goes with its topic family's QoS and retain flag from `contract.topics`."""

from __future__ import annotations

import queue
import re
from pathlib import Path

import pytest

from contract.topics import TOPICS, TopicSpec, UnknownTopicError, event_topic, spec_of
from servicekit.mqtt_link import Message, MqttLink, Retained
from servicekit.settings import BrokerSettings
from tests.support.mosquitto import MosquittoBroker

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = (
    "contract",
    "servicekit",
    "firmware_bridge",
    "gateway",
    "dashboard",
    "hardware",
    "yizhan",
)
MARKER = event_topic("dl-0002", "gw-1", "presence")
"""Another station's event: it follows what the test looks at, and is none of it."""


def concrete(spec: TopicSpec) -> str:
    """One real topic of the family."""
    return spec.pattern.format(station_id="dl-0001", gateway_id="gw-1", central_id="c-1")


def listener(url: str, received: queue.Queue[Message]) -> MqttLink:
    # QoS 2 asks for everything at the QoS it was published with.
    link = MqttLink(
        "delivery-listener",
        BrokerSettings(url=url),
        subscriptions=[("yz/#", 2)],
        on_message=received.put,
        clean_session=True,
    )
    link.start()
    assert link.wait_connected(10)
    return link


def until_marker(received: queue.Queue[Message]) -> list[Message]:
    """What arrives before the marker event."""
    messages = []
    while (message := received.get(timeout=10)).topic != MARKER:
        messages.append(message)
    return messages


def test_each_family_is_published_with_the_tables_qos_and_retain_flag(
    own_broker: MosquittoBroker,
) -> None:
    publisher = MqttLink("delivery-publisher", BrokerSettings(url=own_broker.url))
    publisher.start()
    assert publisher.wait_connected(10)
    live: queue.Queue[Message] = queue.Queue()
    late: queue.Queue[Message] = queue.Queue()
    watching = listener(own_broker.url, live)
    try:
        for spec in TOPICS:
            publisher.publish(concrete(spec), spec.name.encode())
        publisher.publish(MARKER, b"marker")
        seen = {m.topic: m.qos for m in until_marker(live)}
        assert seen == {concrete(spec): spec.qos for spec in TOPICS}
        # Only a subscriber that comes later tells retained from not: the broker hands
        # it the retained copies, flagged, and nothing else.
        arriving = listener(own_broker.url, late)
        try:
            publisher.publish(MARKER, b"marker")
            kept = until_marker(late)
        finally:
            arriving.stop()
    finally:
        watching.stop()
        publisher.stop()
    assert all(m.retain for m in kept)
    assert {m.topic for m in kept} == {concrete(spec) for spec in TOPICS if spec.retain}


def test_a_topic_outside_the_table_is_refused_before_it_reaches_the_broker() -> None:
    with pytest.raises(UnknownTopicError):
        spec_of("yz/v1/st/dl-0001/gw/gw-1/event/sneeze")
    with pytest.raises(ValueError, match="not a retained topic"):
        Retained(event_topic("dl-0001", "gw-1", "door"), b"")


def test_only_home_assistants_discovery_tree_is_published_past_the_table() -> None:
    """`publish_as` takes QoS and retain from its caller; in the product, only the
    gateway's Home Assistant configs and the central's commands to the broker's dynamic
    security plugin (two trees outside wire contract v1) may use it."""
    callers = sorted(
        str(path.relative_to(ROOT))
        for package in PRODUCT
        for path in (ROOT / package).rglob("*.py")
        if path.name != "mqtt_link.py" and re.search(r"\.publish_as\(", path.read_text("utf-8"))
    )
    assert callers == ["gateway/service.py", "servicekit/dynsec.py"]
    dynsec = (ROOT / "servicekit/dynsec.py").read_text("utf-8")
    assert re.findall(r"publish_as\((.*)\)", dynsec) == [
        "CONTROL_TOPIC, payload, qos=1, retain=False"
    ]
    text = (ROOT / "gateway/service.py").read_text("utf-8")
    assert re.findall(r"publish_as\((.*)\)", text) == [
        "topic, payload, qos=DISCOVERY_QOS, retain=DISCOVERY_RETAIN"
    ]
