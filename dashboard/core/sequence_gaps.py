"""Gaps in a gateway's sequence numbers, as pure rules.

Every gateway numbers its events 1, 2, 3, … and keeps counting across restarts. The
central remembers the highest number seen per gateway and the ranges below it that have
not arrived. Redelivery after an outage or a crash fills most gaps within seconds; a
range still open after the gap threshold opens a `seq_gap` alert, which resolves by
itself when the range fills. A `dropped/1` report from the gateway's outbox closes the
ranges it names: those events are known to be gone, and were reported.

The first number seen from a gateway is its baseline: a central that starts on an
empty database does not raise alerts for history it never had.

Ranges are inclusive pairs `(first, last)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SeqRange = tuple[int, int]
"""Sequence numbers `first` to `last`, both included."""


@dataclass(frozen=True, slots=True)
class Advance:
    """What newly stored events of one gateway do to its sequence."""

    high: int | None
    """The highest number seen now (None: still nothing seen)."""
    gaps: list[SeqRange]
    """Ranges skipped by these events and not filled by them either."""
    late: list[int]
    """Numbers below an earlier high mark: they may fill gaps noticed before."""


def advance(high: int | None, seqs: Iterable[int]) -> Advance:
    """Account for newly stored events of one gateway, in arrival order, after `high`."""
    gaps: list[SeqRange] = []
    below: list[int] = []
    for seq in seqs:
        if high is None:
            high = seq
        elif seq > high:
            if seq > high + 1:
                gaps.append((high + 1, seq - 1))
            high = seq
        else:
            below.append(seq)
    # Out of order within the batch (redelivery mixed with new events): a number that
    # fills a gap these same events opened is settled here, the rest may fill older gaps.
    late: list[int] = []
    for seq in below:
        for index, gap in enumerate(gaps):
            if gap[0] <= seq <= gap[1]:
                gaps[index : index + 1] = subtract(gap, (seq, seq))
                break
        else:
            late.append(seq)
    return Advance(high, gaps, late)


def subtract(missing: SeqRange, gone: SeqRange) -> list[SeqRange]:
    """What remains missing of `missing` once `gone` arrived or was reported dropped."""
    low, high = missing
    first, last = gone
    return [(a, b) for a, b in ((low, first - 1), (last + 1, high)) if a <= b]


def overlaps(missing: SeqRange, gone: SeqRange) -> bool:
    """Whether `gone` takes anything away from `missing`."""
    return missing[0] <= gone[1] and missing[1] >= gone[0]


def gap_detail(station_id: str, gateway_id: str, ranges: Sequence[SeqRange], after_s: float) -> str:
    """The detail of a `seq_gap` alert: how many events of which numbers are missing."""
    count = sum(last - first + 1 for first, last in ranges)
    listed = ", ".join(str(first) if first == last else f"{first}-{last}" for first, last in ranges)
    return (
        f"{count} event(s) from {station_id}/{gateway_id} missing for over "
        f"{after_s:g} s: seq {listed}"
    )
