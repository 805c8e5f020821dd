"""Each station's policy as an admin set it, and the desired config it went out as.

Table `station_policies`; nothing else writes it. The version counts up with every
change and is never below the Unix time of the change, so a gateway that a maintainer
gave a desired config by hand (`yizhan desired-config`, versioned by Unix time) still
takes the next policy.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from contract.payloads import format_utc, utc_now
from dashboard.storage.db import Connection


@dataclass(frozen=True, slots=True)
class PolicyRow:
    """A station's policy, its settings on the wire, and when and by whom it was set."""

    station_id: str
    policy: dict[str, Any]
    settings: dict[str, Any]
    version: int
    set_at: str
    set_by: str


def put(
    db: Connection, station_id: str, policy: dict[str, Any], settings: dict[str, Any], by: str
) -> PolicyRow:
    """Store a station's new policy under the next version."""
    previous = get(db, station_id)
    version = max(int(time.time()), 0 if previous is None else previous.version + 1)
    row = PolicyRow(station_id, policy, settings, version, format_utc(utc_now()), by)
    db.execute(
        "INSERT INTO station_policies (station_id, policy, settings, version, set_at, set_by) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (station_id) DO UPDATE SET "
        "policy = excluded.policy, settings = excluded.settings, version = excluded.version, "
        "set_at = excluded.set_at, set_by = excluded.set_by",
        (
            station_id,
            json.dumps(policy),
            json.dumps(settings),
            row.version,
            row.set_at,
            row.set_by,
        ),
    )
    return row


def get(db: Connection, station_id: str) -> PolicyRow | None:
    """The station's policy, if one was set."""
    r = db.execute(
        "SELECT station_id, policy, settings, version, set_at, set_by FROM station_policies "
        "WHERE station_id = ?",
        (station_id,),
    ).fetchone()
    if r is None:
        return None
    return PolicyRow(r[0], json.loads(r[1]), json.loads(r[2]), int(r[3]), r[4], r[5])


def forget(db: Connection, station_id: str) -> None:
    """Delete a station's policy (the station is gone)."""
    db.execute("DELETE FROM station_policies WHERE station_id = ?", (station_id,))
