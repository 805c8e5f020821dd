"""`/api/entries`: the access decisions at every door, as pages of JSON or as one CSV."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse

from contract.payloads import Reason, format_utc
from dashboard.core.csv_export import csv_text
from dashboard.storage.store import EntryFilter, EntryRow, Store, encode_cursor
from dashboard.web.errors import ApiError, error_responses
from dashboard.web.params import Moment

ENTRY_COLUMNS = [field.name for field in fields(EntryRow)]
"""The CSV's columns: an entry's fields, in order."""

PAGE = 1000
"""Rows read per query while the CSV streams."""


def entry_filter(
    station_id: str | None = None,
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
    decision reason (`full`, `expired`, ...)."""
    return EntryFilter(
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


def entries_router(store: Store) -> APIRouter:
    """The entry log over the store."""
    router = APIRouter(tags=["entries"])

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
    ) -> list[EntryRow]:
        """Access decisions, newest first. A full page answers `X-Next-Cursor`: pass it as
        `cursor` for the next page (422 for a cursor this API did not give)."""
        try:
            rows = store.entries(limit, where=where, cursor=cursor)
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
                "description": "The entries as CSV (UTF-8, a header row), newest first.",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            },
            **error_responses(422),
        },
    )
    def entries_csv(
        where: Filter,
        max_rows: Annotated[int, Query(ge=1, le=5_000_000)] = 1_000_000,
    ) -> StreamingResponse:
        """The same entries as CSV, streamed page by page."""

        def rows() -> Iterator[str]:
            yield csv_text([ENTRY_COLUMNS])
            cursor: str | None = None
            sent = 0
            while sent < max_rows:
                page = store.entries(min(PAGE, max_rows - sent), where=where, cursor=cursor)
                yield csv_text([getattr(row, c) for c in ENTRY_COLUMNS] for row in page)
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
