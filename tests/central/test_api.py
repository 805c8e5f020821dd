"""Every operator route of the central, on SQLite and on PostgreSQL, through real HTTP."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from tests.central.support import Gateway
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until


def test_stations_crud_and_errors(any_central: RunningCentral) -> None:
    http = any_central.http
    listed = {s["id"]: s for s in http.get("/api/stations").json()}
    assert listed["cs-0001"]["amenities"] == ["water", "charging"]
    assert listed["cs-0001"]["address"].startswith("长沙市")
    detail = http.get("/api/stations/cs-0001").json()
    assert {z["zone"]: z["capacity"] for z in detail["zones"]} == {"rest": None, "sleeping": 4}
    assert {d["id"]: d["zone"] for d in detail["doors"]} == {"main": "rest", "dorm": "sleeping"}
    assert detail["gateways"] == ["gw-1"]

    body = {
        "id": "cs-0100",
        "name": "橘子洲驿站",
        "lat": 28.17,
        "lon": 112.96,
        "capacity": 6,
        "opening_hours": "06:00-23:00",
        "amenities": ["shower", "medicine_box"],
        "zones": {"showers": 2},
        "doors": [{"id": "front", "beams": True}],
    }
    created = http.post("/api/stations", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["doors"] == [
        {"id": "front", "zone": "rest", "beams": True, "gateway_id": None}
    ]
    again = http.post("/api/stations", json=body)
    assert again.status_code == 409 and "already exists" in again.json()["detail"]

    replaced = http.put("/api/stations/cs-0100", json={**body, "name": "橘子洲头驿站"})
    assert replaced.status_code == 200 and replaced.json()["name"] == "橘子洲头驿站"
    new = http.put("/api/stations/cs-0101", json={"name": "新驿站"})
    assert new.status_code == 201 and new.json()["id"] == "cs-0101"
    mismatch = http.put("/api/stations/cs-0101", json={"id": "cs-0102", "name": "x"})
    assert mismatch.status_code == 422 and "differs" in mismatch.json()["detail"]

    bad = http.post("/api/stations", json={"id": "Bad Id", "name": "", "lat": 99})
    assert bad.status_code == 422
    assert {e["where"] for e in bad.json()["errors"]} == {"id", "name", "lat"}
    assert http.post("/api/stations", json=[1]).status_code == 422
    assert http.post("/api/stations", content=b"{").status_code == 422
    assert (
        http.put("/api/stations/cs-0101", json={"name": "x", "time_zone": "Mars/Base"}).status_code
        == 422
    )

    compact = http.get("/api/stations/compact").json()
    assert compact["fields"][0] == "id"
    assert {row[0] for row in compact["stations"]} >= {"cs-0001", "cs-0100", "cs-0101"}

    assert http.delete("/api/stations/cs-0101").status_code == 204
    gone = http.get("/api/stations/cs-0101")
    assert gone.status_code == 404 and gone.json() == {"detail": "no station 'cs-0101'"}
    assert http.delete("/api/stations/cs-0101").status_code == 404
    assert http.get("/api/nowhere").status_code == 404


def test_import_csv_and_geojson_with_row_errors(any_central: RunningCentral) -> None:
    http = any_central.http
    good = (
        "id,name,lat,lon,capacity,opening_hours,amenities,zones,doors,gateways\n"
        "cs-0201,芙蓉路驿站,28.19,112.98,12,,water;charging,rest:10;sleeping:4,main;back:rest:beams,gw-1\n"
        "cs-0202,天心阁驿站,28.18,112.97,8,20:00-08:00,microwave,,,\n"
    ).encode()
    ok = http.post("/api/stations/import", content=good, headers={"content-type": "text/csv"})
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"imported": 2, "created": 2}
    doors = http.get("/api/stations/cs-0201").json()["doors"]
    assert {d["id"]: d["beams"] for d in doors} == {"back": True, "main": False}

    bad = (
        "id,name,lat,lon,capacity,amenities\n"
        "cs-0301,好,28.1,112.9,5,water\n"
        "cs-0302,,91,112.9,-1,sauna\n"
        "cs-0301,重复,28.1,112.9,5,\n"
    ).encode()
    refused = http.post("/api/stations/import", content=bad, headers={"content-type": "text/csv"})
    assert refused.status_code == 422
    problems = refused.json()["errors"]
    assert {(p["row"], p["field"]) for p in problems} >= {
        (3, "name"),
        (3, "lat"),
        (3, "capacity"),
        (3, "amenities.0"),
        (4, "id"),
    }
    assert http.get("/api/stations/cs-0301").status_code == 404, "nothing imported"

    geo: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [112.95, 28.2]},
                "properties": {"id": "cs-0401", "name": "湘江驿站", "capacity": 4},
            }
        ],
    }
    geo_ok = http.post(
        "/api/stations/import",
        content=json.dumps(geo).encode(),
        headers={"content-type": "application/geo+json"},
    )
    assert geo_ok.status_code == 200, geo_ok.text
    station = http.get("/api/stations/cs-0401").json()
    assert (station["lat"], station["lon"]) == (28.2, 112.95)
    geo["features"].append({"type": "Feature", "geometry": {"type": "Line"}, "properties": {}})
    geo_bad = http.post(
        "/api/stations/import",
        content=json.dumps(geo).encode(),
        headers={"content-type": "application/geo+json"},
    )
    assert geo_bad.status_code == 422
    assert geo_bad.json()["errors"] == [
        {"row": 2, "field": "geometry", "problem": "must be a Point [lon, lat]"}
    ]
    wrong = http.post("/api/stations/import", content=b"x", headers={"content-type": "text/xml"})
    assert wrong.status_code == 415


def test_occupancy_entries_and_corrections(any_central: RunningCentral, probe: MqttProbe) -> None:
    http = any_central.http
    gw = Gateway(probe)
    for _ in range(3):
        gw.access("in")
    gw.access("in", decision="denied", worker="w2002")
    gw.access("in", door="dorm", worker="w3003")
    gw.access("out")
    wait_until(lambda: any_central.service.store.event_count() == 6, 10, "six events stored")
    occupancy = http.get("/api/stations/cs-0001/occupancy").json()
    assert occupancy["occupancy"] == 3
    assert {z["zone"]: z["occupancy"] for z in occupancy["zones"]} == {"rest": 2, "sleeping": 1}

    corrected = http.put(
        "/api/stations/cs-0001/occupancy",
        # A name in the body is ignored: who corrects is who is logged in.
        json={"zone": "rest", "count": 0, "by": "someone-else", "reason": "walked through"},
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["occupancy"] == 1
    (audit,) = http.get("/api/stations/cs-0001/occupancy/corrections").json()
    assert (audit["before"], audit["after"], audit["by"]) == (2, 0, any_central.operator)
    assert (
        http.put(
            "/api/stations/cs-0001/occupancy", json={"zone": "showers", "count": 1, "by": "x"}
        ).status_code
        == 422
    )
    assert (
        http.put("/api/stations/cs-0009/occupancy", json={"count": 1, "by": "x"}).status_code == 404
    )
    assert http.put("/api/stations/cs-0001/occupancy", json={"count": -1}).status_code == 422
    every = {o["station_id"]: o["occupancy"] for o in http.get("/api/occupancy").json()}
    assert every["cs-0001"] == 1

    # Entries: filters, pages that follow each other, CSV.
    denied = http.get("/api/entries", params={"decision": "denied"}).json()
    assert [e["worker_id"] for e in denied] == ["w2002"]
    assert len(http.get("/api/entries", params={"door_id": "dorm"}).json()) == 1
    first = http.get("/api/entries", params={"limit": 4})
    cursor = first.headers["X-Next-Cursor"]
    second = http.get("/api/entries", params={"limit": 4, "cursor": cursor})
    assert "X-Next-Cursor" not in second.headers
    ids = [e["event_id"] for e in first.json() + second.json()]
    assert len(ids) == len(set(ids)) == 6
    bad_cursor = http.get("/api/entries", params={"cursor": "bm9wZQ"})
    assert bad_cursor.status_code == 422 and bad_cursor.json()["detail"]
    assert http.get("/api/entries", params={"since": "yesterday"}).status_code == 422
    assert http.get("/api/entries", params={"since": "2020-01-01T00:00:00"}).status_code == 422
    later = http.get("/api/entries", params={"since": "2999-01-01T00:00:00Z"}).json()
    assert later == []
    exported = http.get("/api/entries.csv", params={"station_id": "cs-0001"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 6 and {r["event_id"] for r in rows} == set(ids)


def test_alert_lifecycle_and_gateways(any_central: RunningCentral, probe: MqttProbe) -> None:
    http = any_central.http
    gw = Gateway(probe)
    gw.availability(True)
    gw.alarm("forced", True)

    def forced() -> list[dict[str, object]]:
        return [a for a in http.get("/api/alerts").json() if a["kind"] == "forced"]

    (alert,) = wait_until(forced, 10, "forced-door alert")
    assert (alert["status"], alert["subject"]) == ("open", "main")
    # Who acts is who is logged in; a name in the body (older clients sent one) is ignored.
    acked = http.post(f"/api/alerts/{alert['id']}/acknowledge", json={"by": "someone-else"})
    assert acked.status_code == 200
    assert (acked.json()["status"], acked.json()["acknowledged_by"]) == (
        "acknowledged",
        any_central.operator,
    )
    done = http.post(f"/api/alerts/{alert['id']}/resolve")
    assert done.json()["resolved_by"] == any_central.operator and done.json()["resolved_at"]
    twice = http.post(f"/api/alerts/{alert['id']}/resolve", json={})
    assert twice.status_code == 409 and "already resolved" in twice.json()["detail"]
    assert http.post("/api/alerts/999999/acknowledge").status_code == 404
    too_long = http.post(f"/api/alerts/{alert['id']}/acknowledge", json={"note": "x" * 501})
    assert too_long.status_code == 422
    assert http.get(f"/api/alerts/{alert['id']}").json()["status"] == "resolved"
    history = http.get("/api/alerts", params={"status": "resolved"}).json()
    assert [a["id"] for a in history] == [alert["id"]]
    assert http.get("/api/alerts", params={"kind": "meteor"}).status_code == 422

    gateways = http.get("/api/gateways").json()
    gw1 = next(g for g in gateways if g["gateway_id"] == "gw-1")
    assert gw1["online"] is True and gw1["last_seen"]
    assert http.get("/api/gateways", params={"station_id": "cs-0002"}).json() == []


def test_health_quarantine_and_metrics(any_central: RunningCentral, probe: MqttProbe) -> None:
    http = any_central.http
    probe.publish("yz/v1/st/cs-0001/gw/gw-1/event/access", b"{nope")
    gw = Gateway(probe)
    gw.access("in")
    wait_until(lambda: any_central.service.store.event_count() == 1, 10, "event stored")
    wait_until(lambda: http.get("/api/quarantine").json(), 10, "quarantined")
    assert http.get("/healthz").json()["status"] == "ok"
    text = http.get("/metrics").text
    assert "yizhan_events_stored_total 1.0" in text
    assert 'yizhan_messages_quarantined_total{code="bad_json"} 1.0' in text
    assert 'yizhan_stations{state="online"}' in text
    assert "yizhan_people_present 1.0" in text


def test_the_api_docs_and_the_operator_pages_are_served(any_central: RunningCentral) -> None:
    http = any_central.http
    schema = http.get("/openapi.json").json()
    assert "/api/stations" in schema["paths"] and "/api/workers" in schema["paths"]
    # The document says what the service does: who must log in, and the errors it sends.
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    listing = schema["paths"]["/api/stations"]["get"]
    assert {"bearer"} in [set(way) for way in listing["security"]]
    assert "security" not in schema["paths"]["/feed/gbfs.json"]["get"]
    create = schema["paths"]["/api/stations"]["post"]
    assert set(create["responses"]) >= {"201", "401", "403", "409", "422"}
    assert create["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert "requestBody" in create and "Data" not in str(create["requestBody"])
    geojson = schema["paths"]["/feed/stations.geojson"]["get"]["responses"]["200"]
    assert "application/geo+json" in geojson["content"]
    # A path's every method is named, not only the first route's (Starlette's own answer).
    allowed = http.request("OPTIONS", "/api/stations/cs-0001")
    assert allowed.status_code == 405
    assert allowed.headers["allow"] == "DELETE, GET, HEAD, PUT"
    page = http.get("/docs")
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert "/static/pages/stations.js" in http.get("/").text
    stations_js = http.get("/static/pages/stations.js").text
    assert 'fetch("/api/stations")' in stations_js, "the index page reads the stations"
    moved = http.get("/ui", follow_redirects=False)
    assert moved.status_code in (302, 307) and moved.headers["location"] == "/ui/"
    assert "<html" in http.get("/ui/").text.lower()
    assert set(http.get("/ui/config.json").json()) >= {"tile_url"}
    catalogue = http.get("/ui/i18n/en.json").json()
    assert isinstance(catalogue, dict) and catalogue
    assert http.get("/ui/i18n/xx.json").status_code == 404


def test_text_with_a_nul_character_is_refused_before_it_is_stored(
    any_central: RunningCentral,
) -> None:
    http = any_central.http
    for answer in (
        http.post("/api/stations", json={"id": "cs-0500", "name": "a\u0000b"}),
        http.post(
            "/api/stations/import",
            content=b"id,name\ncs-0500,a\x00b\n",
            headers={"content-type": "text/csv"},
        ),
        http.get("/api/entries", params={"station_id": "cs\u00000001"}),
        http.get("/api/stations/cs%000001"),
    ):
        assert answer.status_code == 422, answer.text
        assert "NUL" in answer.json()["detail"]
    assert http.get("/api/stations/cs-0500").status_code == 404, "nothing was stored"
    # An escaped backslash before `u0000` is text like any other.
    literal = http.post("/api/stations", json={"id": "cs-0501", "name": "a\\u0000b"})
    assert literal.status_code == 201 and literal.json()["name"] == "a\\u0000b"
