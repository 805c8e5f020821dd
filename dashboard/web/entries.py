"""`/api/entries`: the access decisions at every door, as pages of JSON or as one CSV."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import fields, replace
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse

from contract.payloads import Reason, format_utc
from dashboard.core.csv_export import BOM, csv_text, readable_entry_row, readable_header
from dashboard.storage.entry_names import NamedEntry
from dashboard.storage.store import EntryFilter, EntryRow, Store, encode_cursor
from dashboard.web.errors import ApiError, error_responses
from dashboard.web.params import Moment
from dashboard.web.ui import LANGUAGES, catalogue

ENTRY_COLUMNS = [field.name for field in fields(EntryRow)]
"""The CSV's columns: an entry's fields, in order."""

PAGE = 1000
"""Rows read per query while the CSV streams."""


def entry_filter(
    station_id: str | None = None,
    station: Annotated[str | None, Query(max_length=200)] = None,
    gateway_id: str | None = None,
    door_id: str | None = None,
    decision: Literal["granted", "denied"] | None = None,
    direction: Literal["in", "out"] | None = None,
    worker_id: str | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
    reason: Reason | None = None,
) -> EntryFilter:
    """The query parameters that narrow the entries (each optional); `reason` is one
    decision reason (`full`, `expired`, ...); `station` is a station's id or part of its
    name (五一 finds 五一广场驿站), resolved against the registry when the query runs."""
    return EntryFilter(
        station_text=station.strip() if station and station.strip() else None,
        reason=None if reason is None else reason.value,
        station_id=station_id,
        gateway_id=gateway_id,
        door_id=door_id,
        decision=decision,
        direction=direction,
        worker_id=worker_id,
        since=None if since is None else format_utc(since),
        until=None if until is None else format_utc(until),
    )


Filter = Annotated[EntryFilter, Depends(entry_filter)]

Language = Literal["en", "zh-CN"]
"""A language of the UI's catalogues (`dashboard.web.ui.LANGUAGES`)."""


def entries_router(store: Store) -> APIRouter:
    """The entry log over the store."""
    router = APIRouter(tags=["entries"])
    labels = {language: catalogue(language) for language in LANGUAGES}

    def resolved(where: EntryFilter) -> EntryFilter:
        # A typed station name becomes the ids it matches (none: no entry matches).
        if where.station_text is None:
            return where
        ids = tuple(store.stations_matching(where.station_text))
        return replace(where, station_text=None, station_ids=ids)

    @router.get(
        "/api/entries",
        responses={
            200: {"headers": {"X-Next-Cursor": {"schema": {"type": "string"}}}},
            **error_responses(422),
        },
    )
    def entries(
        response: Response,
        where: Filter,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(max_length=400)] = None,
    ) -> list[NamedEntry]:
        """Access decisions, newest first, each with its station's name and time zone and
        its worker's name. A full page answers `X-Next-Cursor`: pass it as `cursor` for the
        next page (422 for a cursor this API did not give)."""
        try:
            rows = store.named_entries(limit, resolved(where), cursor=cursor)
        except ValueError as exc:
            raise ApiError(
                422, str(exc), [{"where": "query.cursor", "problem": str(exc)}]
            ) from None
        if len(rows) == limit:
            response.headers["X-Next-Cursor"] = encode_cursor(rows[-1])
        return rows

    @router.get(
        "/api/entries.csv",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "The entries as CSV, newest first. Without `lang`: UTF-8, "
                "a header row of field names, UTC times and raw values, for scripts. With "
                "`lang`: for people and spreadsheets, UTF-8 with a BOM, each time in its "
                "station's zone, names beside ids, translated header and values.",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            },
            **error_responses(422),
        },
    )
    def entries_csv(
        where: Filter,
        max_rows: Annotated[int, Query(ge=1, le=5_000_000)] = 1_000_000,
        lang: Language | None = None,
    ) -> StreamingResponse:
        """The same entries as CSV, streamed page by page."""
        chosen = resolved(where)
        words = None if lang is None else labels[lang]

        def rows() -> Iterator[str]:
            if words is None:
                yield csv_text([ENTRY_COLUMNS])
            else:
                yield BOM + csv_text([readable_header(words)])
            cursor: str | None = None
            sent = 0
            while sent < max_rows:
                page: Sequence[EntryRow | NamedEntry]
                if words is None:
                    page = store.entries(min(PAGE, max_rows - sent), where=chosen, cursor=cursor)
                    yield csv_text([getattr(row, c) for c in ENTRY_COLUMNS] for row in page)
                else:
                    page = store.named_entries(min(PAGE, max_rows - sent), chosen, cursor)
                    yield csv_text(readable_entry_row(row, words) for row in page)
                sent += len(page)
                if len(page) < PAGE:
                    return
                cursor = encode_cursor(page[-1])

        return StreamingResponse(
            rows(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="entries.csv"'},
        )

    return router
