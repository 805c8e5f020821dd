"""Station policy flows down signed and comes back: an admin's policy reaches each of the
station's gateways as desired config signed by the central's operator key, the map's
capacity follows it, and the API tells applied, pending, refused (with the gateway's
reason) and drift (a maintainer's change on the spot) apart; on SQLite and PostgreSQL.
Real parts: a private Mosquitto, the central, gateways on mock pins."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from dashboard.core.config import CentralSettings, DatabaseSettings, HttpSettings
from dashboard.core.station_policy import (
    ALL_DAY,
    ConfigStatus,
    PolicyInput,
    ReportedConfig,
    config_state,
    desired_settings,
)
from dashboard.core.stations import StationInput
from gateway.config import ALL_DAY as GATEWAY_ALL_DAY
from gateway.config import DoorSettings, GatewaySettings, MaintenanceSettings
from gateway.service import Gateway
from servicekit.settings import BrokerSettings
from tests.reliability.site import one_door_board
from tests.support.mosquitto import MosquittoBroker, free_port
from tests.support.operators import add_operator, bearer
from tests.support.running_central import RunningCentral, run_central
from tests.support.waiting import wait_until

REGISTRY = [
    StationInput(
        id="cs-0001", name="五一广场驿站", capacity=12, doors=[{"id": "main", "gateway_id": "gw-1"}]
    ),
    # The registry knows a side door that the gateway's board does not have.
    StationInput(
        id="cs-0002",
        name="岳麓山驿站",
        capacity=8,
        doors=[{"id": "main", "gateway_id": "gw-1"}, {"id": "side", "gateway_id": "gw-1"}],
    ),
]


@dataclass
class Site:
    central: RunningCentral
    gateways: dict[str, Gateway]


@pytest.fixture()
def site(own_broker: MosquittoBroker, tmp_path: Path, database_url: str) -> Iterator[Site]:
    settings = CentralSettings(
        broker=BrokerSettings(url=own_broker.url),
        http=HttpSettings(host="127.0.0.1", port=free_port()),
        database=DatabaseSettings(path=tmp_path / "central.db", url=database_url),
    )
    for central in run_central(settings, stations=REGISTRY):
        key = central.service.operator_key
        factories: list[MockFactory] = []
        with ExitStack() as stack:
            gateways = {}
            for station in REGISTRY:
                pins = MockFactory()
                factories.append(pins)
                gateway = Gateway(
                    GatewaySettings(
                        station_id=station.id,
                        gateway_id="gw-1",
                        broker=BrokerSettings(url=own_broker.url),
                        doors={"main": DoorSettings(unlock_s=5)},
                        state_dir=tmp_path / station.id,
                        maintenance=MaintenanceSettings(operators={key.name: key.public_key}),
                    ),
                    one_door_board(),
                    pin_factory=pins,
                )
                gateway.start()
                stack.callback(gateway.stop)
                assert gateway.link.wait_connected(10)
                gateways[station.id] = gateway
            try:
                yield Site(central, gateways)
            finally:
                for factory in factories:
                    factory.reset()


def gateway_state(site: Site, station: str, status: str) -> dict[str, Any] | None:
    """The station's one gateway's policy state once it is `status`."""
    answer = site.central.http.get(f"/api/stations/{station}/policy")
    assert answer.status_code == 200, answer.text
    (state,) = answer.json()["gateways"]
    return state if state["status"] == status else None


def test_a_policy_reaches_the_gateway_signed_and_the_map_follows(site: Site) -> None:
    http = site.central.http
    policy = {"capacity": 9, "opening_hours": "06:00-23:00", "unlock_s": 3, "held_open_s": 40}
    answer = http.put("/api/stations/cs-0001/policy", json=policy)
    assert answer.status_code == 200, answer.text
    assert answer.json()["settings"] == {
        "policy.capacity": 9,
        "policy.hours": ["06:00-23:00"],
        "doors.main.unlock_s": 3,
        "doors.main.held_open_s": 40,
    }
    wait_until(lambda: gateway_state(site, "cs-0001", "applied"), 10, "policy applied")
    live = site.gateways["cs-0001"].live
    assert live.values()["policy.capacity"] == 9
    assert live.timing("main").unlock_s == 3
    station = http.get("/api/stations/cs-0001").json()
    assert (station["capacity"], station["opening_hours"]) == (9, "06:00-23:00"), "the map's"

    # A maintainer changes the capacity on the spot: applied still, but drifted.
    site.gateways["cs-0001"].apply_config({"policy.capacity": 3})
    drifted = wait_until(
        lambda: (s := gateway_state(site, "cs-0001", "applied")) and s["drift"] and s,
        10,
        "drift shown",
    )
    assert drifted["drift"] == {"policy.capacity": {"registry": 9, "gateway": 3}}


def test_a_key_the_gateway_cannot_apply_is_shown_refused_with_its_reason(site: Site) -> None:
    http = site.central.http
    answer = http.put("/api/stations/cs-0002/policy", json={"capacity": 8, "unlock_s": 4})
    assert answer.status_code == 200, answer.text
    (pending,) = answer.json()["gateways"]
    assert pending["status"] in ("pending", "applied", "refused")
    refused = wait_until(lambda: gateway_state(site, "cs-0002", "refused"), 10, "refusal")
    assert set(refused["refused"]) == {"doors.side.unlock_s"}
    assert "no door 'side'" in refused["refused"]["doors.side.unlock_s"]
    assert site.gateways["cs-0002"].live.timing("main").unlock_s == 4


def test_only_an_admin_sets_a_policy_and_bad_values_are_named(site: Site) -> None:
    http = site.central.http
    name, password = add_operator(site.central.service.operators, "operator")
    refused = http.put(
        "/api/stations/cs-0001/policy",
        json={"capacity": 5},
        headers=bearer(http, name, password),
    )
    assert refused.status_code == 403
    bad = http.put("/api/stations/cs-0001/policy", json={"unlock_s": 600, "colour": "red"})
    assert http.put("/api/stations/cs-0001/policy", json={"capacity": False}).status_code == 422
    assert bad.status_code == 422
    assert http.put("/api/stations/nowhere/policy", json={}).status_code == 404
    assert http.get("/api/stations/cs-0001/policy").json()["version"] is None


# --- the comparison, as plain functions -------------------------------------------------

SETTINGS = desired_settings(PolicyInput(capacity=9, unlock_s=3), ["main"])
SET_AT = "2026-12-01T10:00:00.000Z"


def report(version: int | None, applied: dict[str, Any], refused: dict[str, str]) -> Any:
    return ReportedConfig("gw-1", version, applied, refused, "2026-12-01T10:00:01.000Z")


def test_the_central_says_all_day_as_the_gateway_does() -> None:
    assert ALL_DAY == GATEWAY_ALL_DAY
    assert desired_settings(PolicyInput(), [])["policy.hours"] == GATEWAY_ALL_DAY


def test_states_of_a_gateway_against_its_policy() -> None:
    assert config_state("gw-1", 7, SETTINGS, SET_AT, None).status is ConfigStatus.PENDING
    older = report(6, {"policy.capacity": 12}, {})
    state = config_state("gw-1", 7, SETTINGS, SET_AT, older)
    assert (state.status, state.since) == (ConfigStatus.PENDING, SET_AT)
    untrusted = report(6, {}, {key: "not applied: unknown operator" for key in SETTINGS})
    assert config_state("gw-1", 7, SETTINGS, SET_AT, untrusted).status is ConfigStatus.REFUSED
    applied = report(7, {**SETTINGS, "doors.main.unlock_s": 3.0}, {})
    state = config_state("gw-1", 7, SETTINGS, SET_AT, applied)
    assert (state.status, state.drift) == (ConfigStatus.APPLIED, {})
    moved = report(7, {**SETTINGS, "policy.capacity": 2}, {})
    assert config_state("gw-1", 7, SETTINGS, SET_AT, moved).drift == {
        "policy.capacity": {"registry": 9, "gateway": 2}
    }
