"""The periodic checks: what time alone changes, where no message arrives to say so.

A sequence gap still open after the threshold raises its `seq_gap` alert; a gateway
unheard for too long goes offline; a presence sensor unheard for too long is marked
silent; a zone whose every presence sensor has seen nobody for long enough is reset to
zero, with an audit record; a command whose gateway has not answered by its deadline
ends as `no_answer`, with an audit record; the outages of the central's own ingest are
recorded as `storage_unavailable` and `ingest_stalled` alerts, opened and resolved at
the times they began and ended; where replicas share the gateways' messages, an event
that has waited long enough for an earlier one of its gateway is applied without it.
The central runs `run_checks` every few seconds and publishes its `BatchResult` like a
batch's; of several replicas, only the leader does, and the others record their own
outages (`record_outages`). Two transactions per run (the gap alerts first); the rules
come from `dashboard.core`.

A gateway is only called silent over a time the central was listening and had stored
everything it received (`ingest_health.silence_cutoff`): when the central is behind or
away, the gateways it has not heard from are not to blame.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from contract.payloads import format_utc
from dashboard.core.alert_rules import AlertKind, sensor_silent
from dashboard.core.changes import AlertThresholds, BatchResult
from dashboard.core.ingest_health import IngestState, Outage, outage_detail, silence_cutoff
from dashboard.core.occupancy import presence_resets
from dashboard.core.sequence_gaps import gap_detail
from dashboard.ingest.batch import release_waiting
from dashboard.ingest.gateway_state import set_online
from dashboard.storage import alerts, commands, counts, gateways, sensors, sequences, stations
from dashboard.storage.db import Connection, Database

RESET_REASON = "sensors saw nobody"
"""What the audit record of a presence reset says."""


def run_checks(
    database: Database,
    thresholds: AlertThresholds,
    now: float | None = None,
    ingest: IngestState | None = None,
    listening_since: float | None = None,
) -> BatchResult:
    """Apply the time-driven rules as of `now` (epoch seconds; the clock by default).

    `ingest` is where the central's ingest stands, and `listening_since` since when it
    has been connected to the broker (None while it is not); without `ingest`, the
    checks take it that everything was heard and stored up to `now`.
    """
    now = time.time() if now is None else now
    result = BatchResult()
    if ingest is None:
        silent_before: float | None = now - thresholds.offline_after_s
    else:
        silent_before = silence_cutoff(now, thresholds.offline_after_s, listening_since, ingest)
    with database.transaction() as db:
        _raise_gap_alerts(db, now, thresholds, result)
    with database.transaction() as db:
        release_waiting(db, thresholds, now, result)
        if silent_before is not None:
            cutoff = format_utc(datetime.fromtimestamp(silent_before, UTC))
            for sid, gid in gateways.online_but_unheard_since(db, cutoff):
                set_online(db, sid, gid, False, gateways.SILENT, thresholds, result)
        for sid, sensor_id in sensors.mark_silent(db, now - thresholds.sensor_silent_after_s):
            change = alerts.open_alert(
                db,
                AlertKind.SENSOR_SILENT,
                sid,
                None,
                sensor_id,
                sensor_silent(sid, sensor_id, thresholds.sensor_silent_after_s),
            )
            if change is not None:
                result.alerts.append(change)
        _reset_empty_zones(db, now, thresholds.empty_reset_s, result)
        result.commands = commands.expire(db, format_utc(datetime.fromtimestamp(now, UTC)))
        if ingest is not None:
            _record_outages(db, ingest.outages, result)
    return result


def record_outages(database: Database, ingest: IngestState) -> BatchResult:
    """Only the outages of this replica's own ingest, as alerts: what a replica that does
    not hold the leader lease checks (`dashboard.services.leader_lease`)."""
    result = BatchResult()
    if ingest.outages:
        with database.transaction() as db:
            _record_outages(db, ingest.outages, result)
    return result


def _record_outages(db: Connection, outages: tuple[Outage, ...], result: BatchResult) -> None:
    """Open an alert for each outage (dated when it began), and resolve it (dated when it
    ended) once it has ended; oldest first, so one kind's outages follow each other."""
    for outage in outages:
        change = alerts.open_alert(
            db, outage.kind, None, None, None, outage_detail(outage), _utc(outage.since)
        )
        if change is not None:
            result.alerts.append(change)
        if outage.until is not None:
            result.alerts += alerts.resolve_condition(db, outage.kind, None, at=_utc(outage.until))


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def _raise_gap_alerts(
    db: Connection, now: float, thresholds: AlertThresholds, result: BatchResult
) -> None:
    """Put every range missing longer than the threshold under its gateway's `seq_gap`
    alert: the open one, or a new one naming the ranges."""
    after_s = thresholds.gap_after_s
    overdue = sequences.overdue(db, now - after_s)
    if not overdue:
        return
    # Under the stations' locks, read again: a batch storing a missing event splits or
    # deletes its range, and one that did so while the alert took the old row would
    # leave the alert with no range to resolve it (in a transaction of its own, so
    # that these locks are taken in one order).
    stations.lock(db, {sid for sid, _ in overdue})
    for (sid, gid), ranges in sequences.overdue(db, now - after_s).items():
        alert_id = alerts.find_open(db, AlertKind.SEQ_GAP, sid, gid)
        if alert_id is None:
            detail = gap_detail(sid, gid, [seqs for _, seqs in ranges], after_s)
            change = alerts.open_alert(db, AlertKind.SEQ_GAP, sid, gid, None, detail)
            if change is not None:
                result.alerts.append(change)
                alert_id = change.id
        if alert_id is not None:
            sequences.attach(db, alert_id, [row_id for row_id, _ in ranges])


def _reset_empty_zones(
    db: Connection, now: float, empty_reset_s: float, result: BatchResult
) -> None:
    for sid in sensors.stations_empty_since(db, now - empty_reset_s):
        state = stations.load_counts(db, [sid])[sid]
        zones = presence_resets(sensors.states(db, sid), state.zones, now, empty_reset_s)
        for zone in zones:
            counts.set_zone(db, sid, state, zone, 0, counts.PRESENCE, RESET_REASON)
        if state.changed_zones:
            counts.write(db, {sid: state}, result)
