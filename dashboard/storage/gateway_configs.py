"""What each gateway says it runs with: its last reported config.

Table `gateway_configs`; nothing else writes it. Written by the ingest batch from
`config_report/1` messages, the newest of a batch per gateway.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from contract.maintenance_payloads import ConfigReport
from contract.payloads import format_utc
from dashboard.core.station_policy import ReportedConfig
from dashboard.storage.db import Connection


def write_reports(db: Connection, reports: Sequence[ConfigReport]) -> None:
    """Keep each gateway's newest report of these."""
    newest: dict[tuple[str, str], ConfigReport] = {}
    for report in reports:
        key = (report.station_id, report.gateway_id)
        if key not in newest or report.at >= newest[key].at:
            newest[key] = report
    db.executemany(
        "INSERT INTO gateway_configs (station_id, gateway_id, version, applied, refused, "
        "reported_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (station_id, gateway_id) DO UPDATE "
        "SET version = excluded.version, applied = excluded.applied, "
        "refused = excluded.refused, reported_at = excluded.reported_at",
        [
            (
                r.station_id,
                r.gateway_id,
                r.version,
                json.dumps(r.applied),
                json.dumps(r.refused),
                format_utc(r.at),
            )
            for r in newest.values()
        ],
    )


def of_station(db: Connection, station_id: str) -> dict[str, ReportedConfig]:
    """Gateway id → its last report, for one station."""
    return {
        r[0]: ReportedConfig(r[0], r[1], json.loads(r[2]), json.loads(r[3]), r[4])
        for r in db.execute(
            "SELECT gateway_id, version, applied, refused, reported_at FROM gateway_configs "
            "WHERE station_id = ?",
            (station_id,),
        )
    }


def forget_station(db: Connection, station_id: str) -> None:
    """Delete a station's gateways' reports (the station is gone)."""
    db.execute("DELETE FROM gateway_configs WHERE station_id = ?", (station_id,))
