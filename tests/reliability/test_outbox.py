"""The gateway's SQLite outbox: durable, ordered, numbered across restarts, bounded, and
emptied only as far as the central says it has stored."""

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
    box.sent(rows[0].id)
    box.sent(rows[1].id)
    assert box.confirm(2)
    box.append(event(6))
    assert box.flush(5)
    box.close()

    again = outbox(tmp_path / "o.db")
    assert again.next_seq == 7
    rows, last = again.pending(0, 100)
    assert [r.seq for r in rows] == [3, 4, 5, 6]
    assert last == rows[-1].id
    assert (again.stats().pending, again.confirmed_seq) == (4, 2)
    again.close()


def test_a_batch_is_one_transaction(tmp_path: Path) -> None:
    box = outbox(tmp_path / "o.db", batch_window_s=0.2)
    for seq in range(1, 201):
        box.append(event(seq))
    assert box.flush(5)
    assert box.stats().committed_batches <= 2
    box.close()


def test_rows_the_broker_took_are_handed_out_again_only_when_asked(tmp_path: Path) -> None:
    box = outbox(tmp_path / "o.db", batch_window_s=1.0)
    box.append(event(1))
    box.append(event(2))
    assert box.flush(5)
    rows, _ = box.pending(0, 10)
    box.sent(rows[0].id)
    # Before the commit that marks it sent, and after it.
    for _ in range(2):
        again, last = box.pending(0, 10)
        assert [r.seq for r in again] == [2]
        assert last == rows[1].id
        everything, _ = box.pending(0, 10, include_sent=True)
        assert [r.seq for r in everything] == [1, 2]
        assert box.flush(5)
    assert box.unconfirmed == 1
    box.close()


def test_the_broker_taking_a_row_keeps_it_until_the_central_confirms(tmp_path: Path) -> None:
    box = outbox(tmp_path / "o.db")
    for seq in range(1, 6):
        box.append(event(seq))
    assert box.flush(5)
    rows, _ = box.pending(0, 10)
    for row in rows:
        box.sent(row.id)
    assert box.flush(5)
    assert (box.stats().pending, box.unconfirmed) == (5, 5)
    assert box.confirm(3)
    assert not box.confirm(3), "the same mark again is no news"
    assert not box.confirm(2), "an older mark is no news"
    # Confirmed rows are not handed out even before the commit deletes them.
    left, _ = box.pending(0, 10, include_sent=True)
    assert [r.seq for r in left] == [4, 5]
    assert box.flush(5)
    assert (box.stats().pending, box.unconfirmed, box.stats().confirmed_seq) == (2, 2, 3)
    box.close()
    with sqlite3.connect(tmp_path / "o.db") as db:
        assert [r[0] for r in db.execute("SELECT seq FROM outbox ORDER BY seq")] == [4, 5]


def test_a_mark_beyond_every_number_given_out_deletes_nothing(tmp_path: Path) -> None:
    # A gateway whose outbox was replaced numbers from 1 again; the broker may still hold
    # the central's mark for the old numbering.
    box = outbox(tmp_path / "o.db")
    for seq in range(1, 4):
        box.append(event(seq))
    assert box.flush(5)
    assert not box.confirm(500)
    assert box.flush(5)
    assert box.stats().pending == 3 and box.confirmed_seq is None
    box.close()


def test_an_outbox_file_from_before_marks_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    with sqlite3.connect(path) as old:
        old.executescript(
            """
            CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL,
                kind TEXT NOT NULL, priority INTEGER NOT NULL, topic TEXT NOT NULL,
                payload BLOB NOT NULL, size INTEGER NOT NULL);
            CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT INTO outbox (seq, kind, priority, topic, payload, size)
                VALUES (7, 'access', 2, 'yz/v1/st/s/gw/g/event/access', x'7b7d', 100);
            INSERT INTO state VALUES ('next_seq', 8);
            """
        )
    box = outbox(path)
    rows, _ = box.pending(0, 10)
    assert [r.seq for r in rows] == [7]
    assert (box.next_seq, box.unconfirmed, box.confirmed_seq) == (8, 0, None)
    box.sent(rows[0].id)
    assert box.confirm(7)
    assert box.flush(5)
    assert box.stats().pending == 0
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


def overflow_after_sending(tmp_path: Path, mark: int | None) -> tuple[Outbox, list[DropSummary]]:
    """20 access events the broker took (and the central confirmed up to `mark`), then 20
    it has not: together over a ~10 KiB ceiling."""
    reports: list[DropSummary] = []

    def report(summary: DropSummary) -> PendingEvent:
        reports.append(summary)
        return event(10_000 + len(reports), "dropped", 10)

    box = Outbox(OutboxSettings(path=tmp_path / "o.db", max_mb=0.01, batch_window_s=0.01), report)
    box.start()
    for seq in range(1, 21):
        box.append(event(seq, "access", 200))
    assert box.flush(5)
    rows, _ = box.pending(0, 100)
    for row in rows:
        box.sent(row.id)
    if mark is not None:
        assert box.confirm(mark)
    assert box.flush(5)
    for seq in range(21, 41):
        box.append(event(seq, "access", 200))
    assert box.flush(5)
    return box, reports


def test_with_no_central_confirming_the_ceiling_lets_go_of_what_the_broker_took(
    tmp_path: Path,
) -> None:
    # An older central never publishes marks: what the broker took is all the delivery
    # there is, so it goes first and unreported, and nothing else is dropped.
    box, reports = overflow_after_sending(tmp_path, mark=None)
    assert not reports, "delivered events were reported dropped"
    rows, _ = box.pending(0, 1000, include_sent=True)
    kept = [r.seq for r in rows]
    assert set(range(21, 41)) <= set(kept), "an event the broker never had was dropped"
    released = sorted(set(range(1, 21)) - set(kept))
    assert released and released == list(range(1, len(released) + 1)), "oldest first"
    assert box.stats().bytes <= box.max_bytes
    assert box.unconfirmed == 20 - len(released)
    box.close()


def test_once_a_central_confirms_what_the_broker_took_is_dropped_only_with_a_report(
    tmp_path: Path,
) -> None:
    box, reports = overflow_after_sending(tmp_path, mark=1)
    assert reports, "events the central lacks were deleted without a drop report"
    dropped = sorted(s for r in reports for a, b in r.seq_ranges for s in range(a, b + 1))
    assert dropped == list(range(2, 2 + len(dropped))), "oldest access events go first"
    rows, _ = box.pending(0, 1000, include_sent=True)
    kept = {r.seq for r in rows if r.seq < 10_000}
    assert kept | set(dropped) == set(range(2, 41)), "an event vanished without a report"
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
