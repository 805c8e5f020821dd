"""`/api/reports`: figures for the union office per station or district, as JSON, CSV or
XLSX (role viewer, like every read)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel

from contract.payloads import utc_now
from dashboard.core.report_table import Translate
from dashboard.core.reports import (
    Period,
    Report,
    ReportRangeError,
    check_range,
)
from dashboard.services.reports import (
    DistrictCodeError,
    Scope,
    ScopeNotFoundError,
    make_report,
    scope_stations,
)
from dashboard.storage.store import Store
from dashboard.web.errors import ApiError, error_responses
from dashboard.web.report_files import report_csv, report_xlsx
from dashboard.web.ui import LANGUAGES, catalogue

Language = Literal["en", "zh-CN"]
assert set(LANGUAGES) == {"en", "zh-CN"}


class ReportQuery(BaseModel):
    """What a report covers: a station or a district, local days `first` to `last`."""

    scope: Scope
    id: str
    period: Period
    first: date
    last: date


def report_query(
    scope: Annotated[Scope, Query(description="`station` or `district`")],
    id: Annotated[
        str,
        Query(
            min_length=1,
            max_length=64,
            description="A station id, or a GB/T 2260 code: a district (`430102`), a city "
            "(`430100`: its districts) or a province (`430000`).",
        ),
    ],
    first: Annotated[date, Query(alias="from", description="First local day, 2026-11-01")],
    last: Annotated[date, Query(alias="to", description="Last local day (included)")],
    period: Annotated[Period, Query(description="Rows per `day`, `week` or `month`")] = "day",
) -> ReportQuery:
    """The query parameters of every report route."""
    return ReportQuery(scope=scope, id=id, period=period, first=first, last=last)


Wanted = Annotated[ReportQuery, Depends(report_query)]


def reports_router(store: Store) -> APIRouter:
    """`GET /api/reports`, `/api/reports.csv` and `/api/reports.xlsx`."""
    router = APIRouter(tags=["reports"])

    def make(query: ReportQuery) -> tuple[str, Report]:
        try:
            check_range(query.first, query.last)
        except ReportRangeError as exc:
            raise ApiError(422, str(exc), [{"where": "query.to", "problem": str(exc)}]) from None
        try:
            name, found = scope_stations(store.db, query.scope, query.id)
        except ScopeNotFoundError as exc:
            raise ApiError(404, str(exc)) from None
        except DistrictCodeError as exc:
            problem = str(exc)
            raise ApiError(422, problem, [{"where": "query.id", "problem": problem}]) from None
        report = make_report(
            store.db, query.scope, query.id, found, query.period, query.first, query.last
        )
        return name, report

    @router.get("/api/reports", responses=error_responses(404, 422))
    def report(query: Wanted) -> Report:
        """Visits (granted entries), unique workers, stays (median and 90th percentile,
        in seconds), refused entries by reason, per day, week or month in each station's
        time zone, with the total, the busy hours (visits by weekday and hour) and, for a
        district, each station's totals. `feedback`: workers' fault reports and
        suggestions made in the range, per category (and per station, beside its visits,
        for a district), how many were resolved or answered done or declined, and the
        median time that took in seconds. At most 13 months at once."""
        return make(query)[1]

    def translator(language: Language) -> Translate:
        words = catalogue(language)
        return lambda key: words.get(key, key)

    def filename(query: ReportQuery, ext: str) -> str:
        return f"report-{query.scope}-{query.id}-{query.first}-{query.last}-{query.period}.{ext}"

    def download(body: bytes, media_type: str, name: str) -> Response:
        # Ids are slugs or digits: the name needs no quoting beyond the quotes.
        return Response(
            body,
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @router.get(
        "/api/reports.csv",
        response_class=Response,
        responses={
            200: {
                "description": "The report as CSV: UTF-8 with a byte order mark, headers "
                "in the language asked for, stays in minutes; after an empty line, the "
                "workers' reports and suggestions, times to close in hours.",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            },
            **error_responses(404, 422),
        },
    )
    def report_as_csv(query: Wanted, lang: Language = "zh-CN") -> Response:
        """The report's rows as CSV, headers in `lang`."""
        name, made = make(query)
        return download(
            report_csv(made, name, translator(lang)),
            "text/csv; charset=utf-8",
            filename(query, "csv"),
        )

    @router.get(
        "/api/reports.xlsx",
        response_class=Response,
        responses={
            200: {
                "description": "The report as an Excel workbook: the rows under a title, "
                "the busy hours on a second sheet, workers' reports and suggestions on a "
                "third.",
                "content": {
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                        "schema": {"type": "string", "format": "binary"}
                    }
                },
            },
            **error_responses(404, 422),
        },
    )
    def report_as_xlsx(query: Wanted, lang: Language = "zh-CN") -> Response:
        """The report as an XLSX workbook, headers in `lang`."""
        name, made = make(query)
        zone = ZoneInfo(made.time_zones[0])
        made_at = utc_now().astimezone(zone).strftime("%Y-%m-%d %H:%M")
        return download(
            report_xlsx(made, name, translator(lang), made_at),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            filename(query, "xlsx"),
        )

    return router
