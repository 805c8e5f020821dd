"""Every `mosquitto_pub`/`mosquitto_sub` line of docs/maintenance.md, run as written against
a running demo, gets the documented reply.

The only changes to a line are the broker's port and, for `mosquitto_sub`, `-C 1 -W 20`
so that it ends. Lines run in the directory the demo was started in, with this checkout's
`yizhan` on PATH, as the page says. `restart` runs last.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contract.payloads import Command, utc_now
from tests.support.demo_process import DemoProcess
from tests.support.mosquitto import INSTALL_HINT, MosquittoBroker, free_port
from tests.support.probe import MqttProbe
from tests.support.schemas import validate_published

DOC = Path(__file__).resolve().parent.parent / "docs" / "maintenance.md"
BASE = "yz/v1/st/demo-01/gw/gw-1"


@dataclass(frozen=True)
class Example:
    line: str
    expected: dict[str, Any] | None


def examples() -> list[Example]:
    """Each command line with the JSON block documented after it (before the next line)."""
    found: list[Example] = []
    lines = DOC.read_text("utf-8").splitlines()
    for n, line in enumerate(lines):
        if not line.startswith(("mosquitto_pub ", "mosquitto_sub ")):
            continue
        expected = None
        # A desired config is answered on config/reported: its subscription line comes
        # between the line and the documented report.
        stops = (
            ("mosquitto_pub ",)
            if "/config/desired" in line
            else ("mosquitto_pub ", "mosquitto_sub ")
        )
        for m in range(n + 1, len(lines)):
            if lines[m].startswith(stops):
                break
            if lines[m] == "```json":
                end = lines.index("```", m + 1)
                expected = json.loads(" ".join(lines[m + 1 : end]))
                break
        found.append(Example(line, expected))
    # A restart interrupts the gateway for a moment: last.
    return sorted(found, key=lambda e: "command restart" in e.line)


EXAMPLES = examples()


def test_every_command_is_documented() -> None:
    text = DOC.read_text("utf-8")
    from gateway.maintenance import MaintenanceCommands

    for name in ("ping", "unlock", "lock", "lockdown", "set_config", "reload_trust",
                 "self_test", "diagnostics", "log_level", "restart"):  # fmt: skip
        assert f"### {name}" in text, name
    assert len(EXAMPLES) >= 15
    assert MaintenanceCommands.__doc__


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """A broker of this module's own: the page changes retained state and the demo's
    central session, which later tests on the shared broker must not inherit."""
    private = MosquittoBroker(tmp_path_factory.mktemp("maintenance-broker"), free_port())
    private.start()
    yield private
    private.stop()


@pytest.fixture(scope="module")
def demo(broker: MosquittoBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    assert shutil.which("mosquitto_sub") and shutil.which("mosquitto_pub"), INSTALL_HINT
    workdir = tmp_path_factory.mktemp("maintenance-demo")
    process = DemoProcess(
        ["--broker", broker.url, "--http", f"127.0.0.1:{free_port()}", "--stations", "1"],
        workdir,
    )
    process.wait_for_line("dashboard at")
    probe = MqttProbe(broker.url, [f"{BASE}/availability"])
    probe.wait_for(lambda m: b'"online":true' in m.payload)
    probe.close()
    yield workdir
    assert process.terminate() == 0


def run(line: str, port: int, workdir: Path) -> subprocess.CompletedProcess[str]:
    assert "-h localhost -p 1883" in line, f"examples use localhost:1883: {line}"
    command = line.replace("-p 1883", f"-p {port}")
    if command.startswith("mosquitto_sub"):
        command += " -C 1 -W 20"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "-c", command], cwd=workdir, env=env, capture_output=True, text=True,
        timeout=40, check=False,
    )  # fmt: skip


def normal(message: str) -> str:
    """The fixed part of a message: before any `;`, with numbers made alike."""
    return re.sub(r"\d+(\.\d+)*", "N", message.split(";", maxsplit=1)[0])


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.line[60:120])
def test_documented_line_gets_the_documented_reply(
    example: Example, demo: Path, broker: MosquittoBroker
) -> None:
    line = example.line
    if line.startswith("mosquitto_sub"):
        # The reply topic needs something to answer: a ping until the line has printed.
        publisher = MqttProbe(broker.url)
        done = threading.Event()

        def feed() -> None:
            while "/reply" in line and not done.wait(0.3):
                ping = Command(
                    request_id="feed",
                    station_id="demo-01",
                    gateway_id="gw-1",
                    issued_at=utc_now(),
                    command="ping",
                )
                publisher.publish(f"{BASE}/command", ping.to_json())

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            result = run(line, broker.port, demo)
        finally:
            done.set()
            feeder.join()
            publisher.close()
        assert result.returncode == 0, result.stderr
        topic, payload = result.stdout.strip().split(" ", 1)
        validate_published(topic, payload.encode())
        return

    assert example.expected is not None, f"no documented reply after {line}"
    expected = example.expected
    if "/config/desired" in line:
        probe = MqttProbe(broker.url, [f"{BASE}/config/reported"])
        try:
            result = run(line, broker.port, demo)
            assert result.returncode == 0, result.stderr
            pairs = dict(p.split("=", 1) for p in re.findall(r" (\S+=\S+)", line.split("--key")[1]))
            wanted = {k: expected["applied"][k] for k in pairs}

            def applied(message: Any) -> bool:
                report = json.loads(message.payload or b"{}")
                return all(report.get("applied", {}).get(k) == v for k, v in wanted.items())

            report = json.loads(probe.wait_for(applied, 20).payload)
        finally:
            probe.close()
        assert report["refused"] == expected["refused"]
        return

    probe = MqttProbe(broker.url, [f"{BASE}/reply/#", f"{BASE}/availability"])
    prefix = expected["request_id"].rsplit("-", 1)[0] + "-"
    try:
        result = run(line, broker.port, demo)
        assert result.returncode == 0, result.stderr
        message = probe.wait_for(
            lambda m: (
                "/reply" in m.topic and json.loads(m.payload)["request_id"].startswith(prefix)
            ),
            20,
        )
        if "command restart" in line:
            # It comes back: offline (its goodbye), then online again.
            probe.wait_for(lambda m: b'"online":false' in m.payload, 20)
            probe.wait_for(lambda m: b'"online":true' in m.payload, 20)
    finally:
        probe.close()
    reply = validate_published(message.topic, message.payload)
    assert reply["status"] == expected["status"], reply
    assert normal(reply["message"]) == normal(expected["message"]), reply["message"]
    for key, value in expected.get("data", {}).items():
        if key in ("applied", "refused", "doors", "lock"):
            assert reply["data"][key] == value, reply["data"]
