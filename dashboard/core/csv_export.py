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
from collections.abc import Iterable

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
