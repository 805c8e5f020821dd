"""A command sent from the dashboard ends in an outcome: the gateway's answer (matched by
request id and by the gateway it came from) or none in time, on SQLite and PostgreSQL.

The gateway here is scripted: a real MQTT client on the real broker that answers the
central's command topic as a gateway would (`reply/1`); tests/ui/test_commands_browser.py
runs the real gateway service.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from contract.maintenance_payloads import DeviceHealth
from contract.payloads import Command, CommandReply, ReplyStatus, format_utc, utc_now
from contract.topics import gateway_topic
from dashboard.core.changes import CommandOutcome
from dashboard.core.config import CommandSettings
from dashboard.core.stations import StationInput
from dashboard.storage import commands as command_log
from servicekit.settings import BrokerSettings
from tests.central.conftest import central_settings
from tests.central.support import health_report
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral, run_central
from tests.support.waiting import wait_until

ANSWER_WITHIN_S = 1.0
HOUR = timedelta(hours=1)
STATION = StationInput.model_validate(
    dict(
        id="cs-0001",
        name="五一广场驿站",
        doors=[{"id": "main", "gateway_id": "gw-1"}],
        gateways=["gw-1"],
    )
)
TWO_GATEWAYS = StationInput.model_validate(
    dict(id="cs-0002", name="岳麓山驿站", gateways=["gw-1", "gw-2"])
)


@pytest.fixture()
def central(
    tmp_path: Path, broker_settings: BrokerSettings, database_url: str
) -> Iterator[RunningCentral]:
    settings = central_settings(
        tmp_path,
        broker_settings.url,
        database_url,
        commands=CommandSettings(answer_timeout_s=ANSWER_WITHIN_S),
    )
    yield from run_central(settings, stations=[STATION, TWO_GATEWAYS])


def sent_command(probe: MqttProbe, request_id: str) -> Command:
    message = probe.wait_for(
        lambda m: m.topic.endswith("/command") and request_id.encode() in m.payload
    )
    return Command.model_validate_json(message.payload)


def answer(
    probe: MqttProbe, command: Command, status: ReplyStatus, message: str, gateway: str = "gw-1"
) -> None:
    reply = CommandReply(
        request_id=command.request_id,
        station_id=command.station_id,
        gateway_id=gateway,
        at=utc_now(),
        status=status,
        message=message,
    )
    probe.publish(gateway_topic(command.station_id, gateway, "reply"), reply.to_json())


def outcome_of(central: RunningCentral, request_id: str) -> dict[str, object]:
    found = central.http.get(f"/api/commands/{request_id}")
    assert found.status_code == 200, found.text
    body: dict[str, object] = found.json()
    return body


def test_a_refusal_and_a_success_are_told_apart_and_audited(
    central: RunningCentral, probe: MqttProbe
) -> None:
    http = central.http
    sent = http.post(
        "/api/stations/cs-0001/commands", json={"command": "unlock", "door_id": "main"}
    )
    assert sent.status_code == 202, sent.text
    body = sent.json()
    assert (body["outcome"], body["gateway_id"], body["answer_within_s"]) == (
        "pending",
        "gw-1",
        ANSWER_WITHIN_S,
    )
    command = sent_command(probe, body["request_id"])
    assert (command.command, command.args, command.ttl_s) == ("unlock", {"door": "main"}, 1.0)
    refusal = "door 'main' is in lockdown; not released"
    answer(probe, command, ReplyStatus.ERROR, refusal)
    wait_until(lambda: outcome_of(central, command.request_id)["outcome"] != "pending", 5, "answer")
    refused = outcome_of(central, command.request_id)
    assert (refused["outcome"], refused["reply_status"], refused["message"]) == (
        "refused",
        "error",
        refusal,
    )

    lockdown = http.post(
        "/api/stations/cs-0001/commands", json={"command": "lockdown_off", "door_id": "main"}
    ).json()
    off = sent_command(probe, lockdown["request_id"])
    assert (off.command, off.args) == ("lockdown", {"on": False, "door": "main"})
    answer(probe, off, ReplyStatus.OK, "lockdown off at main")
    wait_until(lambda: outcome_of(central, off.request_id)["outcome"] == "done", 5, "done")

    # The audit log has each request and, under the same operator, how it ended.
    audit = http.get("/api/audit").json()
    answers = {
        row["target"]: (row["actor"], row["status"], row["detail"])
        for row in audit
        if row["action"] == "ANSWER"
    }
    assert answers[f"/api/commands/{command.request_id}"] == (
        central.operator,
        409,
        f"cs-0001/gw-1 unlock main: refused: {refusal}",
    )
    assert answers[f"/api/commands/{off.request_id}"] == (
        central.operator,
        200,
        "cs-0001/gw-1 lockdown_off main: done: lockdown off at main",
    )
    # The station's latest commands, newest first, as they stand.
    latest = http.get("/api/stations/cs-0001/commands", params={"limit": 2}).json()
    assert [(c["request_id"], c["outcome"]) for c in latest] == [
        (off.request_id, "done"),
        (command.request_id, "refused"),
    ]
    assert http.get("/api/stations/cs-9999/commands").status_code == 404
    requests = [r["detail"] for r in audit if r["target"] == "/api/stations/cs-0001/commands"]
    assert f"unlock request {command.request_id}" in requests

    # Retention deletes ended commands; one still waiting for its answer stays.
    waiting = CommandOutcome(
        request_id="waiting-1",
        station_id="cs-0001",
        gateway_id="gw-1",
        door_id=None,
        command="ping",
        by=central.operator,
        outcome="pending",
        message="",
        reply_status=None,
        issued_at=format_utc(utc_now()),
        answer_by=format_utc(utc_now() + HOUR),
        answer_within_s=HOUR.total_seconds(),
        answered_at=None,
    )
    command_log.issue(central.service.store.db, waiting)
    central.service.store.purge(utc_now() + timedelta(seconds=1))
    assert http.get(f"/api/commands/{command.request_id}").status_code == 404
    assert outcome_of(central, "waiting-1")["outcome"] == "pending"


def test_silence_ends_as_no_answer_and_a_stray_reply_is_only_logged(
    central: RunningCentral, probe: MqttProbe, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dashboard.ingest.pipeline")
    http = central.http
    ping = http.post(
        "/api/stations/cs-0002/commands", json={"command": "ping", "gateway_id": "gw-2"}
    ).json()
    command = sent_command(probe, ping["request_id"])
    assert command.gateway_id == "gw-2"
    wait_until(
        lambda: outcome_of(central, command.request_id)["outcome"] == "no_answer", 10, "deadline"
    )
    audit = [r for r in http.get("/api/audit").json() if r["action"] == "ANSWER"]
    assert (audit[0]["status"], audit[0]["detail"]) == (504, "cs-0002/gw-2 ping: no answer in 1 s")

    # A reply to a request nobody here sent (a maintainer's own mosquitto_pub), and one
    # that copies a real request id but comes from another gateway: logged, not stored.
    stray = command.model_copy(update={"request_id": "maintainer-1"})
    answer(probe, stray, ReplyStatus.OK, "pong", gateway="gw-2")
    answer(probe, command, ReplyStatus.OK, "pong", gateway="gw-1")
    lines = [
        f"reply from cs-0002/{gateway} to request {request_id!r} ignored"
        for gateway, request_id in (("gw-2", "maintainer-1"), ("gw-1", command.request_id))
    ]
    wait_until(lambda: all(line in caplog.text for line in lines), 5, "both replies logged")
    assert http.get("/api/commands/maintainer-1").status_code == 404
    assert outcome_of(central, command.request_id)["outcome"] == "no_answer"

    # The gateway's own late answer is what happened, so it replaces "no answer".
    answer(probe, command, ReplyStatus.OK, "pong", gateway="gw-2")
    wait_until(lambda: outcome_of(central, command.request_id)["outcome"] == "done", 5, "late")


def test_bad_requests_get_clear_errors(central: RunningCentral) -> None:
    post = central.http.post
    path = "/api/stations/cs-0001/commands"
    cases = [
        (path, {"command": "unlock"}, 422, "name it (door_id)"),
        (path, {"command": "open_sesame"}, 422, ""),
        (path, {"command": "ping", "door_id": "main"}, 422, "about a gateway"),
        (path, {"command": "lock", "door_id": "back"}, 404, "no door 'back'"),
        (path, {"command": "ping", "gateway_id": "gw-9"}, 404, "no gateway 'gw-9'"),
        ("/api/stations/cs-0002/commands", {"command": "restart"}, 409, "gw-1, gw-2"),
        ("/api/stations/cs-9999/commands", {"command": "ping"}, 404, "no station"),
        (path, {"command": "ping", "extra": 1}, 422, ""),
    ]
    for url, body, status, words in cases:
        answered = post(url, json=body)
        assert answered.status_code == status, (body, answered.text)
        assert words in answered.json()["detail"], answered.text
    assert central.http.get("/api/commands/nothing-here").status_code == 404
    assert central.http.get("/api/commands/bad%20id").status_code == 422


def test_a_door_condition_from_health_reaches_the_station_api(
    central: RunningCentral, probe: MqttProbe
) -> None:
    def door(**state: bool) -> DeviceHealth:
        return DeviceHealth(kind="door", ok=True, state={"lock": "secured", **state})

    topic = gateway_topic("cs-0001", "gw-1", "health")
    report = health_report({"door-main": door(lockdown=True, fire=False, forced_open=False)})
    probe.publish(topic, report.to_json())
    path = "/api/stations/cs-0001/conditions"
    wait_until(lambda: central.http.get(path).json() != [], 5, "lockdown reported")
    [condition] = central.http.get(path).json()
    assert (condition["door_id"], condition["lockdown"], condition["fire"]) == ("main", True, False)
    cleared = health_report({"door-main": door(lockdown=False, fire=False, forced_open=False)})
    probe.publish(topic, cleared.to_json())
    wait_until(lambda: central.http.get(path).json() == [], 5, "lockdown lifted")
    assert central.http.get("/api/stations/cs-9999/conditions").status_code == 404


def test_a_reply_that_breaks_the_contract_is_quarantined_with_its_reason(
    central: RunningCentral, probe: MqttProbe
) -> None:
    topic = gateway_topic("cs-0001", "gw-1", "reply")
    probe.publish(topic, b'{"schema": "reply/1", "request_id": "x-1", "status": "fine"}')
    wait_until(lambda: central.http.get("/api/quarantine").json(), 5, "quarantined")
    (kept,) = central.http.get("/api/quarantine").json()
    assert (kept["topic"], kept["code"]) == (topic, "invalid")
    assert "status" in kept["reason"]
    assert central.http.get("/api/commands/x-1").status_code == 404
