"""Each gateway's events applied in its order where replicas share its messages: the pure
rule, the batches that store events out of order on SQLite and PostgreSQL, the periodic
release of an event whose predecessor never comes, and the settings that turn it on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.payloads import AccessEvent, AlarmEvent, EventPayload, utc_now
from dashboard.central import SUBSCRIPTIONS, subscriptions
from dashboard.core.changes import AlertThresholds
from dashboard.core.config import load_central_settings
from dashboard.core.sequence_order import release
from dashboard.ingest import batch
from dashboard.ingest.checks import run_checks
from dashboard.storage.store import Store
from servicekit.settings import ConfigError

HOLD_S = 30.0
SHARING = AlertThresholds(reorder_hold_s=HOLD_S)


def test_numbers_run_on_from_the_mark_and_wait_above_a_hole() -> None:
    assert release(4, [5, 6, 8], None, now=0, hold_s=2) == release(4, [8, 6, 5], None, 0, 2)
    step = release(4, [6, 5, 8, 3], None, now=0, hold_s=2)
    assert (step.through, step.ready, step.waiting) == (6, [3, 5, 6], [8])


def test_what_waited_long_enough_goes_in_order_without_the_hole() -> None:
    assert release(6, [8, 10], waiting_since=100, now=101, hold_s=2).waiting == [8, 10]
    step = release(6, [10, 8], waiting_since=100, now=102, hold_s=2)
    assert (step.through, step.ready, step.waiting) == (10, [8, 10], [])
    # The hole's event, come at last, is applied at once: late, as it is.
    assert release(10, [7], None, now=103, hold_s=2) == release(10, [7], 50, 103, 2)
    assert release(10, [7], None, now=103, hold_s=2).ready == [7]


def test_a_new_gateway_counts_from_one() -> None:
    assert release(0, [1, 2], None, 0, 2).ready == [1, 2]
    assert release(0, [2], None, 0, 2).waiting == [2]


@pytest.fixture()
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    yield opened
    opened.close()


def access(seq: int, direction: str) -> AccessEvent:
    return AccessEvent.model_validate(
        dict(station_id="cs-1", gateway_id="gw-1", seq=seq, at=utc_now(), door_id="main",
             direction=direction, credential="qr", decision="granted", reason="granted")
    )  # fmt: skip


def alarm(seq: int, active: bool) -> AlarmEvent:
    return AlarmEvent.model_validate(
        dict(station_id="cs-1", gateway_id="gw-1", seq=seq, at=utc_now(), door_id="main",
             alarm="forced", active=active)
    )  # fmt: skip


def count(store: Store) -> int:
    return store.occupancy_of(["cs-1"])[0].occupancy


def open_forced(store: Store) -> int:
    return len([a for a in store.alerts() if a.kind == "forced" and a.resolved_at is None])


def record(store: Store, thresholds: AlertThresholds, *events: EventPayload) -> None:
    batch.record(store.db, thresholds, events)


def test_events_stored_out_of_order_are_applied_in_order(store: Store) -> None:
    # In, in, out, out; an alarm raised then cleared: stored 2, 4, 5, 6, then 1, 3.
    events = [access(1, "in"), access(2, "in"), alarm(3, True), access(4, "out")]
    events += [alarm(5, False), access(6, "out")]
    record(store, SHARING, events[1], events[3], events[4], events[5])
    assert count(store) == 0
    record(store, SHARING, events[0], events[2])
    assert count(store) == 0
    assert open_forced(store) == 0
    with store.db.connection() as db:
        assert db.execute("SELECT count(*) FROM seq_waiting").fetchone()[0] == 0


def test_in_arrival_order_the_same_events_end_otherwise(store: Store) -> None:
    """Why the order matters: without it, the exits stop at zero before their entries and
    the alarm's end comes before its start."""
    events = [access(1, "in"), access(2, "in"), alarm(3, True), access(4, "out")]
    events += [alarm(5, False), access(6, "out")]
    record(store, AlertThresholds(), events[1], events[3], events[4], events[5])
    record(store, AlertThresholds(), events[0], events[2])
    # In 2, out 4 and 6 (the second stops at zero), then in 1: one, where nobody is.
    assert count(store) == 1
    assert open_forced(store) == 1


def test_an_event_whose_predecessor_never_comes_is_applied_by_the_checks(store: Store) -> None:
    record(store, SHARING, access(1, "in"))
    record(store, SHARING, access(3, "in"))
    assert count(store) == 1
    run_checks(store.db, SHARING, now=time.time() + HOLD_S / 2)
    assert count(store) == 1
    result = run_checks(store.db, SHARING, now=time.time() + HOLD_S + 1)
    assert count(store) == 2
    assert result.occupancy["cs-1"][0] == 2
    # The missing one, come at last, counts at once.
    record(store, SHARING, access(2, "out"))
    assert count(store) == 1
    with store.db.connection() as db:
        assert db.execute("SELECT count(*) FROM seq_waiting").fetchone()[0] == 0
        assert db.execute("SELECT through FROM seq_applied").fetchone()[0] == 3


def test_replicas_share_events_and_health_and_hear_the_rest_all() -> None:
    shared = dict(subscriptions("centrals"))
    assert shared.keys() != dict(SUBSCRIPTIONS).keys()
    assert "$share/centrals/yz/v1/st/+/gw/+/event/+" in shared
    assert "$share/centrals/yz/v1/st/+/gw/+/health" in shared
    assert "yz/v1/st/+/gw/+/availability" in shared
    assert subscriptions(None) == SUBSCRIPTIONS


def test_sharing_needs_postgresql(tmp_path: Path) -> None:
    path = tmp_path / "central.toml"
    path.write_text('[replicas]\nshare_group = "centrals"\n')
    with pytest.raises(ConfigError, match=r"replicas\.share_group needs PostgreSQL"):
        load_central_settings(path)
    path.write_text(
        '[database]\nurl = "postgresql://yz@db/yizhan"\n[replicas]\nshare_group = "centrals"\n'
    )
    assert load_central_settings(path).replicas.share_group == "centrals"


def test_a_waiting_event_that_cannot_be_read_back_is_skipped_not_fatal(store: Store) -> None:
    record(store, SHARING, access(1, "in"))
    record(store, SHARING, access(3, "in"))
    with store.db.transaction() as db:
        # As a row kept by another version might read: not an access event any more.
        db.execute("UPDATE seq_waiting SET payload = ? WHERE seq = 3", ('{"schema": "x"}',))
    run_checks(store.db, SHARING, now=time.time() + HOLD_S + 1)
    assert count(store) == 1
    record(store, SHARING, access(4, "in"))
    assert count(store) == 2
    with store.db.connection() as db:
        assert db.execute("SELECT count(*) FROM seq_waiting").fetchone()[0] == 0
