"""The gateway's pure parts: command freshness, the central's clock, event stamping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contract.payloads import AccessEvent, Command, DropReport, ReplyStatus
from gateway.central_clock import WINDOW_S, CentralClock, Tick, central_time, with_tick
from gateway.command_gate import CommandGate
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


def test_a_fresh_command_is_admitted_once(tmp_path: Path) -> None:
    gate = CommandGate(tmp_path)
    assert gate.check(command(NOW), NOW + timedelta(seconds=1)).accepted
    gate.handled(command(NOW), NOW + timedelta(seconds=1), durable=False)
    replay = gate.check(command(NOW), NOW + timedelta(seconds=2))
    assert (replay.accepted, replay.status) == (False, ReplyStatus.REPLAYED)


def test_an_expired_command_is_refused_and_says_by_how_much(tmp_path: Path) -> None:
    verdict = CommandGate(tmp_path).check(command(NOW, ttl=10), NOW + timedelta(hours=3))
    assert (verdict.accepted, verdict.status) == (False, ReplyStatus.EXPIRED)
    assert "expired 10790.0 s ago" in verdict.message


def test_the_gateway_caps_a_long_time_to_live(tmp_path: Path) -> None:
    late = NOW + timedelta(seconds=90)
    verdict = CommandGate(tmp_path).check(command(NOW, ttl=300), late)
    assert (verdict.accepted, verdict.status) == (False, ReplyStatus.EXPIRED)
    assert "capped to 60 s by this gateway" in verdict.message
    assert CommandGate(tmp_path, max_ttl_s=300).check(command(NOW, ttl=300), late).accepted


def test_a_command_from_the_future_is_refused(tmp_path: Path) -> None:
    verdict = CommandGate(tmp_path).check(command(NOW + timedelta(minutes=5)), NOW)
    assert (verdict.accepted, verdict.status) == (False, ReplyStatus.EXPIRED)


def test_no_flood_of_other_commands_makes_the_gate_forget_a_live_one(tmp_path: Path) -> None:
    gate = CommandGate(tmp_path)
    gate.handled(command(NOW), NOW, durable=False)
    for n in range(5000):
        gate.handled(command(NOW, request_id=f"ping-{n}"), NOW, durable=False)
    assert not gate.check(command(NOW), NOW + timedelta(seconds=29)).accepted
    # Kept until it expires (plus the allowed skew), and only so long.
    assert gate.handled_requests.seen("r1", (NOW + timedelta(seconds=59)).timestamp())
    assert not gate.handled_requests.seen("r1", (NOW + timedelta(seconds=61)).timestamp())


def test_door_opening_commands_are_remembered_across_a_restart(tmp_path: Path) -> None:
    gate = CommandGate(tmp_path)
    gate.handled(command(NOW, request_id="unlock-1"), NOW, durable=True)
    gate.handled(command(NOW, request_id="ping-1"), NOW, durable=False)
    again = CommandGate(tmp_path)
    assert again.check(command(NOW, request_id="unlock-1"), NOW).status is ReplyStatus.REPLAYED
    assert again.check(command(NOW, request_id="ping-1"), NOW).accepted


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'{"format": 9, "requests": {}}'])
def test_an_unreadable_list_of_handled_commands_starts_the_gateway_anyway(
    tmp_path: Path, content: bytes
) -> None:
    (tmp_path / "handled_commands.json").write_bytes(content)
    assert CommandGate(tmp_path).check(command(NOW), NOW).accepted


def test_the_centrals_time_follows_the_promptest_tick_on_the_monotonic_clock() -> None:
    assert central_time((), 10.0) is None
    prompt = Tick(central_s=NOW.timestamp(), received_monotonic_s=10.0)
    late = Tick(central_s=NOW.timestamp(), received_monotonic_s=15.0)  # held up 5 s
    ticks = with_tick(with_tick((), late), prompt)
    assert central_time(ticks, 20.0) == NOW + timedelta(seconds=10)


def test_a_tick_from_before_the_window_no_longer_counts() -> None:
    ahead = Tick(central_s=NOW.timestamp() + 60, received_monotonic_s=0.0)
    later = Tick(central_s=NOW.timestamp(), received_monotonic_s=WINDOW_S + 1)
    assert with_tick((ahead,), later) == (later,)


def test_the_offset_is_the_gateways_clock_minus_the_centrals() -> None:
    clock = CentralClock()
    assert clock.offset_s(NOW, 5.0) is None
    clock.heard(NOW, 5.0)
    two_hours_ahead = NOW + timedelta(hours=2, seconds=3)
    assert clock.offset_s(two_hours_ahead, 8.0) == 7200.0


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
