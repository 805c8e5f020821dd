"""A report as the union office reads it: the stations a scope names, what the database
counted for them folded per period, and the workers' reports and suggestions beside the
visits. One place for the report routes and the tests that check the figures."""

from __future__ import annotations

from datetime import date
from typing import Literal

from dashboard.core.feedback_figures import with_feedback
from dashboard.core.reports import Period, Report, StationZone, fold
from dashboard.storage import feedback_figures, reports
from dashboard.storage.db import Database

Scope = Literal["station", "district"]


class ScopeNotFoundError(LookupError):
    """No station by that id, or none in that district."""


class DistrictCodeError(ValueError):
    """A district that is not a six-digit GB/T 2260 code."""


def scope_stations(
    database: Database, scope: Scope, scope_id: str
) -> tuple[str, list[StationZone]]:
    """The report's title and its stations: one station by id, or every station of a
    district (or city, or province) by code. `ScopeNotFoundError`, `DistrictCodeError`."""
    if scope == "station":
        station = reports.station(database, scope_id)
        if station is None:
            raise ScopeNotFoundError(f"no station {scope_id!r}")
        return station.name, [station]
    if not (scope_id.isascii() and scope_id.isdigit() and len(scope_id) == 6):
        raise DistrictCodeError("a district is a six-digit GB/T 2260 code, such as 430102")
    found = reports.district_stations(database, int(scope_id))
    if not found:
        raise ScopeNotFoundError(f"no station is in district {scope_id!r}")
    return scope_id, found


def make_report(
    database: Database,
    scope: Scope,
    scope_id: str,
    stations: list[StationZone],
    period: Period,
    first: date,
    last: date,
) -> Report:
    """The report of `stations` over the local days `first` to `last`, per `period`, with
    the workers' part."""
    figures = reports.figures(database, stations, first, last, period)
    report = fold(figures, scope, scope_id, period, first, last, [s.time_zone for s in stations])
    return with_feedback(report, feedback_figures.figures(database, stations, first, last))
