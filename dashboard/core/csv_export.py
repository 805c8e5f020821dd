"""CSV as the central serves it: every cell safe to open in a spreadsheet.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by
Excel, LibreOffice and Google Sheets as a formula (`=HYPERLINK(...)`, `@SUM(...)`), which
can fetch URLs or run commands on the operator's machine when an export is opened. Any
such cell, whatever its column, gets a leading `'`, which spreadsheets show as text and
hide. Every CSV the central serves is written by `csv_text`, so no exporter can forget.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Protocol

from dashboard.core.station_time import local_text

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""The first characters that make a spreadsheet read a cell as a formula."""


def neutral_cell(value: object) -> str:
    """`value` as the text of one cell (None is empty), with a formula's start disarmed."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(rows: Iterable[Iterable[object]]) -> str:
    """Rows as CSV lines (RFC 4180 quoting, `\\r\\n` line ends), every cell neutral."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([neutral_cell(value) for value in row])
    return out.getvalue()


BOM = "\ufeff"
"""Starts a readable CSV: without it Excel takes UTF-8 for the local code page and shows
Chinese names as mojibake."""


class ReadableEntry(Protocol):
    """The fields of an access decision that its readable CSV row shows."""

    @property
    def at(self) -> str: ...
    @property
    def time_zone(self) -> str: ...
    @property
    def station_id(self) -> str: ...
    @property
    def station_name(self) -> str | None: ...
    @property
    def door_id(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def worker_id(self) -> str | None: ...
    @property
    def worker_name(self) -> str | None: ...
    @property
    def credential(self) -> str: ...
    @property
    def decision(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def event_id(self) -> str: ...


READABLE_ENTRY_HEADERS = (
    "csv.at",
    "csv.time_zone",
    "csv.station_name",
    "csv.station_id",
    "entries.door",
    "entries.direction",
    "csv.worker_name",
    "csv.worker_id",
    "csv.credential",
    "entries.decision",
    "entries.reason",
    "csv.event_id",
)
"""Catalogue keys of the readable CSV's header, in column order."""


def readable_header(labels: Mapping[str, str]) -> list[str]:
    """The readable CSV's header row in the language of `labels` (a UI catalogue)."""
    return [labels.get(key, key) for key in READABLE_ENTRY_HEADERS]


def readable_entry_row(entry: ReadableEntry, labels: Mapping[str, str]) -> list[object]:
    """One entry as an operator reads it: the station's wall-clock time, names beside
    ids, and enum values in the language of `labels` (the raw value where it has none)."""

    def word(prefix: str, value: str) -> str:
        return labels.get(f"{prefix}.{value}", value)

    return [
        local_text(entry.at, entry.time_zone),
        entry.time_zone,
        entry.station_name or "",
        entry.station_id,
        entry.door_id,
        word("direction", entry.direction),
        entry.worker_name or "",
        entry.worker_id or "",
        word("credential", entry.credential),
        word("decision", entry.decision),
        word("reason", entry.reason),
        entry.event_id,
    ]
