"""Reports for the union office: the figures, counted by the database from `entries`.

Reads only. Every figure is an SQL aggregate that SQLite and PostgreSQL compute alike:
local times are UTC plus the offset the station's zone had then (`OffsetSpan`s from
`dashboard.core.reports`, as a `CASE` when a range meets more than one), periods are
read off the local time as text, and percentiles rank the stays with `row_number()`
and `count(*)` windows (SQLite has no `percentile_cont`; the rule is in
`dashboard.core.reports`). The index `entries_for_reports` covers every column read,
so a report reads no table rows.

Five statements per report: entries by local hour, decision and reason (visits,
refusals, the busy hours); unique workers per period and over the range; stays with
their percentiles; totals per station.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from contract.payloads import format_utc
from dashboard.core.reports import (
    MAX_STAY,
    Figures,
    HourCount,
    OffsetSpan,
    Period,
    StationTotals,
    StationZone,
    StayFigures,
    local_bounds,
    offset_spans,
    region_codes,
)
from dashboard.storage.db import Connection, Database


@dataclass(frozen=True, slots=True)
class _Sql:
    text: str
    params: tuple[object, ...] = ()


@dataclass(frozen=True, slots=True)
class _ZoneGroup:
    station_ids: tuple[str, ...]
    since: datetime
    until: datetime
    spans: list[OffsetSpan]


def station(database: Database, station_id: str) -> StationZone | None:
    """The station by its id, with its time zone; None if there is none."""
    with database.connection() as db:
        row = db.execute(
            "SELECT id, name, time_zone FROM stations WHERE id = ?", (station_id,)
        ).fetchone()
    return None if row is None else StationZone(row[0], row[1], row[2])


def district_stations(database: Database, code: int) -> list[StationZone]:
    """The stations whose region code the GB/T 2260 `code` covers (a district, or a
    city's or province's districts), by id."""
    low, high = region_codes(code)
    with database.connection() as db:
        rows = db.execute(
            "SELECT id, name, time_zone FROM stations"
            " WHERE region_code BETWEEN ? AND ? ORDER BY id",
            (low, high),
        ).fetchall()
    return [StationZone(r[0], r[1], r[2]) for r in rows]


def figures(
    database: Database, stations: Sequence[StationZone], first: date, last: date, period: Period
) -> Figures:
    """Everything a report of `stations` over the local days `first`..`last` shows."""
    groups = _groups(stations, first, last)
    names = {s.id: s.name for s in stations}
    with database.connection() as db:
        query = _Query(db, groups, period)
        hours = query.hours()
        unique, unique_total = query.unique_workers()
        stays, stays_total = query.stays()
        totals = query.station_totals(names)
    return Figures(hours, unique, unique_total, stays, stays_total, totals)


def _groups(stations: Sequence[StationZone], first: date, last: date) -> list[_ZoneGroup]:
    by_zone: dict[str, list[str]] = {}
    for s in stations:
        by_zone.setdefault(s.time_zone, []).append(s.id)
    groups = []
    for zone, ids in sorted(by_zone.items()):
        since, until = local_bounds(zone, first, last)
        groups.append(_ZoneGroup(tuple(ids), since, until, offset_spans(zone, since, until)))
    return groups


class _Query:
    """The statements of one report, over one borrowed connection."""

    def __init__(self, db: Connection, groups: list[_ZoneGroup], period: Period) -> None:
        self.db = db
        self.groups = groups
        self.period = period
        self.sqlite = db.dialect == "sqlite"

    # --- pieces ------------------------------------------------------------------------

    def _where(self, lookahead: bool = False) -> _Sql:
        """Entries of the report's stations in their local range (and `MAX_STAY` past it
        for `lookahead`, where the exits of the last stays are)."""
        parts: list[str] = []
        params: list[object] = []
        for group in self.groups:
            among, values = self.db.among(group.station_ids)
            until = group.until + MAX_STAY if lookahead else group.until
            parts.append(f"(station_id {among} AND at >= ? AND at < ?)")
            params += [*values, format_utc(group.since), format_utc(until)]
        return _Sql("(" + " OR ".join(parts) + ")", tuple(params))

    def _offset(self) -> _Sql:
        """Minutes the entry's local time is ahead of UTC."""
        minutes = {span.minutes for g in self.groups for span in g.spans}
        if len(minutes) == 1:
            return _Sql(str(minutes.pop()))
        cases: list[str] = []
        params: list[object] = []
        for group in self.groups:
            among, values = self.db.among(group.station_ids)
            for span in group.spans[:-1]:
                cases.append(f"WHEN station_id {among} AND at < ? THEN {span.minutes}")
                params += [*values, format_utc(span.until)]
            cases.append(f"WHEN station_id {among} THEN {group.spans[-1].minutes}")
            params += values
        return _Sql("(CASE " + " ".join(cases) + " ELSE 0 END)", tuple(params))

    def _local(self, sqlite_format: str, pg_format: str, week: bool = False) -> _Sql:
        """The entry's local time as text."""
        offset = self._offset()
        if self.sqlite:
            modifier = f"({offset.text} || ' minutes')"
            if week:
                # The Monday on or before: the next Sunday (or the day itself), less 6 days.
                return _Sql(f"date(at, {modifier}, 'weekday 0', '-6 days')", offset.params)
            return _Sql(f"strftime('{sqlite_format}', at, {modifier})", offset.params)
        local = f"(at::timestamp + {offset.text} * interval '1 minute')"
        if week:
            local = f"date_trunc('week', {local})"
        return _Sql(f"to_char({local}, '{pg_format}')", offset.params)

    def _hour(self) -> _Sql:
        return self._local("%Y-%m-%d %H", "YYYY-MM-DD HH24")

    def _period(self) -> _Sql:
        if self.period == "day":
            return self._local("%Y-%m-%d", "YYYY-MM-DD")
        if self.period == "week":
            return self._local("", "YYYY-MM-DD", week=True)
        return self._local("%Y-%m-01", "YYYY-MM-01")

    def _seconds(self) -> str:
        if self.sqlite:
            return "CAST(round((julianday(next_at) - julianday(at)) * 86400) AS INTEGER)"
        return "CAST(round(extract(epoch FROM next_at::timestamptz - at::timestamptz)) AS BIGINT)"

    def _run(self, sql: str, *pieces: _Sql) -> list[tuple[object, ...]]:
        params = [p for piece in pieces for p in piece.params]
        return [tuple(row) for row in self.db.execute(sql, params).fetchall()]

    # --- statements --------------------------------------------------------------------

    def hours(self) -> list[HourCount]:
        """Entries by local hour, decision and reason."""
        hour, where = self._hour(), self._where()
        rows = self._run(
            f"SELECT {hour.text} AS hour, decision, reason, count(*) FROM entries"
            f" WHERE direction = 'in' AND {where.text} GROUP BY 1, 2, 3",
            hour,
            where,
        )
        return [HourCount(str(r[0]), str(r[1]), str(r[2]), _int(r[3])) for r in rows]

    def unique_workers(self) -> tuple[dict[str, int], int]:
        """Distinct workers let in, per period and over the range."""
        granted = "direction = 'in' AND decision = 'granted' AND worker_id IS NOT NULL"
        key, where = self._period(), self._where()
        by_period = self._run(
            f"SELECT {key.text}, count(DISTINCT worker_id) FROM entries"
            f" WHERE {granted} AND {where.text} GROUP BY 1",
            key,
            where,
        )
        total = self._run(
            f"SELECT count(DISTINCT worker_id) FROM entries WHERE {granted} AND {where.text}",
            where,
        )
        return {str(r[0]): _int(r[1]) for r in by_period}, _int(total[0][0])

    def stays(self) -> tuple[dict[str, StayFigures], StayFigures]:
        """Stays that began in each period, and in the whole range, with percentiles."""
        ahead, key, where = self._where(lookahead=True), self._period(), self._where()
        # MATERIALIZED: SQLite otherwise runs the moves' window again for each window
        # of the ranking (a third of this statement's time, measured).
        rows = self._run(
            f"""
            WITH moves AS MATERIALIZED (
                SELECT station_id, at, direction,
                    LEAD(at) OVER w AS next_at, LEAD(direction) OVER w AS next_direction
                FROM entries
                WHERE decision = 'granted' AND worker_id IS NOT NULL AND {ahead.text}
                WINDOW w AS (PARTITION BY station_id, worker_id ORDER BY at, direction)
            ), stays AS MATERIALIZED (
                SELECT {key.text} AS period, {self._seconds()} AS stay FROM moves
                WHERE direction = 'in' AND next_direction = 'out' AND {where.text}
            ), ranked AS (
                SELECT period, stay,
                    row_number() OVER (PARTITION BY period ORDER BY stay) AS rank,
                    count(*) OVER (PARTITION BY period) AS n,
                    row_number() OVER (ORDER BY stay) AS rank_all,
                    count(*) OVER () AS n_all
                FROM stays WHERE stay <= {int(MAX_STAY.total_seconds())}
            )
            SELECT period, max(n),
                min(CASE WHEN rank >= 0.5 * n THEN stay END),
                min(CASE WHEN rank >= 0.9 * n THEN stay END),
                max(n_all),
                min(CASE WHEN rank_all >= 0.5 * n_all THEN stay END),
                min(CASE WHEN rank_all >= 0.9 * n_all THEN stay END)
            FROM ranked GROUP BY period
            """,
            ahead,
            key,
            where,
        )
        by_period = {str(r[0]): StayFigures(_int(r[1]), _maybe(r[2]), _maybe(r[3])) for r in rows}
        if not rows:
            return by_period, StayFigures(0, None, None)
        # Each period's smallest stay past the overall rank; the smallest of those is it.
        medians = [_int(r[5]) for r in rows if r[5] is not None]
        p90s = [_int(r[6]) for r in rows if r[6] is not None]
        return by_period, StayFigures(_int(rows[0][4]), min(medians), min(p90s))

    def station_totals(self, names: dict[str, str]) -> list[StationTotals]:
        """Each station's visits, unique workers and refusals over the range."""
        where = self._where()
        rows = self._run(
            "SELECT station_id,"
            " sum(CASE WHEN decision = 'granted' THEN 1 ELSE 0 END),"
            " count(DISTINCT CASE WHEN decision = 'granted' THEN worker_id END),"
            " sum(CASE WHEN decision = 'granted' THEN 0 ELSE 1 END)"
            f" FROM entries WHERE direction = 'in' AND {where.text} GROUP BY station_id",
            where,
        )
        found = {str(r[0]): r for r in rows}
        totals = []
        for station_id, name in sorted(names.items()):
            r = found.get(station_id)
            if r is None:
                totals.append(StationTotals(station_id, name))
            else:
                totals.append(StationTotals(station_id, name, _int(r[1]), _int(r[2]), _int(r[3])))
        return totals


def _int(value: object) -> int:
    # Counts and seconds: int on SQLite, int or Decimal on PostgreSQL.
    assert isinstance(value, int | float | Decimal), value
    return int(value)


def _maybe(value: object) -> int | None:
    return None if value is None else _int(value)


@dataclass(frozen=True, slots=True)
class RangeSql:
    """A report's range for rows of another table with `station_id` and `at` (UTC text)
    columns: the condition that a row is in it, and its local period, each with its
    parameters."""

    where: str
    where_params: tuple[object, ...]
    period: str
    period_params: tuple[object, ...]


def range_sql(
    db: Connection, stations: Sequence[StationZone], first: date, last: date, period: Period
) -> RangeSql:
    """The SQL that puts other rows in a report's stations, local days and periods, the
    way its entries are (`dashboard.storage.feedback_figures` counts workers' reports)."""
    query = _Query(db, _groups(stations, first, last), period)
    where, key = query._where(), query._period()
    return RangeSql(where.text, where.params, key.text, key.params)
