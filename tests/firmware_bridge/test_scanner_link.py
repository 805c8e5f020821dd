"""Driver and virtual GM65 talking over a real pseudo-terminal."""

from __future__ import annotations

import queue
from collections.abc import Iterator

import pytest

from firmware_bridge.grow_commands import (
    GrowReply,
    ScannerFrame,
    ScannerStreamDecoder,
    TriggerMode,
    encode_read,
    save_settings,
    set_command_mode,
    set_continuous_mode,
    trigger_scan,
)
from firmware_bridge.qr_lines import ScannedCode
from firmware_bridge.serial_loop import SerialLoop
from hardware.sim.scanner import VirtualScanner

TIMEOUT = 5.0
ACK = GrowReply(0, b"\x00")


class Link:
    def __init__(self, scanner: VirtualScanner) -> None:
        self.scanner = scanner
        self.frames: queue.Queue[ScannerFrame] = queue.Queue()
        self.decoder = ScannerStreamDecoder()
        self.loop = SerialLoop(scanner.port, 9600, self.decoder, self.frames.put, "scanner")

    def next(self) -> ScannerFrame:
        return self.frames.get(timeout=TIMEOUT)

    def ask(self, command: bytes) -> ScannerFrame:
        self.loop.write(command)
        return self.next()


@pytest.fixture()
def link() -> Iterator[Link]:
    scanner = VirtualScanner()
    link = Link(scanner)
    link.loop.start()
    assert link.loop.wait_open(TIMEOUT)
    try:
        yield link
    finally:
        link.loop.stop()
        scanner.close()


def test_continuous_mode_sends_codes_at_once(link: Link) -> None:
    link.scanner.scan("YZ1:CONT")
    assert link.next() == ScannedCode("YZ1:CONT")


def test_command_mode_waits_for_the_trigger(link: Link) -> None:
    assert link.ask(set_command_mode()) == ACK
    assert link.scanner.mode is TriggerMode.COMMAND
    link.scanner.scan("YZ1:HELD")
    assert link.scanner.pending_codes == ["YZ1:HELD"]
    # The ACK comes first and then the code: nothing went out before the trigger.
    assert link.ask(trigger_scan()) == ACK
    assert link.next() == ScannedCode("YZ1:HELD")
    assert link.scanner.pending_codes == []
    # A trigger with nothing under the window is acknowledged and reads nothing.
    assert link.ask(trigger_scan()) == ACK
    assert link.ask(encode_read(0x0000)) == GrowReply(0, b"\xd5")


def test_crc_bypass_trigger_works_too(link: Link) -> None:
    assert link.ask(set_command_mode()) == ACK
    link.scanner.scan("BYPASS")
    assert link.ask(trigger_scan(bypass_crc=True)) == ACK
    assert link.next() == ScannedCode("BYPASS")


def test_back_to_continuous_and_save(link: Link) -> None:
    assert link.ask(set_command_mode()) == ACK
    assert link.ask(set_continuous_mode()) == ACK
    link.scanner.scan("AGAIN")
    assert link.next() == ScannedCode("AGAIN")
    assert link.ask(save_settings()) == ACK
    assert link.scanner.flash[0x0000] == 0xD6


def test_unsaved_settings_are_lost_on_power_cycle(link: Link) -> None:
    assert link.ask(set_command_mode()) == ACK
    link.scanner.power_cycle()
    assert link.ask(encode_read(0x0000)) == GrowReply(0, b"\xd6")
    assert link.ask(set_command_mode()) == ACK
    assert link.ask(save_settings()) == ACK
    link.scanner.power_cycle()
    assert link.ask(encode_read(0x0000)) == GrowReply(0, b"\xd5")


def test_reference_read_example_on_a_fresh_scanner(link: Link) -> None:
    assert link.ask(bytes.fromhex("7E 00 07 01 00 0A 01 EE 8A")) == GrowReply(0, b"\x3e")
    assert link.ask(encode_read(0x002A, 2)) == GrowReply(0, b"\x39\x01")


def test_bad_crc_gets_silence(link: Link) -> None:
    bad = bytearray(set_command_mode())
    bad[-1] ^= 0x01
    link.loop.write(bytes(bad))
    # The first answer on the line is to the read, so the bad command got none.
    assert link.ask(encode_read(0x0000)) == GrowReply(0, b"\xd6")
    assert link.scanner.commands_ignored == 1
    assert link.scanner.mode is TriggerMode.CONTINUOUS


def test_noise_on_the_line_does_not_stop_codes_or_replies(link: Link) -> None:
    link.scanner.send_raw(b"\x00\xff\x13garbage\r")
    link.scanner.scan("AFTER-NOISE")
    assert link.next() == ScannedCode("AFTER-NOISE")
    assert link.ask(encode_read(0x000A)) == GrowReply(0, b"\x3e")
    assert link.decoder.garbage_bytes >= 3
