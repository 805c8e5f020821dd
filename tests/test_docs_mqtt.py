"""Every topic is documented in docs/mqtt.md, and every command line there works as written.

The only changes made to a documented line are the broker's port (the test's private
Mosquitto instead of 1883) and, for `mosquitto_sub`, `-C 1 -W 20` so that it ends.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.topics import TOPICS, parse_topic
from tests.support.demo_process import DemoProcess
from tests.support.mosquitto import INSTALL_HINT, MosquittoBroker, free_port
from tests.support.probe import MqttProbe
from tests.support.samples import sample_payload
from tests.support.schemas import validate_published

DOC = Path(__file__).resolve().parent.parent / "docs" / "mqtt.md"
LINES = [
    line.strip()
    for line in DOC.read_text("utf-8").splitlines()
    if line.startswith(("mosquitto_sub ", "mosquitto_pub "))
]
SUB_LINES = [line for line in LINES if line.startswith("mosquitto_sub")]
PUB_LINES = [line for line in LINES if line.startswith("mosquitto_pub")]


def for_test_broker(line: str, port: int) -> str:
    assert "-h localhost -p 1883" in line, f"examples use localhost:1883: {line}"
    return line.replace("-p 1883", f"-p {port}")


def topic_filters(line: str) -> list[str]:
    return re.findall(r"-t '([^']+)'", line)


def test_every_topic_family_has_a_documented_subscription() -> None:
    text = DOC.read_text("utf-8")
    for spec in TOPICS:
        assert f"`{spec.name}`" in text, f"{spec.name} is not documented"
        assert spec.model.SCHEMA in text, f"schema {spec.model.SCHEMA} is not named"
        assert any(
            spec.wildcard == f or spec.pattern.split("{")[0] in f
            for line in SUB_LINES
            for f in topic_filters(line)
        ), spec.name


@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """A broker of this module's own: the demo leaves its stations' retained state and
    last wills behind, which tests after these on the session's broker must not meet."""
    private = MosquittoBroker(tmp_path_factory.mktemp("docs-broker"), free_port())
    private.start()
    yield private
    private.stop()


@pytest.fixture(scope="module")
def demo(mosquitto: MosquittoBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    assert shutil.which("mosquitto_sub") and shutil.which("mosquitto_pub"), INSTALL_HINT
    workdir = tmp_path_factory.mktemp("demo")
    process = DemoProcess(
        [
            "--broker",
            mosquitto.url,
            "--http",
            f"127.0.0.1:{free_port()}",
            "--stations",
            "2",
            "--arrival-s",
            "0.5",
        ],
        workdir,
    )
    process.wait_for_line("dashboard at")
    yield
    assert process.terminate() == 0


def concrete(topic_filter: str) -> str:
    """A real topic that the filter matches, naming demo-01/gw-1 where it has wildcards."""
    parts = topic_filter.split("/")
    if parts[-1] == "#":
        parts = parts[:-1]
    levels = {3: "demo-01", 5: "gw-1"}
    filled = [levels.get(n, part) if part == "+" else part for n, part in enumerate(parts)]
    if filled[-1] == "event":
        filled.append("access")
    return "/".join(filled)


@pytest.mark.parametrize("line", SUB_LINES)
def test_documented_subscription_works(line: str, demo: None, mosquitto: MosquittoBroker) -> None:
    command = for_test_broker(line, mosquitto.port) + " -C 1 -W 20"
    # Families the demo does not produce yet get a valid sample until the line has
    # printed one message; the line must print it exactly as documented.
    topic = concrete(topic_filters(line)[0])
    address = parse_topic(topic) if topic != "yz" else None
    publisher = MqttProbe(mosquitto.url)
    done = threading.Event()

    def feed() -> None:
        while address is not None and not done.wait(0.2):
            sample = sample_payload(address.spec.model, "demo-01", "gw-1")
            publisher.publish(topic, sample.to_json())

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        result = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=40, check=False
        )
    finally:
        done.set()
        feeder.join()
        publisher.close()
    assert result.returncode == 0, result.stderr
    received_topic, payload = result.stdout.strip().split(" ", 1)
    validate_published(received_topic, payload.encode())


@pytest.mark.parametrize("line", PUB_LINES)
def test_documented_command_gets_a_reply(line: str, demo: None, mosquitto: MosquittoBroker) -> None:
    probe = MqttProbe(mosquitto.url, ["yz/v1/st/demo-01/gw/gw-1/reply/#"])
    try:
        subprocess.run(
            ["bash", "-c", for_test_broker(line, mosquitto.port)], check=True, timeout=20
        )
        reply = probe.wait_for(lambda m: m.topic.startswith("yz/v1/st/demo-01/gw/gw-1/reply"))
    finally:
        probe.close()
    document = validate_published(reply.topic, reply.payload)
    assert document["status"] == "ok", document
    assert document["request_id"].startswith("ping-")
