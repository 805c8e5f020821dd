"""Reading an enrollment CSV file: every problem reported by row and column, or all rows.

Format (UTF-8, a byte-order mark from a spreadsheet is fine; or GBK as Chinese Excel
saves it, see `dashboard.core.spreadsheet_text`; comma-separated, one header row; only
`display_name` and `platform` are required):

    display_name,platform,groups,valid_from,valid_until,scope,face_ids,card_numbers
    李明,meituan,delivery,2026-01-01,2026-12-31,region:430100,F-1001,12345678

List columns (`groups`, `face_ids`, `card_numbers`) separate items with `;`. Rows are
numbered as a spreadsheet shows them: the header is row 1.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from dashboard.core.import_limits import WORKER_FILE_BYTES
from dashboard.core.spreadsheet_text import UndecodableTextError, decode_spreadsheet_text
from dashboard.core.workers import WorkerInput

COLUMNS: tuple[str, ...] = (
    "display_name",
    "platform",
    "groups",
    "valid_from",
    "valid_until",
    "scope",
    "face_ids",
    "card_numbers",
)
REQUIRED: frozenset[str] = frozenset({"display_name", "platform"})
LIST_COLUMNS: frozenset[str] = frozenset({"groups", "face_ids", "card_numbers"})

MAX_BYTES = WORKER_FILE_BYTES
MAX_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class RowProblem:
    """What is wrong, and where: `row` and `column` are None for the file as a whole."""

    row: int | None
    column: str | None
    problem: str


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """The workers of a file and the spreadsheet row each came from; or its problems."""

    workers: list[WorkerInput]
    rows: list[int]
    problems: list[RowProblem]


def _file_problem(problem: str) -> ParsedFile:
    return ParsedFile([], [], [RowProblem(None, None, problem)])


def parse_workers_csv(data: bytes, zone: ZoneInfo) -> ParsedFile:
    """Validate a whole file; a file with any problem yields no workers at all."""
    if len(data) > MAX_BYTES:
        return _file_problem(f"file is {len(data)} bytes; the limit is {MAX_BYTES}")
    try:
        text = decode_spreadsheet_text(data).text
    except UndecodableTextError as exc:
        return _file_problem(str(exc))
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        return _file_problem(f"not a CSV file: {exc}")
    if not records or not any(cell.strip() for cell in records[0]):
        return _file_problem("the file is empty; the first row must name the columns")
    header = [cell.strip().lower() for cell in records[0]]
    problems = [
        RowProblem(1, name or None, f"unknown column {name!r}; known: {', '.join(COLUMNS)}")
        for name in header
        if name not in COLUMNS
    ]
    problems += [
        RowProblem(1, name, "column appears twice")
        for i, name in enumerate(header)
        if name in header[:i] and name in COLUMNS
    ]
    problems += [
        RowProblem(1, name, "required column is missing") for name in sorted(REQUIRED - set(header))
    ]
    if problems:
        return ParsedFile([], [], problems)
    body = [(number, record) for number, record in enumerate(records[1:], start=2) if record]
    if len(body) > MAX_ROWS:
        return _file_problem(f"{len(body)} rows; at most {MAX_ROWS} in one file")
    if not body:
        return _file_problem("no workers in the file, only a header")
    workers: list[WorkerInput] = []
    rows: list[int] = []
    for number, record in body:
        if not any(cell.strip() for cell in record):
            continue  # a blank line, as spreadsheets leave at the end
        if len(record) > len(header):
            problems.append(
                RowProblem(number, None, f"{len(record)} fields but {len(header)} columns")
            )
            continue
        fields: dict[str, object] = {}
        for name, cell in zip(header, record, strict=False):
            value = cell.strip()
            if name in LIST_COLUMNS:
                fields[name] = [item.strip() for item in value.split(";") if item.strip()]
            elif value:
                fields[name] = value
        try:
            workers.append(WorkerInput.model_validate(fields, context={"zone": zone}))
            rows.append(number)
        except ValidationError as exc:
            problems += [_row_problem(number, error) for error in exc.errors()]
    if problems:
        return ParsedFile([], [], problems)
    return ParsedFile(workers, rows, [])


def _row_problem(row: int, error: object) -> RowProblem:
    assert isinstance(error, dict)
    loc: tuple[object, ...] = tuple(error.get("loc") or ())
    column = str(loc[0]) if loc else "valid_until"  # the one check across fields
    message = str(error.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    if error.get("type") == "missing":
        message = "required value is missing"
    if len(loc) > 1 and isinstance(loc[1], int):
        message = f"item {loc[1] + 1}: {message}"
    return RowProblem(row, column, message)
