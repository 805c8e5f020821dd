"""Where each gateway's events stand in being applied in order (replicas that share).

Tables `seq_applied` (per gateway, the number up to which its events are applied) and
`seq_waiting` (events stored but not yet applied, because a number below them has not
arrived: the event as it arrived, to apply when it may); nothing else writes them. The
rules are `dashboard.core.sequence_order`'s. Functions run inside the caller's
transaction, under the station locks of the stations they touch
(`dashboard.storage.stations.lock`), and cost a fixed handful of statements per batch.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from contract.payloads import EventPayload
from contract.topics import EVENT_KINDS, event_kind_of
from dashboard.core.sequence_order import release
from dashboard.storage.db import BulkInsert, Connection
from dashboard.storage.sequences import GatewayKey

log = logging.getLogger(__name__)

_MARKS = BulkInsert(
    "seq_applied",
    (("station_id", "text"), ("gateway_id", "text"), ("through", "bigint")),
    "ON CONFLICT (station_id, gateway_id) DO UPDATE SET through = excluded.through",
)
_WAITING = BulkInsert(
    "seq_waiting",
    (
        ("station_id", "text"),
        ("gateway_id", "text"),
        ("seq", "bigint"),
        ("since", "double precision"),
        ("kind", "text"),
        ("payload", "text"),
    ),
    "ON CONFLICT DO NOTHING",
)


@dataclass(frozen=True, slots=True)
class _Held:
    since: float
    kind: str
    payload: str

    def event(self) -> EventPayload | None:
        """The event as it was stored; None (logged) if it cannot be read back, as a
        row kept by another version might not: it is stored among the events already,
        and only its part in counts and alarms is lost, rather than every batch of its
        gateway failing on it."""
        try:
            return EVENT_KINDS[self.kind].model_validate_json(self.payload)
        except (KeyError, ValueError) as error:
            log.warning("a waiting %s event could not be read back, skipped: %s", self.kind, error)
            return None


def in_order(
    db: Connection,
    new: Sequence[EventPayload],
    now: float,
    hold_s: float,
    also: Iterable[GatewayKey] = (),
) -> list[EventPayload]:
    """Of `new` (a batch's newly stored events) and the events waiting before them, those
    to apply now, each gateway's in its order; the rest wait. `also`: gateways whose
    waiting events are looked at without new ones (the periodic release of those that
    waited `hold_s`)."""
    arrived: dict[GatewayKey, dict[int, EventPayload]] = defaultdict(dict)
    for event in new:
        arrived[(event.station_id, event.gateway_id)].setdefault(event.seq, event)
    keys = set(arrived) | set(also)
    if not keys:
        return []
    among, station_ids = db.among(sorted({sid for sid, _ in keys}))
    marks = {
        (sid, gid): int(through)
        for sid, gid, through in db.execute(
            f"SELECT station_id, gateway_id, through FROM seq_applied WHERE station_id {among}",
            station_ids,
        ).fetchall()
    }
    held: dict[GatewayKey, dict[int, _Held]] = defaultdict(dict)
    for sid, gid, seq, since, kind, payload in db.execute(
        "SELECT station_id, gateway_id, seq, since, kind, payload FROM seq_waiting "
        f"WHERE station_id {among}",
        station_ids,
    ).fetchall():
        if (sid, gid) in keys:
            held[(sid, gid)][int(seq)] = _Held(float(since), kind, payload)
    ready: list[EventPayload] = []
    moved: list[tuple[str, str, int]] = []
    released: list[tuple[str, str, int]] = []
    waits: list[tuple[str, str, int, float, str, str]] = []
    for key in sorted(keys):
        sid, gid = key
        mine, theirs = arrived.get(key, {}), held.get(key, {})
        through = marks.get(key, 0)
        since = min((h.since for h in theirs.values()), default=None)
        step = release(through, [*mine, *theirs], since, now, hold_s)
        for seq in step.ready:
            if seq in theirs:
                kept = theirs[seq].event()
                if kept is not None:
                    ready.append(kept)
                released.append((sid, gid, seq))
            else:
                ready.append(mine[seq])
        for seq in step.waiting:
            if seq not in theirs:
                event = mine[seq]
                kind = event_kind_of(type(event))
                # As on the wire, the form the events table keeps.
                waits.append((sid, gid, seq, now, kind, event.to_json().decode()))
        if step.through != through:
            moved.append((sid, gid, step.through))
    db.insert_rows(_MARKS, moved)
    db.executemany(
        "DELETE FROM seq_waiting WHERE station_id = ? AND gateway_id = ? AND seq = ?", released
    )
    db.insert_rows(_WAITING, waits)
    return ready


def overdue(db: Connection, waiting_since: float) -> set[GatewayKey]:
    """Gateways with an event waiting since `waiting_since` or before."""
    return {
        (sid, gid)
        for sid, gid in db.execute(
            "SELECT DISTINCT station_id, gateway_id FROM seq_waiting WHERE since <= ?",
            (waiting_since,),
        ).fetchall()
    }
