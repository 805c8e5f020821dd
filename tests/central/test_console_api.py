"""The API behind the operator console: totals, named entries, a station found by its
name, the readable CSV and entries on the live stream; on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from contract.payloads import utc_now
from tests.central.support import Gateway
from tests.central.test_live import next_of, stream
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until
from tests.workers.support import enroll


def test_totals_names_and_a_station_found_by_its_chinese_name(
    any_central: RunningCentral, probe: MqttProbe
) -> None:
    http = any_central.http
    worker = enroll(http, display_name="李明")
    worker_id = worker["worker_id"]
    one, two = Gateway(probe, "cs-0001", "gw-1"), Gateway(probe, "cs-0002", "gw-9")
    one.access("in", worker=worker_id)
    one.access("in", decision="denied", reason="full", worker=worker_id)
    two.access("in", worker=None)
    # Two days ago: not today at any station.
    one.access("in", worker=worker_id, at=utc_now() - timedelta(days=2))
    wait_until(lambda: any_central.service.store.event_count() == 4, 10, "four events stored")

    totals = http.get("/api/overview").json()
    assert totals["entries_today"] == 2, "granted entries of the station day only"
    assert totals["inside"] == 3
    assert totals["stations_online"] + totals["stations_offline"] == 2
    assert totals["open_alerts"] == http.get("/api/alerts").json().__len__()
    assert totals["time_zones"] == ["Asia/Shanghai"]

    rows = http.get("/api/entries", params={"station": "五一"}).json()
    assert len(rows) == 3 and {r["station_id"] for r in rows} == {"cs-0001"}
    assert {r["station_name"] for r in rows} == {"五一广场驿站"}
    assert {r["worker_name"] for r in rows} == {"李明"}
    assert {r["time_zone"] for r in rows} == {"Asia/Shanghai"}
    # The id works too; a name no station has finds nothing (and says nothing is wrong).
    assert len(http.get("/api/entries", params={"station": "cs-0002"}).json()) == 1
    assert http.get("/api/entries", params={"station": "火星驿站"}).json() == []
    # LIKE's wildcards typed by an operator are plain characters.
    assert http.get("/api/entries", params={"station": "%"}).json() == []
    anonymous = http.get("/api/entries", params={"station_id": "cs-0002"}).json()[0]
    assert anonymous["worker_name"] is None and anonymous["station_name"] == "岳麓山驿站"

    answer = http.get("/api/entries.csv", params={"station": "五一", "lang": "zh-CN"})
    assert answer.status_code == 200
    assert answer.content.startswith(b"\xef\xbb\xbf"), "a BOM for Excel"
    table = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    header, first = table[0], table[1]
    assert header[:3] == ["时间", "时区", "驿站"]
    assert len(table) == 4
    newest = rows[0]
    assert first[-1] == newest["event_id"]
    assert first[2] == "五一广场驿站" and first[6] == "李明"
    assert first[9] in {"允许", "拒绝"} and first[5] == "进"
    # Station time: the UTC time moved to Shanghai's clock (eight hours ahead).
    assert first[0][11:13] == f"{(int(newest['at'][11:13]) + 8) % 24:02d}"
    english = http.get("/api/entries.csv", params={"station": "五一", "lang": "en"})
    assert english.content.decode("utf-8-sig").splitlines()[0].startswith("Time (station),")
    # Without a language: the machine's CSV as before, no BOM.
    plain = http.get("/api/entries.csv", params={"station_id": "cs-0001"})
    assert plain.text.splitlines()[0].startswith("event_id,")
    assert http.get("/api/entries.csv", params={"lang": "fr"}).status_code == 422


def test_entries_arrive_on_the_live_stream(any_central: RunningCentral, probe: MqttProbe) -> None:
    for events in stream(any_central, {"kinds": "entry"}):
        Gateway(probe, "cs-0002", "gw-9").access("in", decision="denied", reason="closed")
        entry = next_of(events, "entry")
        assert (entry["station_id"], entry["decision"], entry["reason"]) == (
            "cs-0002",
            "denied",
            "closed",
        )
        assert entry["worker_id"] == "w1001" and entry["at"].endswith("Z")
