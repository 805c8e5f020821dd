"""Direction and abandonment rules of the beam-pair detector."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.beams import (
    AbandonedCrossing,
    AbandonReason,
    Beam,
    BeamPairDetector,
    BeamResult,
    Crossing,
    Direction,
)

A, B = Beam.A, Beam.B
Event = tuple[Beam, bool, float]


def run(events: list[Event], det: BeamPairDetector | None = None) -> list[BeamResult]:
    det = det or BeamPairDetector()
    out = [det.update(beam, broken, at) for beam, broken, at in events]
    out.append(det.poll(events[-1][2] + 10.0))
    return [r for r in out if r is not None]


def walk_in(t: float) -> list[Event]:
    return [(A, True, t), (B, True, t + 0.1), (A, False, t + 0.3), (B, False, t + 0.4)]


def walk_out(t: float) -> list[Event]:
    return [(B, True, t), (A, True, t + 0.1), (B, False, t + 0.3), (A, False, t + 0.4)]


def test_a_then_b_is_in() -> None:
    det = BeamPairDetector()
    assert run(walk_in(0.0), det) == [Crossing(Direction.IN, 0.0, 0.4)]
    assert (det.entries, det.exits, det.abandoned) == (1, 0, 0)


def test_b_then_a_is_out() -> None:
    det = BeamPairDetector()
    assert run(walk_out(0.0), det) == [Crossing(Direction.OUT, 0.0, 0.4)]
    assert (det.entries, det.exits) == (0, 1)


def test_nothing_is_decided_before_settling() -> None:
    det = BeamPairDetector(settle_s=0.05)
    for beam, broken, at in walk_in(0.0):
        assert det.update(beam, broken, at) is None
    assert det.poll(0.44) is None
    assert det.poll(0.45) == Crossing(Direction.IN, 0.0, 0.4)


def test_next_break_after_settle_reports_previous_episode() -> None:
    det = BeamPairDetector()
    for e in walk_in(0.0):
        det.update(*e)
    assert det.update(B, True, 2.0) == Crossing(Direction.IN, 0.0, 0.4)


def test_leaning_in_and_backing_out_is_abandoned() -> None:
    det = BeamPairDetector()
    got = run([(A, True, 0.0), (A, False, 0.5)], det)
    assert got == [AbandonedCrossing(AbandonReason.BACKED_OUT, A, 0.0, 0.5)]
    assert (det.entries, det.exits, det.abandoned) == (0, 0, 1)


def test_reaching_b_then_turning_back_is_abandoned() -> None:
    events = [(A, True, 0.0), (B, True, 0.1), (B, False, 0.3), (A, False, 0.4)]
    assert run(events) == [AbandonedCrossing(AbandonReason.TURNED_BACK, A, 0.0, 0.4)]


def test_second_break_too_late_is_abandoned() -> None:
    events = [(A, True, 0.0), (B, True, 2.0), (A, False, 2.1), (B, False, 2.2)]
    got = run(events, BeamPairDetector(max_break_gap_s=1.5))
    assert got == [AbandonedCrossing(AbandonReason.SECOND_BREAK_TOO_LATE, A, 0.0, 2.2)]
    # The same walk is fine with a longer allowance.
    assert run(events, BeamPairDetector(max_break_gap_s=3.0))[0] == Crossing(Direction.IN, 0.0, 2.2)


def test_standing_in_the_door_is_too_slow() -> None:
    events = [(A, True, 0.0), (B, True, 0.1), (A, False, 8.0), (B, False, 8.1)]
    got = run(events, BeamPairDetector(max_crossing_s=5.0))
    assert got == [AbandonedCrossing(AbandonReason.TOO_SLOW, A, 0.0, 8.1)]


def test_both_broken_at_once_uses_the_last_clear() -> None:
    events = [(A, True, 0.0), (B, True, 0.005), (A, False, 0.3), (B, False, 0.4)]
    assert run(events) == [Crossing(Direction.IN, 0.0, 0.4)]
    events = [(B, True, 0.0), (A, True, 0.0), (A, False, 0.3), (B, False, 0.4)]
    assert run(events) == [Crossing(Direction.IN, 0.0, 0.4)]


def test_bounce_merges_into_one_break() -> None:
    det = BeamPairDetector()
    events = [
        (A, True, 0.0),
        (A, False, 0.010),  # receiver chatter while the body edge passes
        (A, True, 0.012),
        (B, True, 0.1),
        (A, False, 0.3),
        (B, False, 0.4),
        (B, True, 0.41),  # chatter on the way out
        (B, False, 0.42),
    ]
    assert run(events, det) == [Crossing(Direction.IN, 0.0, 0.42)]
    assert det.abandoned == 0


def test_glitch_alone_reports_nothing_but_is_counted() -> None:
    det = BeamPairDetector(min_break_s=0.025)
    assert run([(B, True, 0.0), (B, False, 0.01)], det) == []
    assert det.glitches == 1
    assert (det.entries, det.exits, det.abandoned) == (0, 0, 0)


def test_glitch_on_the_other_beam_does_not_make_a_crossing() -> None:
    events = [(A, True, 0.0), (B, True, 0.1), (B, False, 0.11), (A, False, 0.5)]
    assert run(events) == [AbandonedCrossing(AbandonReason.BACKED_OUT, A, 0.0, 0.5)]


def test_repeated_levels_and_restore_without_break_are_ignored() -> None:
    det = BeamPairDetector()
    assert det.update(A, False, 0.0) is None
    events = [(A, True, 1.0), (A, True, 1.05), *walk_in(1.0)[1:]]
    assert run(events, det) == [Crossing(Direction.IN, 1.0, 1.4)]


@given(st.lists(st.sampled_from(["in", "out", "back"]), max_size=12))
def test_counts_match_a_sequence_of_walks(walks: list[str]) -> None:
    det = BeamPairDetector()
    events: list[Event] = []
    for i, kind in enumerate(walks):
        t = i * 2.0
        if kind == "in":
            events += walk_in(t)
        elif kind == "out":
            events += walk_out(t)
        else:
            events += [(A, True, t), (A, False, t + 0.2)]
    if events:
        run(events, det)
    assert det.entries == walks.count("in")
    assert det.exits == walks.count("out")
    assert det.abandoned == walks.count("back")


@given(
    st.lists(st.tuples(st.sampled_from([A, B]), st.booleans(), st.floats(0.0, 0.5)), max_size=40)
)
def test_arbitrary_events_never_crash_and_counts_add_up(
    raw: list[tuple[Beam, bool, float]],
) -> None:
    det = BeamPairDetector()
    t = 0.0
    results: list[BeamResult] = []
    for beam, broken, dt in raw:
        t += dt
        r = det.update(beam, broken, t)
        if r is not None:
            results.append(r)
    det.update(A, False, t + 1)
    det.update(B, False, t + 1)
    final = det.poll(t + 10)
    if final is not None:
        results.append(final)
    assert det.entries + det.exits + det.abandoned == len(results)
    assert all(r.started_at <= r.finished_at for r in results)
