"""The gateway's SQLite outbox: durable, ordered, numbered across restarts, bounded."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from contract.codec import Decoded, decode
from contract.payloads import DropReport
from contract.topics import event_topic, gateway_topic
from gateway import wire_events
from gateway.config import GatewaySettings, OutboxSettings
from gateway.events import EventStamper
from gateway.outbox import DropSummary, Outbox, PendingEvent, priority_of
from gateway.uplink import Uplink
from servicekit.mqtt_link import Retained


def event(seq: int, kind: str = "access", size: int = 100) -> PendingEvent:
    return PendingEvent(seq, kind, f"yz/v1/st/s/gw/g/event/{kind}", b"x" * size)


def outbox(path: Path | None, **overrides: object) -> Outbox:
    settings = OutboxSettings.model_validate({"path": path, "batch_window_s": 0.01, **overrides})
    box = Outbox(settings)
    box.start()
    return box


def test_events_survive_a_reopen_in_order_and_numbering_goes_on(tmp_path: Path) -> None:
    box = outbox(tmp_path / "o.db")
    for seq in range(1, 6):
        box.append(event(seq))
    assert box.flush(5)
    rows, _ = box.pending(0, 100)
    box.acked(rows[0].id)
    box.acked(rows[1].id)
    box.append(event(6))
    assert box.flush(5)
    box.close()

    again = outbox(tmp_path / "o.db")
    assert again.next_seq == 7
    rows, last = again.pending(0, 100)
    assert [r.seq for r in rows] == [3, 4, 5, 6]
    assert last == rows[-1].id
    assert again.stats().pending == 4
    again.close()


def test_a_batch_is_one_transaction(tmp_path: Path) -> None:
    box = outbox(tmp_path / "o.db", batch_window_s=0.2)
    for seq in range(1, 201):
        box.append(event(seq))
    assert box.flush(5)
    assert box.stats().committed_batches <= 2
    box.close()


def test_acked_but_not_yet_deleted_rows_are_not_handed_out_again(tmp_path: Path) -> None:
    box = outbox(tmp_path / "o.db", batch_window_s=1.0)
    box.append(event(1))
    box.append(event(2))
    assert box.flush(5)
    rows, _ = box.pending(0, 10)
    box.acked(rows[0].id)
    again, last = box.pending(0, 10)
    assert [r.seq for r in again] == [2]
    assert last == rows[1].id
    box.close()


def test_ceiling_drops_telemetry_first_and_reports_every_drop(tmp_path: Path) -> None:
    reports: list[DropSummary] = []

    def report(summary: DropSummary) -> PendingEvent:
        reports.append(summary)
        return event(1000 + len(reports), "dropped", 50)

    box = Outbox(OutboxSettings(path=tmp_path / "o.db", max_mb=0.01, batch_window_s=0.01), report)
    box.start()
    # ~10 KiB ceiling: 20 access + 40 presence events of ~300 bytes do not fit.
    for seq in range(1, 61):
        box.append(event(seq, "access" if seq % 3 == 1 else "presence", 200))
    assert box.flush(5)
    assert reports, "the outbox went over its ceiling without a drop report"
    dropped_kinds = sum((r.kinds for r in reports), start=Counter[str]())
    assert set(dropped_kinds) == {"presence"}, "access was dropped while telemetry was left"
    rows, _ = box.pending(0, 1000)
    kept = {r.seq for r in rows}
    dropped = {s for r in reports for a, b in r.seq_ranges for s in range(a, b + 1)}
    assert kept.isdisjoint(dropped)
    assert kept | dropped >= set(range(1, 61)), "an event vanished without being reported"
    assert all(s in kept for s in range(1, 61, 3)), "every access event is kept"
    assert box.stats().bytes <= box.max_bytes
    assert box.stats().dropped == sum(r.count for r in reports)
    box.close()


def test_access_goes_only_when_nothing_else_is_left(tmp_path: Path) -> None:
    reports: list[DropSummary] = []

    def report(summary: DropSummary) -> PendingEvent:
        reports.append(summary)
        return event(10_000 + len(reports), "dropped", 10)

    box = Outbox(OutboxSettings(path=tmp_path / "o.db", max_mb=0.005, batch_window_s=0), report)
    box.start()
    for seq in range(1, 41):
        box.append(event(seq, "access", 200))
        assert box.flush(5)
    assert reports
    dropped = [s for r in reports for a, b in r.seq_ranges for s in range(a, b + 1)]
    assert dropped == sorted(dropped) and dropped[0] == 1, "oldest access events go first"
    box.close()


def test_the_uplink_reports_what_its_outbox_dropped_as_a_dropped_event(tmp_path: Path) -> None:
    settings = GatewaySettings(
        station_id="cs-0001",
        gateway_id="gw-1",
        outbox=OutboxSettings(path=tmp_path / "o.db", max_mb=0.01, batch_window_s=0.01),
        state_dir=tmp_path,
    )
    box = Outbox(settings.outbox)
    stamper = EventStamper("cs-0001", "gw-1", first_seq=box.next_seq)
    offline = Retained(gateway_topic("cs-0001", "gw-1", "availability"), b"{}")
    # Never started: nothing drains the outbox, so the radar's chatter overflows it.
    uplink = Uplink(settings, box, stamper, lambda _: None, offline, lambda: offline, [])
    box.start()
    for n in range(60):
        uplink.send(stamper.stamp(wire_events.presence("radar-1", "hall", n % 2 == 0)))
    assert box.flush(5)
    rows, _ = box.pending(0, 1000)
    box.close()
    topic = event_topic("cs-0001", "gw-1", "dropped")
    reports = [decode(row.topic, row.payload) for row in rows if row.topic == topic]
    assert reports, "the outbox went over its ceiling without a drop report"
    assert all(isinstance(r, Decoded) and isinstance(r.payload, DropReport) for r in reports)
    dropped = {
        seq
        for r in reports
        if isinstance(r, Decoded) and isinstance(r.payload, DropReport)
        for first, last in r.payload.seq_ranges
        for seq in range(first, last + 1)
    }
    kept = {row.seq for row in rows if row.topic != topic}
    assert dropped and kept.isdisjoint(dropped)
    assert kept | dropped >= set(range(1, 61)), "an event vanished without being reported"


def test_priorities() -> None:
    assert priority_of("presence") < priority_of("door") < priority_of("access")
    assert priority_of("alarm") == priority_of("access") < priority_of("dropped")


def test_kill_loses_nothing_committed(tmp_path: Path) -> None:
    # Committed means on disk: a second connection (another process) sees it at once.
    box = outbox(tmp_path / "o.db")
    for seq in range(1, 11):
        box.append(event(seq))
    assert box.flush(5)
    with sqlite3.connect(tmp_path / "o.db") as other:
        assert other.execute("SELECT count(*) FROM outbox").fetchone()[0] == 10
        assert other.execute("SELECT value FROM state WHERE key='next_seq'").fetchone()[0] == 11
    box.close()


def test_a_closed_outbox_refuses_appends(tmp_path: Path) -> None:
    box = outbox(None)
    box.close()
    with pytest.raises(RuntimeError):
        box.append(event(1))
