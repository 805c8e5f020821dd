"""The central's database is the one registry of stations: a station described through
the API or an import gets a number at once, keeps it for good, and no number is ever
given twice, also after its station is deleted; on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

from contract.tokens import Scope, decode_token
from dashboard.core.stations import StationInput
from dashboard.storage.store import Store
from tests.support.running_central import RunningCentral
from tests.workers.support import enroll, pass_secret


def numbers(central: RunningCentral) -> dict[str, int | None]:
    """Station id → number, as the API lists them."""
    listed: list[dict[str, Any]] = central.http.get("/api/stations").json()
    return {s["id"]: s["number"] for s in listed}


def test_a_station_created_by_the_api_gets_a_number_and_scopes_workers_at_once(
    any_central: RunningCentral,
) -> None:
    http = any_central.http
    before = numbers(any_central)
    assert all(isinstance(n, int) for n in before.values()), before

    created = http.post(
        "/api/stations",
        json={"id": "cs-0100", "name": "芙蓉路驿站", "capacity": 6, "region_code": 430102},
    )
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    assert number == max(n for n in before.values() if n is not None) + 1
    assert created.json()["region_code"] == 430102

    worker = enroll(http, scope="station:cs-0100")
    tokens = http.get(f"/api/pass/{pass_secret(http, worker['worker_id'])}/tokens")
    assert tokens.status_code == 200, tokens.text
    token = tokens.json()["tokens"][0]["token"]
    assert decode_token(token).claims.scope == Scope.station(number)


def test_numbers_are_never_given_twice_not_even_after_a_delete(
    any_central: RunningCentral,
) -> None:
    http = any_central.http
    first = http.post("/api/stations", json={"id": "cs-0200", "name": "甲"}).json()["number"]
    assert http.delete("/api/stations/cs-0200").status_code == 204

    second = http.post("/api/stations", json={"id": "cs-0201", "name": "乙"}).json()["number"]
    assert second > first, "a deleted station's number came back"

    reused = http.post("/api/stations", json={"id": "cs-0202", "name": "丙", "number": first})
    assert reused.status_code == 409
    assert "deleted station 'cs-0200'" in reused.json()["detail"]
    taken = http.put("/api/stations/cs-0203", json={"name": "丁", "number": second})
    assert taken.status_code == 409
    assert "station 'cs-0201'" in taken.json()["detail"]
    assert "cs-0202" not in numbers(any_central) and "cs-0203" not in numbers(any_central)

    # Describing a station again keeps its number; changing it is refused.
    kept = http.put("/api/stations/cs-0201", json={"name": "乙 二"})
    assert (kept.status_code, kept.json()["number"]) == (200, second)
    moved = http.put("/api/stations/cs-0201", json={"name": "乙", "number": second + 50})
    assert moved.status_code == 409
    assert "for good" in moved.json()["detail"]

    # The deleted station described again gets its own number back, no other.
    back = http.post("/api/stations", json={"id": "cs-0200", "name": "甲", "number": first})
    assert (back.status_code, back.json()["number"]) == (201, first)


def test_an_import_keeps_named_numbers_and_numbers_the_rest_above_them(
    any_central: RunningCentral,
) -> None:
    http = any_central.http
    csv = (
        "id,name,number,region_code,capacity\n"
        "cs-0300,一,,430102,4\n"
        "cs-0301,二,9000,430104,4\n"
        "cs-0302,三,,,4\n"
    )
    answer = http.post(
        "/api/stations/import", content=csv.encode(), headers={"content-type": "text/csv"}
    )
    assert answer.status_code == 200, answer.text
    got = numbers(any_central)
    assert got["cs-0301"] == 9000
    assert got["cs-0300"] == 9001 and got["cs-0302"] == 9002


def test_bad_station_input_is_refused_with_every_problem_named(
    any_central: RunningCentral,
) -> None:
    http = any_central.http
    before = http.get("/api/stations").json()
    csv = (
        "id,name,number,region_code,capacity,colour\n"
        "cs-0400,一,0,430102,4,red\n"
        "cs-0401,二,5000000,43010,-1,\n"
    )
    answer = http.post(
        "/api/stations/import", content=csv.encode(), headers={"content-type": "text/csv"}
    )
    assert answer.status_code == 422
    problems = {(p["row"], p["field"]) for p in answer.json()["errors"]}
    assert {
        (2, "number"),
        (2, "colour"),
        (3, "number"),
        (3, "region_code"),
        (3, "capacity"),
    } <= problems
    unknown = next(p for p in answer.json()["errors"] if p["field"] == "colour")
    assert unknown["problem"] == "unknown field (check its spelling)"

    one = http.post("/api/stations", json={"id": "cs-0402", "name": "x", "region_code": 12})
    assert one.status_code == 422
    assert [e["where"] for e in one.json()["errors"]] == ["region_code"]
    assert http.get("/api/stations").json() == before, "a refused input changed the registry"


def test_stations_created_at_once_get_distinct_numbers(database_url: str) -> None:
    store = Store.open(database_url)
    together = threading.Barrier(6)
    failures: list[BaseException] = []

    def create(n: int) -> None:
        together.wait(10)
        try:
            store.put_station(StationInput(id=f"cs-{n:04d}", name=f"站 {n}"))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert sorted(s.number or 0 for s in store.stations()) == [1, 2, 3, 4, 5, 6]
    store.close()
