"""Gaps in a gateway's sequence numbers, as pure rules.

Every gateway numbers its events 1, 2, 3, … and keeps counting across restarts. The
central remembers the highest number seen per gateway and the ranges below it that have
not arrived. Redelivery after an outage or a crash fills most gaps within seconds; a
range still open after the gap threshold opens a `seq_gap` alert, which resolves by
itself when the range fills. A `dropped/1` report from the gateway's outbox closes the
ranges it names: those events are known to be gone, and were reported.

The first number seen from a gateway is its baseline: a central that starts on an
empty database does not raise alerts for history it never had.

A hole at the tail (the last events before a crash of the broker, say) has no later
event to reveal it, so the gateway's health report says how far its numbering has got:
the numbers above the high mark become a missing range like any other (`reach`). What
lies below the lowest missing number is stored without a hole; that number is the mark
the central publishes to the gateway (`stored_through`), which then deletes those events.

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


def reach(step: Advance, latest: int) -> Advance:
    """Add the gateway's own word that its numbering has got to `latest`: the numbers
    above the high mark are missing until they arrive. Nothing before a baseline."""
    if step.high is None or latest <= step.high:
        return step
    return Advance(latest, [*step.gaps, (step.high + 1, latest)], step.late)


def stored_through(high: int, first_missing: int | None) -> int:
    """The highest number up to which nothing is missing, given the high mark and the
    lowest missing number (None when nothing is)."""
    return high if first_missing is None else min(high, first_missing - 1)


def ranges_of(seqs: Iterable[int]) -> list[SeqRange]:
    """Numbers as the fewest inclusive ranges: `[3, 4, 5, 9]` is `[(3, 5), (9, 9)]`."""
    ranges: list[SeqRange] = []
    for seq in sorted(set(seqs)):
        if ranges and ranges[-1][1] + 1 == seq:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return ranges


def remove(missing: SeqRange, gone: Iterable[SeqRange]) -> list[SeqRange]:
    """What remains missing of `missing` once every range of `gone` arrived or was
    reported dropped."""
    left = [missing]
    for part in gone:
        left = [rest for m in left for rest in (subtract(m, part) if overlaps(m, part) else [m])]
    return left


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
