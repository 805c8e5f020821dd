"""Driver and virtual LD2410 talking over a real pseudo-terminal."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator

import pytest

from firmware_bridge.ld2410 import (
    BAUDRATE,
    Command,
    CommandAck,
    Ld2410Decoder,
    Ld2410Frame,
    RadarReport,
    TargetState,
    enable_config,
    enable_engineering,
    encode_report,
    end_config,
    parse_parameters,
    read_parameters,
    restart,
    set_max_distance_and_duration,
)
from firmware_bridge.serial_loop import SerialLoop
from hardware.sim.radar import Presence, VirtualRadar

TIMEOUT = 5.0


class Link:
    def __init__(self, radar: VirtualRadar) -> None:
        self.radar = radar
        self.frames: queue.Queue[Ld2410Frame] = queue.Queue()
        self.decoder = Ld2410Decoder()
        self.loop = SerialLoop(radar.port, BAUDRATE, self.decoder, self.frames.put, "radar")

    def until(self, wanted: Callable[[Ld2410Frame], bool]) -> tuple[Ld2410Frame, list[Ld2410Frame]]:
        """The first frame that matches, and every frame that came before it."""
        before: list[Ld2410Frame] = []
        while True:
            frame = self.frames.get(timeout=TIMEOUT)
            if wanted(frame):
                return frame, before
            before.append(frame)

    def ack(self, command: bytes, word: int) -> tuple[CommandAck, list[Ld2410Frame]]:
        self.loop.write(command)
        frame, before = self.until(lambda f: isinstance(f, CommandAck))
        assert isinstance(frame, CommandAck)
        assert frame.command == word
        return frame, before


@pytest.fixture()
def link() -> Iterator[Link]:
    radar = VirtualRadar(period_s=0.02)
    link = Link(radar)
    link.loop.start()
    assert link.loop.wait_open(TIMEOUT)
    try:
        yield link
    finally:
        link.loop.stop()
        radar.close()


def is_report(frame: Ld2410Frame) -> bool:
    return isinstance(frame, RadarReport)


def test_reports_follow_the_presence(link: Link) -> None:
    report, _ = link.until(is_report)
    assert report == RadarReport(TargetState.NONE, 0, 0, 0, 0, 0)
    link.radar.set_presence(Presence(stationary_cm=80, stationary_energy=100))
    report, _ = link.until(lambda f: isinstance(f, RadarReport) and f.presence)
    assert report == RadarReport(TargetState.STATIONARY, 0, 0, 80, 100, 80)


def test_simulator_frames_match_the_reference_example(link: Link) -> None:
    link.radar.set_presence(Presence(78, 60, 80, 100))
    expected = bytes.fromhex("F4 F3 F2 F1 0D 00 02 AA 03 4E 00 3C 50 00 64 50 00 55 00 F8 F7 F6 F5")
    assert link.radar.report_frame() == expected
    report, _ = link.until(lambda f: isinstance(f, RadarReport) and f.presence)
    assert isinstance(report, RadarReport)
    assert encode_report(report) == expected


def test_config_session(link: Link) -> None:
    link.until(is_report)
    ack, _ = link.ack(enable_config(), Command.ENABLE_CONFIG)
    assert ack.ok
    assert ack.data == b"\x01\x00\x40\x00"

    ack, quiet = link.ack(
        set_max_distance_and_duration(6, 4, 30), Command.SET_MAX_DISTANCE_AND_DURATION
    )
    assert ack.ok
    ack, more = link.ack(read_parameters(), Command.READ_PARAMETERS)
    params = parse_parameters(ack)
    assert params is not None
    assert (params.max_moving_gate, params.max_stationary_gate, params.no_one_duration_s) == (
        6,
        4,
        30,
    )
    assert link.ack(enable_engineering(), Command.ENABLE_ENGINEERING)[0].ok
    _, rest = link.ack(end_config(), Command.END_CONFIG)
    # The radar sends no reports while in config mode.
    assert not any(is_report(f) for f in quiet + more + rest)

    link.radar.set_presence(Presence(moving_cm=160, moving_energy=70))
    report, _ = link.until(lambda f: isinstance(f, RadarReport) and f.presence)
    assert isinstance(report, RadarReport)
    assert report.engineering is not None
    assert report.engineering.max_moving_gate == 6
    assert report.engineering.moving_gate_energy[160 // 75] == 70
    assert report.engineering.out_pin


def test_commands_outside_config_mode_are_ignored(link: Link) -> None:
    link.loop.write(enable_engineering())
    # The only ACK that comes is the one for enable-config, sent afterwards.
    ack, _ = link.ack(enable_config(), Command.ENABLE_CONFIG)
    assert ack.ok
    assert not link.radar.engineering


def test_restart_leaves_config_mode_and_reports_resume(link: Link) -> None:
    link.ack(enable_config(), Command.ENABLE_CONFIG)
    link.ack(enable_engineering(), Command.ENABLE_ENGINEERING)
    assert link.ack(restart(), Command.RESTART)[0].ok
    report, _ = link.until(is_report)
    assert isinstance(report, RadarReport)
    assert report.engineering is None


def test_noise_between_reports_is_skipped(link: Link) -> None:
    link.until(is_report)
    link.radar.send_raw(b"\xf4\xf3\x00\xfd\xfc\xfb\xfa\xff\xff junk")
    link.radar.set_presence(Presence(moving_cm=300, moving_energy=40))
    report, _ = link.until(lambda f: isinstance(f, RadarReport) and f.presence)
    assert isinstance(report, RadarReport)
    assert report.moving_distance_cm == 300
    assert link.decoder.garbage_bytes >= 5
