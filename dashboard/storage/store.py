"""The central's database as the API, the services and the tools use it: one object that
borrows a connection or a transaction and hands the work to the aggregate modules.

Each aggregate is a module of its own that alone writes its tables: `stations` (with
zones and doors), `gateways`, `events` (with entries), `quarantine`, `counts` (with
corrections), `alerts`, `sequences`, `sensors`, `devices`, `door_states`, `history`;
workers, operators and keys have their own stores. What needs several aggregates in one
transaction is put together here (deleting a station, retention) or in the ingest (a
batch, the periodic checks: `dashboard.ingest`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from contract.payloads import format_utc, utc_now
from dashboard.core.alert_rules import AlertChange
from dashboard.core.changes import BatchResult, GatewayRow, OccupancyChange
from dashboard.core.station_policy import (
    GatewayConfigState,
    PolicyInput,
    config_state,
    desired_settings,
)
from dashboard.core.stations import StationInput
from dashboard.storage import (
    alerts,
    commands,
    counts,
    devices,
    door_states,
    entry_names,
    events,
    gateway_configs,
    gateways,
    history,
    quarantine,
    sensors,
    station_policies,
    stations,
    token_uses,
)
from dashboard.storage.alerts import AlertRow
from dashboard.storage.counts import CorrectionRow
from dashboard.storage.db import Connection, Database
from dashboard.storage.entry_names import NamedEntry
from dashboard.storage.events import EntryFilter, EntryRow, decode_cursor, encode_cursor
from dashboard.storage.migrations import open_database
from dashboard.storage.quarantine import Quarantined, QuarantineRow
from dashboard.storage.station_policies import PolicyRow
from dashboard.storage.stations import (
    StationColumns,
    StationDetail,
    StationLocationRow,
    StationNotFoundError,
    StationNumberError,
    StationRow,
    ZoneRow,
)

__all__ = [
    # Rows and errors kept importable from here while callers move to their modules.
    "AlertRow",
    "CorrectionRow",
    "EntryFilter",
    "EntryRow",
    "QuarantineRow",
    "Quarantined",
    "StationColumns",
    "StationDetail",
    "StationNotFoundError",
    "StationNumberError",
    "StationRow",
    "Store",
    "ZoneRow",
    "decode_cursor",
    "encode_cursor",
]


@dataclass(frozen=True, slots=True)
class Purged:
    """What a retention purge removed."""

    events: int
    """Events deleted row by row (on PostgreSQL, those of the month the cut-off is in)."""
    partitions: list[str]
    """Monthly partitions of events and entries dropped whole (PostgreSQL)."""


class Store:
    """The central's database. Safe to share between threads."""

    def __init__(self, database: Database) -> None:
        """Use a database already upgraded (`open_database`, or `Store.open`)."""
        self.db = database

    @classmethod
    def open(cls, url: str) -> Store:
        """A store on the database at `url` (`sqlite:///...` or `postgresql://...`),
        upgraded to the current schema."""
        return cls(open_database(url))

    def close(self) -> None:
        """Close idle connections."""
        self.db.close()

    # --- stations ----------------------------------------------------------------------

    def upsert_station(
        self,
        station_id: str,
        name: str,
        lat: float | None,
        lon: float | None,
        capacity: int | None,
    ) -> None:
        """Register a station or update its place and capacity; counts are left alone."""
        with self.db.transaction() as db:
            stations.upsert(db, station_id, name, lat, lon, capacity)

    def put_station(self, station: StationInput) -> bool:
        """Create or replace a station's description; True when it is new.

        Counts are kept; zones no longer named lose their count.
        """
        with self.db.transaction() as db:
            return _put_station(db, station)

    def put_stations(self, stations: Sequence[StationInput]) -> int:
        """Create or replace many stations in one transaction; how many were new.

        Stations that name their number are stored first, so that a number the registry
        gives another station of the same batch cannot take it. `StationNumberError`
        stores none of them."""
        ordered = sorted(stations, key=lambda s: s.number is None)
        with self.db.transaction() as db:
            return sum(_put_station(db, s) for s in ordered)

    def delete_station(self, station_id: str) -> None:
        """Forget a station's description, zones, doors, gateways and sensors.

        Its events and entries stay until retention removes them.
        """
        with self.db.transaction() as db:
            stations.forget(db, station_id)
            door_states.forget_station(db, station_id)
            gateways.forget_station(db, station_id)
            sensors.forget_station(db, station_id)
            devices.forget_station(db, station_id)
            station_policies.forget(db, station_id)
            gateway_configs.forget_station(db, station_id)

    def station_locations(self) -> list[StationLocationRow]:
        """Every station's number and region code."""
        with self.db.connection() as db:
            return stations.locations(db)

    def put_policy(
        self, station_id: str, policy: PolicyInput, by: str
    ) -> tuple[PolicyRow, list[str]]:
        """Store a station's policy (its capacity and hours on the station too, so the map
        and the gateways never disagree) in one transaction; the row and the station's gateways.
        `StationNotFoundError`."""
        with self.db.transaction() as db:
            detail = stations.detail(db, station_id)
            settings = desired_settings(policy, [d.id for d in detail.doors])
            stations.set_policy(db, station_id, policy.capacity, policy.opening_hours)
            row = station_policies.put(
                db, station_id, policy.model_dump(exclude_none=True), settings, by
            )
            return row, detail.gateways

    def policy_states(self, station_id: str) -> tuple[PolicyRow | None, list[GatewayConfigState]]:
        """A station's policy and where each of its gateways stands with it (a gateway
        without a policy to compare is `applied` against nothing); `StationNotFoundError`."""
        with self.db.connection() as db:
            detail = stations.detail(db, station_id)
            row = station_policies.get(db, station_id)
            reports = gateway_configs.of_station(db, station_id)
        if row is None:
            return None, []
        return row, [
            config_state(gw, row.version, row.settings, row.set_at, reports.get(gw))
            for gw in detail.gateways
        ]

    def stations(self) -> list[StationRow]:
        """Every station, with whether any of its gateways is online."""
        with self.db.connection() as db:
            return stations.all_rows(db)

    def station_columns(self) -> StationColumns:
        """Every station's map fields as columns (a fast read for a whole country)."""
        with self.db.connection() as db:
            return stations.columns(db)

    def station_live_columns(
        self,
    ) -> tuple[list[str], list[int], list[int | None], list[bool], list[str | None]]:
        """Every station's id, occupancy, capacity, online flag and last-seen time (id
        order)."""
        with self.db.connection() as db:
            return stations.live_columns(db)

    def station_live_of(
        self, station_ids: Iterable[str]
    ) -> list[tuple[str, int, int | None, bool, str | None]]:
        """Of these stations, the id, occupancy, capacity, online flag and last-seen time."""
        with self.db.connection() as db:
            return stations.live_of(db, station_ids)

    def station_signature(self) -> tuple[int, str]:
        """Changes whenever a station is described, changed or deleted (not with counts)."""
        with self.db.connection() as db:
            return stations.signature(db)

    def station(self, station_id: str) -> StationDetail:
        """One station with zones, doors and gateways; `StationNotFoundError`."""
        with self.db.connection() as db:
            return stations.detail(db, station_id)

    def occupancy_of(self, station_ids: Iterable[str]) -> list[OccupancyChange]:
        """These stations' counts as stored now."""
        with self.db.connection() as db:
            return stations.occupancy_of(db, station_ids)

    def zone_counts(self) -> dict[str, dict[str, int]]:
        """Station id → zone → count, for every station."""
        with self.db.connection() as db:
            return stations.zone_counts(db)

    # --- counts ------------------------------------------------------------------------

    def correct_occupancy(
        self, station_id: str, zone: str, count: int, by: str, reason: str
    ) -> BatchResult:
        """Set a zone's count by hand, with an audit record; `StationNotFoundError`,
        `KeyError` for a zone the station does not have."""
        with self.db.transaction() as db:
            return counts.correct(db, station_id, zone, count, by, reason)

    def corrections(self, station_id: str, limit: int = 100) -> list[CorrectionRow]:
        """A station's audited count changes, newest first."""
        with self.db.connection() as db:
            return counts.corrections(db, station_id, limit)

    # --- events, entries and quarantine ------------------------------------------------

    def entries(
        self,
        limit: int,
        station_id: str | None = None,
        where: EntryFilter | None = None,
        cursor: str | None = None,
    ) -> list[EntryRow]:
        """Access decisions, newest first; `cursor` continues after a previous page."""
        with self.db.connection() as db:
            return events.entries(db, limit, where or EntryFilter(station_id=station_id), cursor)

    def named_entries(
        self, limit: int, where: EntryFilter, cursor: str | None = None
    ) -> list[NamedEntry]:
        """Access decisions, newest first, with station and worker names and the station's
        time zone; `cursor` continues after a previous page (`ValueError` if not one)."""
        with self.db.connection() as db:
            return entry_names.named(db, events.entries(db, limit, where, cursor))

    def stations_matching(self, text: str) -> list[str]:
        """The ids of the stations `text` names (an id, or part of a name)."""
        with self.db.connection() as db:
            return entry_names.stations_matching(db, text)

    def entries_today(self, now: datetime | None = None) -> int:
        """Granted entries since each station's own midnight."""
        with self.db.connection() as db:
            return entry_names.entries_today(db, now or utc_now())

    def event_count(self) -> int:
        """How many distinct events are stored."""
        with self.db.connection() as db:
            return events.count(db)

    def event_payload(self, event_id: str) -> dict[str, object] | None:
        """The stored payload of one event, as it arrived."""
        with self.db.connection() as db:
            return events.payload(db, event_id)

    def quarantine(self, limit: int, code: str | None = None) -> list[QuarantineRow]:
        """Quarantined messages, newest first, optionally of one rejection code."""
        with self.db.connection() as db:
            return quarantine.rows(db, limit, code)

    # --- alerts and gateways -----------------------------------------------------------

    def alerts(
        self,
        open_only: bool = True,
        limit: int = 100,
        kind: str | None = None,
        station_id: str | None = None,
        status: str | None = None,
    ) -> list[AlertRow]:
        """Alerts, newest first; only unresolved ones unless `open_only` is False."""
        with self.db.connection() as db:
            return alerts.rows(db, open_only, limit, kind, station_id, status)

    def open_alert_count(self) -> int:
        """How many alerts are unresolved."""
        with self.db.connection() as db:
            return alerts.open_count(db)

    def alert(self, alert_id: int) -> AlertRow:
        """One alert; `LookupError` if there is none."""
        with self.db.connection() as db:
            return alerts.row(db, alert_id)

    def acknowledge_alert(self, alert_id: int, by: str, note: str | None = None) -> AlertChange:
        """An operator takes an alert, with an optional note (`LookupError`,
        `AlertStateError`)."""
        with self.db.transaction() as db:
            return alerts.acknowledge(db, alert_id, by, note)

    def resolve_alert(self, alert_id: int, by: str, note: str | None = None) -> AlertChange:
        """An operator resolves an alert, with an optional note (`LookupError`,
        `AlertStateError`)."""
        with self.db.transaction() as db:
            return alerts.resolve(db, alert_id, by, note)

    def add_gateway(self, station_id: str, gateway_id: str) -> bool:
        """Know a new gateway of a described station (offline until heard from); False
        if it was known already. `StationNotFoundError` for an unknown station."""
        with self.db.transaction() as db:
            stations.require(db, station_id)
            known = {row.gateway_id for row in gateways.rows(db, station_id)}
            gateways.register(db, station_id, [gateway_id])
            if gateway_id not in known:
                stations.touch(db, station_id)
        return gateway_id not in known

    def remove_gateway(self, station_id: str, gateway_id: str) -> bool:
        """Forget one gateway (its events stay until retention); whether it was known."""
        with self.db.transaction() as db:
            forgotten = gateways.forget(db, station_id, gateway_id)
            if forgotten:
                stations.touch(db, station_id)
            return forgotten

    def gateways(self, station_id: str | None = None) -> list[GatewayRow]:
        """Every gateway's health, by station."""
        with self.db.connection() as db:
            return gateways.rows(db, station_id)

    # --- retention ---------------------------------------------------------------------

    def prepare_months(self, now: datetime) -> None:
        """Make the event partitions (PostgreSQL) of the month of `now` and the next one
        ahead, so that ingest seldom has to make one on demand."""
        first = now.date().replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        with self.db.connection() as db:
            events.prepare_months(db, [first, following])

    def purge(self, before: datetime) -> Purged:
        """Delete entries, events, quarantined messages, corrections, occupancy history and
        ended commands older than `before`, and granted tokens past `token_uses.RETENTION`
        (or `before`, when that is later); what went. On PostgreSQL the months of events
        and entries wholly older than `before` go first, as whole partitions, each table
        locked only for that short transaction."""
        cutoff = format_utc(before)
        tokens_cutoff = format_utc(max(before, utc_now() - token_uses.RETENTION))
        with self.db.transaction() as db:
            dropped = events.drop_months_before(db, cutoff)
        with self.db.transaction() as db:
            gone = events.purge(db, cutoff)
            quarantine.purge(db, cutoff)
            counts.purge(db, cutoff)
            history.purge(db, cutoff)
            commands.purge(db, cutoff)
            token_uses.purge(db, tokens_cutoff)
        return Purged(gone, dropped)


def _put_station(db: Connection, station: StationInput) -> bool:
    new = stations.put(db, station)
    gateways.register(
        db, station.id, [*station.gateways, *(d.gateway_id for d in station.doors if d.gateway_id)]
    )
    return new
