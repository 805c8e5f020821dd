"""The central tracks each gateway's sequence numbers and alerts on gaps that stay open,
including a hole at the tail that only the gateway's health report reveals, and reads how
far each gateway is stored without a hole (the mark it publishes to the gateway).

Batches go through the ingest writer's unit of work and time through the periodic check
the running central calls; the last test drives both through the broker and watches the
alert open and resolve on the live stream.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.maintenance_payloads import Health
from contract.payloads import AccessEvent, Availability, DropReport, EventPayload, utc_now
from contract.topics import event_topic
from dashboard.core.changes import AlertThresholds, BatchResult
from dashboard.core.config import AlertSettings
from dashboard.core.sequence_gaps import (
    Advance,
    advance,
    gap_detail,
    ranges_of,
    reach,
    remove,
    stored_through,
    subtract,
)
from dashboard.ingest import batch
from dashboard.ingest.checks import run_checks
from dashboard.storage import sequences, stations
from dashboard.storage.db import Database
from dashboard.storage.migrations import open_database
from tests.central.conftest import STATIONS, central_settings
from tests.central.test_live import next_of, stream
from tests.support.mosquitto import MosquittoBroker
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral, run_central

GAP_AFTER_S = 300.0
# Gateways stay online through the checks below, so that only gap alerts come and go.
THRESHOLDS = AlertThresholds(gap_after_s=GAP_AFTER_S, offline_after_s=10 * GAP_AFTER_S)


def access(seq: int, gateway: str = "gw-1") -> AccessEvent:
    return AccessEvent(
        station_id="cs-0001",
        gateway_id=gateway,
        seq=seq,
        at=utc_now(),
        door_id="main",
        direction="in",
        credential="qr",
        decision="denied",
        reason="unknown_credential",
    )


def test_the_rules_of_gaps() -> None:
    assert advance(None, [7, 8]) == Advance(8, [], []), "the first number is the baseline"
    assert advance(8, [9, 12, 10, 15, 3]) == Advance(15, [(11, 11), (13, 14)], [3])
    assert advance(8, [8]) == Advance(8, [], [8]), "a number seen again may fill an old gap"
    assert advance(None, []) == Advance(None, [], [])
    assert subtract((3, 9), (5, 6)) == [(3, 4), (7, 9)]
    assert subtract((3, 9), (1, 3)) == [(4, 9)]
    assert subtract((3, 9), (2, 12)) == []
    assert gap_detail("cs-1", "gw-1", [(3, 3), (5, 8)], 300) == (
        "5 event(s) from cs-1/gw-1 missing for over 300 s: seq 3, 5-8"
    )


def test_the_rules_of_the_tail_and_the_mark() -> None:
    step = advance(8, [9, 12])
    assert reach(step, 15) == Advance(15, [(10, 11), (13, 15)], []), "the tail is missing"
    assert reach(step, 12) == step and reach(step, 3) == step, "nothing new"
    assert reach(Advance(None, [], []), 40) == Advance(None, [], []), "no baseline, no tail"
    assert stored_through(15, None) == 15
    assert stored_through(15, 10) == 9
    assert ranges_of([9, 3, 5, 4, 4]) == [(3, 5), (9, 9)]
    assert ranges_of([]) == []
    assert remove((3, 20), [(1, 4), (8, 9), (30, 40), (19, 25)]) == [(5, 7), (10, 18)]
    assert remove((3, 9), [(20, 30)]) == [(3, 9)]


@pytest.fixture()
def database(database_url: str) -> Iterator[Database]:
    opened = open_database(database_url)
    yield opened
    opened.close()


def record(database: Database, *events: EventPayload) -> BatchResult:
    """A batch, as the ingest writer stores it."""
    return batch.record(database, THRESHOLDS, events)


def check_later(database: Database, seconds: float) -> BatchResult:
    """The periodic check, run as if `seconds` had passed."""
    return run_checks(database, THRESHOLDS, time.time() + seconds)


def missing(database: Database) -> list[tuple[str, int, int]]:
    with database.connection() as db:
        rows = db.execute("SELECT gateway_id, first, last FROM seq_missing ORDER BY first")
        return [(r[0], r[1], r[2]) for r in rows]


def test_gaps_open_fill_and_alert_only_when_old(database: Database) -> None:
    record(database, access(1), access(2), access(6), access(9))
    assert missing(database) == [("gw-1", 3, 5), ("gw-1", 7, 8)]
    assert check_later(database, GAP_AFTER_S / 2).alerts == []
    record(database, access(4), access(7))
    assert missing(database) == [("gw-1", 3, 3), ("gw-1", 5, 5), ("gw-1", 8, 8)]

    (opened,) = check_later(database, GAP_AFTER_S + 1).alerts
    assert (opened.kind, opened.status, opened.gateway_id) == ("seq_gap", "open", "gw-1")
    assert "seq 3, 5, 8" in opened.detail
    assert check_later(database, GAP_AFTER_S + 2).alerts == [], "one alert per gateway"

    assert record(database, access(3), access(5)).alerts == [], "open while 8 is missing"
    (resolved,) = record(database, access(8)).alerts
    assert (resolved.id, resolved.kind, resolved.status) == (opened.id, "seq_gap", "resolved")
    assert missing(database) == []


def test_the_gap_check_waits_for_a_batch_that_fills_the_gap(database: Database) -> None:
    """A batch read a missing range and is storing its event when the gap check, running
    elsewhere, finds the same range overdue: the check waits for the batch and then finds
    nothing missing, instead of putting an alert on a range the batch replaces (an alert
    that nothing would resolve)."""
    record(database, access(1), access(3))
    checked: list[BatchResult] = []
    with database.transaction() as db:
        # A batch of another replica, midway: it holds the station and has read the range.
        stations.lock(db, {"cs-0001"})
        sequences.forget(db, {("cs-0001", "gw-1"): [(2, 2)]})
        check = threading.Thread(
            target=lambda: checked.append(check_later(database, GAP_AFTER_S + 1)), daemon=True
        )
        check.start()
        check.join(0.5)
        assert not checked, "the check did not wait for the batch holding the station"
    check.join(10)
    assert [a.kind for a in checked[0].alerts] == []
    assert missing(database) == []
    with database.connection() as db:
        assert (
            db.execute("SELECT count(*) FROM alerts WHERE resolved_at IS NULL").fetchone()[0] == 0
        )


def test_a_gap_noticed_after_the_alert_joins_it(database: Database) -> None:
    record(database, access(1), access(3))
    (opened,) = check_later(database, GAP_AFTER_S + 1).alerts
    record(database, access(5))
    assert check_later(database, GAP_AFTER_S + 1).alerts == [], "the open alert takes it"
    assert record(database, access(2)).alerts == [], "seq 4 is still missing"
    (resolved,) = record(database, access(4)).alerts
    assert (resolved.id, resolved.status) == (opened.id, "resolved")


def test_out_of_order_within_one_batch_leaves_no_gap(database: Database) -> None:
    record(database, access(1))
    result = record(database, access(4), access(2), access(3), access(6))
    assert missing(database) == [("gw-1", 5, 5)]
    assert result.stored == 4


def test_a_drop_report_closes_the_gaps_it_names(database: Database) -> None:
    record(database, access(1), access(4), access(8))
    (opened,) = check_later(database, GAP_AFTER_S + 1).alerts
    report = DropReport(
        station_id="cs-0001",
        gateway_id="gw-1",
        seq=9,
        at=utc_now(),
        count=3,
        kinds={"presence": 3},
        seq_ranges=[(2, 3), (5, 6)],
    )
    assert record(database, report).alerts == [], "seq 7 is still missing"
    assert missing(database) == [("gw-1", 7, 7)]
    dropped_too = report.model_copy(
        update={"event_id": "drop-2", "seq": 10, "seq_ranges": [(7, 7)]}
    )
    (resolved,) = record(database, dropped_too).alerts
    assert (resolved.id, resolved.status) == (opened.id, "resolved")
    assert missing(database) == []


def test_gateways_are_tracked_apart_and_the_first_seq_is_the_baseline(
    database: Database,
) -> None:
    record(database, access(500, "gw-2"), access(1, "gw-1"), access(501, "gw-2"))
    assert missing(database) == []
    record(database, access(3, "gw-1"))
    assert missing(database) == [("gw-1", 2, 2)]


def health(last_seq: int | None, gateway: str = "gw-1") -> Health:
    return Health(
        station_id="cs-0001",
        gateway_id=gateway,
        at=utc_now(),
        version="0.1.0",
        uptime_s=1.0,
        outbox_depth=0,
        occupancy=0,
        last_seq=last_seq,
    )


def record_any(database: Database, *messages: batch.Message) -> BatchResult:
    return batch.record(database, THRESHOLDS, messages)


def test_a_health_report_reveals_a_hole_at_the_tail(database: Database) -> None:
    record(database, *(access(seq) for seq in range(1, 11)))
    # The last events before a crash never arrived; no later event says so, the
    # gateway's report of how far it has numbered does.
    assert record_any(database, health(15)).stored_marks == {}
    assert missing(database) == [("gw-1", 11, 15)]
    (opened,) = check_later(database, GAP_AFTER_S + 1).alerts
    assert (opened.kind, opened.gateway_id) == ("seq_gap", "gw-1")
    assert "5 event(s)" in opened.detail and "seq 11-15" in opened.detail
    # An older report (the broker's retained copy) and one without the field change nothing.
    record_any(database, health(12), health(None))
    assert missing(database) == [("gw-1", 11, 15)]
    # Redelivered in order: late arrivals fill the tail, and the alert resolves.
    result = record(database, *(access(seq) for seq in range(11, 16)))
    assert [(a.id, a.status) for a in result.alerts] == [(opened.id, "resolved")]
    assert missing(database) == []
    assert result.stored_marks == {("cs-0001", "gw-1"): 15}


def test_a_report_before_any_event_sets_no_baseline(database: Database) -> None:
    record_any(database, health(40))
    record(database, access(41))
    assert missing(database) == []


def test_the_mark_stops_below_the_lowest_missing_number(database: Database) -> None:
    key = ("cs-0001", "gw-1")
    assert record(database, access(1), access(2), access(3)).stored_marks == {key: 3}
    fifth = access(5)
    assert record(database, fifth, access(6)).stored_marks == {key: 3}, "4 is missing"
    # A duplicate or a birth asks again: the gateway may have missed its mark.
    again = record(database, fifth)
    assert (again.stored, again.duplicates, again.stored_marks) == (0, 1, {key: 3})
    birth = Availability(station_id="cs-0001", gateway_id="gw-1", online=True, at=utc_now())
    assert record_any(database, birth).stored_marks == {key: 3}
    assert record(database, access(4)).stored_marks == {key: 6}
    report = DropReport(
        station_id="cs-0001",
        gateway_id="gw-1",
        seq=10,
        at=utc_now(),
        count=3,
        kinds={"presence": 3},
        seq_ranges=[(7, 9)],
    )
    assert record(database, report).stored_marks == {key: 10}, "reported drops count"
    other = record(database, access(1, "gw-2"), access(2, "gw-2"))
    assert other.stored_marks == {("cs-0001", "gw-2"): 2}, "only the gateways heard from"


def test_the_marks_a_batch_works_out_are_the_marks_the_tables_hold(
    database: Database,
) -> None:
    # The batch derives each mark from what tracking the sequences read and wrote; a
    # fresh read of the tables after the commit must agree, whatever the mix: gaps,
    # late and duplicate events, reported drops, tails announced by health reports.
    rng = random.Random(17)
    gateways = ["gw-1", "gw-2", "gw-3"]
    sent: dict[str, list[EventPayload]] = {g: [] for g in gateways}
    withheld: dict[str, list[EventPayload]] = {g: [] for g in gateways}
    numbered = dict.fromkeys(gateways, 0)
    moved = 0
    for _ in range(80):
        messages: list[batch.Message] = []
        for gateway in rng.sample(gateways, rng.randint(1, 3)):
            for _ in range(rng.randint(0, 6)):
                numbered[gateway] += 1
                event = access(numbered[gateway], gateway)
                sent[gateway].append(event)
                # The rest is missing until redelivered or reported dropped.
                (messages if rng.random() < 0.7 else withheld[gateway]).append(event)
            late = withheld[gateway]
            if late and rng.random() < 0.5:
                messages.append(late.pop(rng.choice([0, -1])))  # the lowest, or any
            if sent[gateway] and rng.random() < 0.2:
                messages.append(rng.choice(sent[gateway]))  # a duplicate, or late
            if rng.random() < 0.1:
                messages.append(health(numbered[gateway] + rng.randint(0, 3), gateway))
            if late and rng.random() < 0.15:
                numbered[gateway] += 1
                gone = late.pop(0).seq
                messages.append(
                    DropReport(
                        station_id="cs-0001",
                        gateway_id=gateway,
                        seq=numbered[gateway],
                        at=utc_now(),
                        count=1,
                        kinds={"access": 1},
                        seq_ranges=[(gone, gone)],
                    )
                )
        rng.shuffle(messages)
        before = dict(database_marks(database, gateways))
        result = record_any(database, *messages)
        asking = {(m.station_id, m.gateway_id) for m in messages if isinstance(m, EventPayload)}
        after = database_marks(database, gateways)
        assert result.stored_marks == {key: after[key] for key in asking if key in after}
        moved += sum(after[key] != before.get(key) for key in after)
    assert moved > 20, "the marks moved often, so a stale one would have shown"


def database_marks(database: Database, gateways: list[str]) -> dict[tuple[str, str], int]:
    with database.connection() as db:
        return sequences.stored_marks(db, [("cs-0001", g) for g in gateways])


@pytest.fixture()
def quick_gaps_central(
    tmp_path: Path, mosquitto: MosquittoBroker, database_url: str
) -> Iterator[RunningCentral]:
    """A central on each database that alerts on a gap after a second."""
    settings = central_settings(
        tmp_path,
        mosquitto.url,
        database_url,
        alerts=AlertSettings(check_interval_s=0.1, gap_after_s=1.0),
    )
    yield from run_central(settings, stations=STATIONS)


def test_a_filled_gap_is_resolved_on_the_live_stream_and_in_the_api(
    quick_gaps_central: RunningCentral, probe: MqttProbe
) -> None:
    central = quick_gaps_central
    # A gateway of this test alone: the broker is shared with other tests' centrals.
    gateway = f"gw-{uuid.uuid4().hex[:8]}"
    topic = event_topic("cs-0001", gateway, "access")

    def gap_alerts(**params: str) -> list[dict[str, object]]:
        return [
            a
            for a in central.http.get("/api/alerts", params=params).json()
            if a["gateway_id"] == gateway
        ]

    for events in stream(central, {}):
        for seq in (1, 2, 5):
            probe.publish(topic, access(seq, gateway).to_json())
        opened = next_of(events, "alert")
        while opened["gateway_id"] != gateway:
            opened = next_of(events, "alert")
        assert (opened["kind"], opened["status"]) == ("seq_gap", "open")
        assert "seq 3-4" in str(opened["detail"])
        assert [a["id"] for a in gap_alerts()] == [opened["id"]]

        for seq in (3, 4):
            probe.publish(topic, access(seq, gateway).to_json())
        resolved = next_of(events, "alert")
        while resolved["gateway_id"] != gateway:
            resolved = next_of(events, "alert")
        assert (resolved["id"], resolved["status"]) == (opened["id"], "resolved")

    # The live stream is fed after the commit: the API already says the same.
    assert gap_alerts() == []
    (kept,) = gap_alerts(include_resolved="true")
    assert kept["resolved_by"] == "system" and kept["resolved_at"] is not None
