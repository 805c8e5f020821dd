"""The gateway's pure parts: command freshness, event stamping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contract.payloads import AccessEvent, Command, DropReport, ReplyStatus
from gateway.commands import CommandGate
from gateway.events import EventStamper
from gateway.outbox import DropSummary
from gateway.wire_events import WireEvent, dropped

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def command(issued: datetime, ttl: float = 30, request_id: str = "r1") -> Command:
    return Command(
        request_id=request_id,
        station_id="cs-0001",
        gateway_id="gw-1",
        issued_at=issued,
        ttl_s=ttl,
        command="unlock",
    )


def test_a_fresh_command_is_admitted_once() -> None:
    gate = CommandGate()
    assert gate.admit(command(NOW), NOW + timedelta(seconds=1)).accepted
    replay = gate.admit(command(NOW), NOW + timedelta(seconds=2))
    assert (replay.accepted, replay.status) == (False, ReplyStatus.REPLAYED)


def test_an_expired_command_is_refused_and_says_by_how_much() -> None:
    verdict = CommandGate().admit(command(NOW, ttl=10), NOW + timedelta(hours=3))
    assert (verdict.accepted, verdict.status) == (False, ReplyStatus.EXPIRED)
    assert "expired 10790.0 s ago" in verdict.message


def test_a_command_from_the_future_is_refused() -> None:
    verdict = CommandGate().admit(command(NOW + timedelta(minutes=5)), NOW)
    assert (verdict.accepted, verdict.status) == (False, ReplyStatus.EXPIRED)


def test_the_gate_forgets_the_oldest_request_ids_beyond_its_memory() -> None:
    gate = CommandGate(remembered=2)
    for request_id in ("a", "b", "c"):
        assert gate.admit(command(NOW, request_id=request_id), NOW).accepted
    assert gate.admit(command(NOW, request_id="a"), NOW).accepted
    assert not gate.admit(command(NOW, request_id="c"), NOW).accepted


def test_events_are_numbered_without_gaps() -> None:
    stamper = EventStamper("cs-0001", "gw-1", clock=lambda: NOW)
    fields = {
        "door_id": "main",
        "direction": "in",
        "credential": "qr",
        "decision": "granted",
        "reason": "granted",
    }
    events = [stamper.stamp(WireEvent(AccessEvent, fields)) for _ in range(3)]
    assert [e.seq for e in events] == [1, 2, 3]
    assert len({e.event_id for e in events}) == 3
    assert all(e.at == NOW for e in events)


def test_an_overflowing_outbox_becomes_a_drop_report_naming_what_it_dropped() -> None:
    summary = DropSummary()
    for seq, kind in ((4, "presence"), (5, "presence"), (6, "door"), (9, "presence")):
        summary.add(seq, kind)
    event = EventStamper("cs-0001", "gw-1", clock=lambda: NOW, first_seq=10).stamp(dropped(summary))
    report = DropReport.model_validate_json(event.to_json())
    assert (report.seq, report.count, report.kinds, report.seq_ranges, report.truncated) == (
        10,
        4,
        {"presence": 3, "door": 1},
        [(4, 6), (9, 9)],
        False,
    )
