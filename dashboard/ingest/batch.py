"""The batch as one unit of work: everything a batch of messages from the broker changes,
written in one transaction, with what changed coming back as a `BatchResult`.

A batch stores its new events (an event id already stored is skipped) and its
quarantined messages, hears from its gateways (last seen, sequence numbers, gaps filled,
how far health reports say their numbering has got, birth messages and last wills,
clock skew), keeps health reports' device readings, moves the counts, raises and
clears alarms and keeps doors' last states (in each gateway's order, where replicas
share its messages: `dashboard.core.sequence_order`), notes the QR tokens granted (one
granted at two stations opens `token_shared`), and opens or resolves the alerts all of
that implies. It ends by reading how far each gateway that
sent events or announced itself is stored without a hole, for the central to tell it.
Each of those tables has one storage module that alone writes it; this module only puts
them together, and the rules come from `dashboard.core`. The cost per event is a row in
a few `executemany` calls, never a round trip of its own: the writer process commits
thousands of events a second this way.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime

from contract.maintenance_payloads import ConfigReport, Health
from contract.payloads import (
    AccessEvent,
    AlarmEvent,
    Availability,
    CommandReply,
    CrossingEvent,
    Decision,
    Direction,
    DoorEvent,
    DropReport,
    EventPayload,
    FacePairingEvent,
    PresenceEvent,
    format_utc,
    utc_now,
)
from dashboard.core.alert_rules import AlertKind, alarm, clock_skew, token_shared
from dashboard.core.changes import (
    AlertThresholds,
    BatchResult,
    DoorChange,
    EntryChange,
    condition_changes,
)
from dashboard.ingest.gateway_state import set_online
from dashboard.storage import (
    alerts,
    commands,
    counts,
    devices,
    door_states,
    events,
    face_pairings,
    gateway_configs,
    gateways,
    quarantine,
    sensors,
    sequence_order,
    sequences,
    stations,
    token_uses,
)
from dashboard.storage.db import Connection, Database
from dashboard.storage.quarantine import Quarantined
from dashboard.storage.sequences import GatewayKey

log = logging.getLogger(__name__)

Message = EventPayload | Availability | Health | ConfigReport
"""What a batch stores: events, birth messages and last wills, health and config reports."""


def record(
    database: Database,
    thresholds: AlertThresholds,
    messages: Iterable[Message],
    quarantined: Iterable[Quarantined] = (),
    texts: Mapping[str, str] | None = None,
    replies: Iterable[CommandReply] = (),
) -> BatchResult:
    """Store a batch in one transaction; what it changed.

    Quarantined messages of the same batch are kept in the same transaction, so that
    once it commits every message of the batch can be acknowledged to the broker.
    `texts` maps event ids to their payloads as they arrived (already validated); those
    are stored as they are, the others serialised from the model. `replies` settle the
    commands they answer (`storage.commands`).
    """
    items = list(messages)
    quarantined = list(quarantined)
    replies = list(replies)
    _prepare_months(database, items)
    try:
        return _record_once(database, thresholds, items, quarantined, texts or {}, replies)
    except Exception as error:
        if not events.missing_month(error):
            raise
    # Retention dropped a month this process had seen; an event of it came late.
    _months_ready.difference_update({k for k in _months_ready if k[0] == database.url})
    _prepare_months(database, items)
    return _record_once(database, thresholds, items, quarantined, texts or {}, replies)


def _record_once(
    database: Database,
    thresholds: AlertThresholds,
    items: list[Message],
    quarantined: list[Quarantined],
    texts: Mapping[str, str],
    replies: list[CommandReply],
) -> BatchResult:
    # Pipelined: the server stores one table's rows while the next ones are prepared.
    with database.transaction(pipelined=True) as db:
        batch = _Batch(db, thresholds, utc_now())
        result = batch.write(items, quarantined, texts)
        batch.answers(replies)
        return result


def release_waiting(
    db: Connection, thresholds: AlertThresholds, now: float, result: BatchResult
) -> None:
    """Apply, in their gateways' order, the events that have waited
    `thresholds.reorder_hold_s` for an earlier number that has not come (a replica's
    periodic checks; `dashboard.core.sequence_order`), inside the caller's transaction,
    noting what they changed in `result`."""
    if thresholds.reorder_hold_s <= 0:
        return
    due = sequence_order.overdue(db, now - thresholds.reorder_hold_s)
    if not due:
        return
    stations.lock(db, {sid for sid, _ in due})
    batch = _Batch(db, thresholds, datetime.fromtimestamp(now, UTC))
    batch.result = result
    batch._apply_in_order(batch._in_order([], also=due))


_months_ready: set[tuple[str, date]] = set()
"""(database URL, month) whose event partitions this process has made or seen
(PostgreSQL); forgotten when an insert finds a month missing (retention dropped it)."""


def _prepare_months(database: Database, items: list[Message]) -> None:
    """Make the partitions of the batch's event months this process has not seen yet,
    in a short transaction before the batch's own (PostgreSQL)."""
    if database.dialect != "postgresql":
        return
    months = {date(m.at.year, m.at.month, 1) for m in items if isinstance(m, EventPayload)}
    due = [month for month in months if (database.url, month) not in _months_ready]
    if not due:
        return
    with database.connection() as db:
        events.prepare_months(db, due)
    _months_ready.update((database.url, month) for month in due)


def _door_change(event: DoorEvent) -> DoorChange:
    return DoorChange(
        event.station_id, event.gateway_id, event.door_id, event.state.value, format_utc(event.at)
    )


class _Batch:
    """One batch's transaction and what it has changed so far."""

    def __init__(self, db: Connection, thresholds: AlertThresholds, received: datetime):
        self.db = db
        self.thresholds = thresholds
        self.received = received
        self.received_at = format_utc(received)
        self.result = BatchResult()
        self.tracked = sequences.Tracked()
        """What the batch did to its gateways' sequences, stored marks included."""

    def write(
        self, items: list[Message], quarantined: Iterable[Quarantined], texts: Mapping[str, str]
    ) -> BatchResult:
        db, result = self.db, self.result
        # First: a replica storing the same stations' messages waits here, not midway.
        stations.lock(db, {m.station_id for m in items})
        result.quarantined = quarantine.keep(db, quarantined, self.received_at)
        new, result.duplicates = events.store(db, items, self.received_at, texts)
        result.stored = len(new)
        stations.ensure(db, {m.station_id for m in items})
        health = [m for m in items if isinstance(m, Health)]
        self._hear_gateways(new, health)
        for message in items:
            if isinstance(message, Availability):
                self._availability(message)
        configs = [m for m in items if isinstance(m, ConfigReport)]
        if configs:
            gateway_configs.write_reports(db, configs)
        if health:
            reporting = {h.station_id for h in health}
            before = devices.door_conditions(db, reporting)
            current = devices.write_reports(db, health)
            result.conditions = condition_changes(before, devices.door_conditions(db, reporting))
            result.alerts += alerts.apply_device_health(db, current)
        # Counts and alarms depend on order: where replicas share a gateway's messages,
        # its events are applied in its order, whichever replica stored them.
        self._entries(new)
        self._apply_in_order(self._in_order(new))
        self._signals(new)
        self._tokens(new)
        self._faces(new)
        # Duplicates and births ask too: a gateway sends those when it may have missed
        # its mark (it published again, or reconnected to a broker that lost it).
        asking = {
            (m.station_id, m.gateway_id)
            for m in items
            if isinstance(m, EventPayload) or (isinstance(m, Availability) and m.online)
        }
        # Tracking the sequences read the marks of the gateways with new events already;
        # only the others (duplicates, births) are read here.
        result.stored_marks = self.tracked.marks(asking)
        result.stored_marks |= sequences.stored_marks(db, asking - self.tracked.highs.keys())
        return result

    def answers(self, replies: list[CommandReply]) -> None:
        """Settle the commands that `replies` answer; note the ones that answer none."""
        if not replies:
            return
        settled, unknown = commands.answer(self.db, replies, self.received_at)
        self.result.commands += settled
        self.result.unknown_replies += [
            (f"{r.station_id}/{r.gateway_id}", r.request_id) for r in unknown
        ]

    def _hear_gateways(self, new: list[EventPayload], health: list[Health]) -> None:
        db = self.db
        by_gateway: dict[tuple[str, str], list[int]] = defaultdict(list)
        for event in new:
            by_gateway[(event.station_id, event.gateway_id)].append(event.seq)
        # Health reports carry no sequence number, but they are news from the gateway.
        heard = set(by_gateway) | {(h.station_id, h.gateway_id) for h in health}
        gateways.heard(db, heard, self.received_at)
        self.result.heard.update(sid for sid, _ in heard)
        reached: dict[tuple[str, str], int] = {}
        for report in health:
            if report.last_seq:
                key = (report.station_id, report.gateway_id)
                reached[key] = max(reached.get(key, 0), report.last_seq)
        tracked = self.tracked
        tracked.update(sequences.track_batch(db, by_gateway, self.received.timestamp(), reached))
        dropped: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        for event in new:
            if isinstance(event, DropReport):
                dropped[(event.station_id, event.gateway_id)] += event.seq_ranges
        tracked.update(sequences.forget(db, dropped))
        self.result.alerts += alerts.resolve_ids(db, sorted(tracked.emptied))
        if not heard:
            return
        # A gateway marked offline for silence is back as soon as anything arrives.
        for sid, gid in sorted(gateways.silent(db) & heard):
            set_online(db, sid, gid, True, None, self.thresholds, self.result)

    def _availability(self, message: Availability) -> None:
        offset = None
        if message.at is not None:
            # A birth message goes out the moment the gateway connects, so the difference
            # to our clock is its clock's error (plus a little network delay).
            offset = round((message.at - self.received).total_seconds(), 3)
        gateways.announce(self.db, message, self.received_at, offset)
        self.result.heard.add(message.station_id)
        set_online(
            self.db,
            message.station_id,
            message.gateway_id,
            message.online,
            None if message.online else gateways.WILL,
            self.thresholds,
            self.result,
        )
        if offset is not None:
            self._clock(message.station_id, message.gateway_id, offset)

    def _clock(self, station_id: str, gateway_id: str, offset_s: float) -> None:
        detail = clock_skew(station_id, gateway_id, offset_s, self.thresholds.clock_skew_s)
        self.result.alerts += alerts.settle(
            self.db, AlertKind.CLOCK_SKEW, {(station_id, gateway_id, None): detail}
        )

    def _in_order(
        self, new: list[EventPayload], also: Iterable[GatewayKey] = ()
    ) -> list[EventPayload]:
        hold_s = self.thresholds.reorder_hold_s
        if hold_s <= 0:
            return new
        now = self.received.timestamp()
        return sequence_order.in_order(self.db, new, now, hold_s, also)

    def _entries(self, new: list[EventPayload]) -> None:
        result = self.result
        for event in new:
            if isinstance(event, AccessEvent):
                result.entries.append(
                    EntryChange(
                        event.event_id,
                        event.station_id,
                        event.gateway_id,
                        event.door_id,
                        event.direction.value,
                        event.decision.value,
                        event.reason.value,
                        event.worker_id,
                        format_utc(event.at),
                    )
                )
                if event.decision is Decision.GRANTED and event.direction is Direction.IN:
                    result.visits[event.station_id] = result.visits.get(event.station_id, 0) + 1

    def _move_counts(self, ordered: list[EventPayload]) -> None:
        moving: dict[str, list[EventPayload]] = defaultdict(list)
        for event in ordered:
            if isinstance(event, AccessEvent | CrossingEvent):
                moving[event.station_id].append(event)
        if not moving:
            return
        state = stations.load_counts(self.db, sorted(moving))
        learned: list[tuple[str, str]] = []
        for sid, station_events in moving.items():
            for event in station_events:
                state[sid].apply(event)
            learned += [(sid, door) for door in sorted(state[sid].learned_beam_doors)]
        stations.learn_beam_doors(self.db, learned)
        counts.write(self.db, {sid: s for sid, s in state.items() if s.changed_zones}, self.result)

    def _apply_in_order(self, ordered: list[EventPayload]) -> None:
        """What depends on each gateway's order: counts, alarms, doors' last states."""
        self._move_counts(ordered)
        for event in ordered:
            if isinstance(event, AlarmEvent):
                self._alarm(event)
        # In the batch's transaction: the live stream's snapshot reads them. Of two
        # states of a door at the same time, the later one in the gateway's order stays.
        door_states.remember(
            self.db, [_door_change(e) for e in ordered if isinstance(e, DoorEvent)]
        )

    def _signals(self, new: list[EventPayload]) -> None:
        readings: list[sensors.Reading] = []
        future: dict[tuple[str, str], float] = {}
        for event in new:
            ahead = (event.at - self.received).total_seconds()
            if ahead > self.thresholds.clock_skew_s:
                # Late delivery is normal after an outage; an event from the future is not.
                future[(event.station_id, event.gateway_id)] = ahead
            if isinstance(event, DoorEvent):
                self.result.doors.append(_door_change(event))
            elif isinstance(event, PresenceEvent):
                readings.append(sensors.Reading.of(event))
        for (sid, gid), ahead in future.items():
            self._clock(sid, gid, ahead)
        for sid, sensor_id in sensors.record(self.db, readings):
            self.result.alerts += alerts.resolve_condition(
                self.db, AlertKind.SENSOR_SILENT, sid, subject=sensor_id, any_gateway=True
            )

    def _tokens(self, new: list[EventPayload]) -> None:
        grants = [
            token_uses.TokenGrant(
                event.worker_id,
                format_utc(event.token_not_before),
                event.station_id,
                event.gateway_id,
            )
            for event in new
            if isinstance(event, AccessEvent)
            and event.decision is Decision.GRANTED
            and event.worker_id is not None
            and event.token_not_before is not None
        ]
        for shared in token_uses.record(self.db, grants):
            change = alerts.open_alert(
                self.db,
                AlertKind.TOKEN_SHARED,
                shared.other[0],
                shared.other[1],
                f"{shared.worker_id} {shared.not_before}",
                token_shared(shared.worker_id, shared.not_before, shared.first, shared.other),
            )
            if change is not None:
                self.result.alerts.append(change)

    def _faces(self, new: list[EventPayload]) -> None:
        pairings = [event for event in new if isinstance(event, FacePairingEvent)]
        if not pairings:
            return
        for refused in face_pairings.record(self.db, pairings, self.received_at):
            # Stored as an event, never as a pairing: the person on the terminal is
            # nobody's face id, so it opens nothing.
            log.warning(
                "face pairing %s from %s/%s (terminal %s, person %s) refused: %s",
                refused.event.event_id,
                refused.event.station_id,
                refused.event.gateway_id,
                refused.event.terminal_id,
                refused.event.person_id,
                refused.reason,
            )

    def _alarm(self, event: AlarmEvent) -> None:
        kind = AlertKind(event.alarm.value)
        if not event.active:
            self.result.alerts += alerts.resolve_condition(
                self.db, kind, event.station_id, event.gateway_id, event.door_id
            )
            return
        change = alerts.open_alert(
            self.db,
            kind,
            event.station_id,
            event.gateway_id,
            event.door_id,
            alarm(event.station_id, event.alarm.value, event.door_id),
        )
        if change is not None:
            self.result.alerts.append(change)
