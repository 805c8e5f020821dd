"""The rules of the central's own health as plain functions: when a gateway's silence can
be judged while the central is behind, what `/healthz` says, and how outages wait in the
log until alerts record them."""

from __future__ import annotations

from dashboard.core.alert_rules import AlertKind
from dashboard.core.ingest_health import (
    IngestState,
    Outage,
    is_stalled,
    outage_detail,
    problems,
    silence_cutoff,
)
from dashboard.ingest.outages import OutageLog

NOW = 1_800_000_000.0
OFFLINE_AFTER_S = 90.0
UNAVAILABLE = AlertKind.STORAGE_UNAVAILABLE
STALLED = AlertKind.INGEST_STALLED


def test_silence_counts_up_to_the_oldest_message_not_stored() -> None:
    caught_up = IngestState()
    behind = IngestState(backlog=5, oldest_unstored_at=NOW - 60)
    listening = NOW - 3600

    assert silence_cutoff(NOW, OFFLINE_AFTER_S, listening, caught_up) == NOW - 90
    assert silence_cutoff(NOW, OFFLINE_AFTER_S, listening, behind) == NOW - 150


def test_no_silence_is_judged_while_not_listening_long_enough_or_failing() -> None:
    just_connected = NOW - 30
    just_recovered = IngestState(recovered_at=NOW - 30)
    failing = IngestState(outages=(Outage(UNAVAILABLE, NOW - 5, "disk full"),))

    assert silence_cutoff(NOW, OFFLINE_AFTER_S, None, IngestState()) is None
    assert silence_cutoff(NOW, OFFLINE_AFTER_S, just_connected, IngestState()) is None
    assert silence_cutoff(NOW, OFFLINE_AFTER_S, NOW - 3600, just_recovered) is None
    assert silence_cutoff(NOW, OFFLINE_AFTER_S, NOW - 3600, failing) is None
    long_recovered = IngestState(recovered_at=NOW - 120)
    assert silence_cutoff(NOW, OFFLINE_AFTER_S, NOW - 3600, long_recovered) == NOW - 90


def test_problems_name_each_ongoing_outage_and_not_the_ended_ones() -> None:
    state = IngestState(
        outages=(
            Outage(STALLED, NOW - 100, "a lock", until=NOW - 50),
            Outage(UNAVAILABLE, NOW - 10, "OperationalError: connection refused"),
        )
    )
    assert problems(state) == [
        "storage unavailable since 2027-01-15T07:59:50.000Z: OperationalError: connection refused"
    ]
    assert problems(IngestState()) == []
    assert outage_detail(state.outages[0]) == (
        "ingest stalled from 2027-01-15T07:58:20.000Z to 2027-01-15T07:59:10.000Z: a lock"
    )


def test_a_stall_is_a_wait_longer_than_the_threshold() -> None:
    assert not is_stalled(None, NOW, 30)
    assert not is_stalled(NOW - 30, NOW, 30)
    assert is_stalled(NOW - 31, NOW, 30)


def test_outages_wait_in_the_log_until_recorded_once_ended() -> None:
    log = OutageLog()
    log.begin(UNAVAILABLE, "first words", NOW)
    log.begin(UNAVAILABLE, "later words", NOW + 1)
    log.recorded(log.unrecorded())
    assert [(o.since, o.reason, o.until) for o in log.unrecorded()] == [
        (NOW, "first words", None)
    ], "an ongoing outage stays, once"

    log.end(UNAVAILABLE, NOW + 5)
    log.begin(UNAVAILABLE, "again", NOW + 6)
    assert log.ended_at == NOW + 5
    taken = log.unrecorded()
    assert [(o.since, o.until) for o in taken] == [(NOW, NOW + 5), (NOW + 6, None)]
    log.end(STALLED, NOW + 7)
    assert log.ended_at == NOW + 5, "ending what is not going on changes nothing"

    log.recorded(taken)
    assert [(o.since, o.until) for o in log.unrecorded()] == [(NOW + 6, None)]
