"""Gateways: whether each is online and why not, when it was last heard, its software
version and how far its clock is off ours.

Table `gateways`; nothing else writes it. Functions run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from contract.payloads import Availability
from dashboard.core.changes import GatewayRow
from dashboard.storage.db import BulkInsert, Connection

SILENT = "silent"
"""Why a gateway is offline when nothing was heard from it for too long."""

WILL = "will"
"""Why a gateway is offline when the broker delivered its last will."""

_ROW = (
    "SELECT station_id, gateway_id, online, version, last_seen, offline_reason, "
    "clock_offset_s FROM gateways"
)


def register(db: Connection, station_id: str, gateway_ids: Iterable[str]) -> None:
    """Know these gateways of a station (offline until heard from)."""
    db.executemany(
        "INSERT INTO gateways (station_id, gateway_id, online) VALUES (?, ?, 0) "
        "ON CONFLICT (station_id, gateway_id) DO NOTHING",
        [(station_id, g) for g in dict.fromkeys(gateway_ids)],
    )


_HEARD = BulkInsert(
    "gateways",
    (("station_id", "text"), ("gateway_id", "text"), ("online", "bigint"), ("last_seen", "text")),
    "ON CONFLICT (station_id, gateway_id) DO UPDATE SET last_seen = excluded.last_seen",
)


def heard(db: Connection, gateways: Iterable[tuple[str, str]], received_at: str) -> None:
    """Note that these (station, gateway) pairs were heard from at `received_at`; one
    never seen before starts online."""
    db.insert_rows(_HEARD, [(sid, gid, 1, received_at) for sid, gid in sorted(set(gateways))])


def announce(
    db: Connection, message: Availability, received_at: str, clock_offset_s: float | None
) -> None:
    """Keep what a birth message or last will says: version, clock offset, last heard.
    Whether the gateway is online is `set_online`'s."""
    db.execute(
        """
        INSERT INTO gateways (station_id, gateway_id, online, version, last_seen,
            clock_offset_s)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (station_id, gateway_id) DO UPDATE SET
            version = coalesce(excluded.version, gateways.version),
            last_seen = excluded.last_seen,
            clock_offset_s = coalesce(excluded.clock_offset_s, gateways.clock_offset_s)
        """,
        (
            message.station_id,
            message.gateway_id,
            message.online,
            message.version,
            received_at,
            clock_offset_s,
        ),
    )


def set_online(
    db: Connection, station_id: str, gateway_id: str, online: bool, reason: str | None
) -> GatewayRow:
    """Mark a gateway on- or offline (with why); its row as it is now."""
    db.execute(
        "UPDATE gateways SET online = ?, offline_reason = ? "
        "WHERE station_id = ? AND gateway_id = ?",
        (online, reason, station_id, gateway_id),
    )
    row = db.execute(
        _ROW + " WHERE station_id = ? AND gateway_id = ?", (station_id, gateway_id)
    ).fetchone()
    return _gateway_row(row)


def forget(db: Connection, station_id: str, gateway_id: str) -> bool:
    """Delete one gateway; whether there was one."""
    gone = db.execute(
        "DELETE FROM gateways WHERE station_id = ? AND gateway_id = ?", (station_id, gateway_id)
    ).rowcount
    return bool(gone)


def forget_station(db: Connection, station_id: str) -> None:
    """Delete a station's gateways."""
    db.execute("DELETE FROM gateways WHERE station_id = ?", (station_id,))


def silent(db: Connection) -> set[tuple[str, str]]:
    """The gateways marked offline for silence."""
    return {
        (r[0], r[1])
        for r in db.execute(
            "SELECT station_id, gateway_id FROM gateways WHERE offline_reason = ?", (SILENT,)
        )
    }


def online_but_unheard_since(db: Connection, cutoff: str) -> list[tuple[str, str]]:
    """Gateways still marked online although nothing came from them since `cutoff`."""
    return [
        (r[0], r[1])
        for r in db.execute(
            "SELECT station_id, gateway_id FROM gateways WHERE online = 1 AND last_seen < ?",
            (cutoff,),
        ).fetchall()
    ]


def rows(db: Connection, station_id: str | None = None) -> list[GatewayRow]:
    """Every gateway's health (of one station, when given), by station and gateway."""
    query, params = _ROW, []
    if station_id is not None:
        query += " WHERE station_id = ?"
        params.append(station_id)
    return [
        _gateway_row(r)
        for r in db.execute(query + " ORDER BY station_id, gateway_id", params).fetchall()
    ]


def _gateway_row(r: Sequence[object]) -> GatewayRow:
    sid, gid, online, version, last_seen, reason, offset = r
    return GatewayRow(
        str(sid),
        str(gid),
        bool(online),
        None if version is None else str(version),
        None if last_seen is None else str(last_seen),
        None if reason is None else str(reason),
        None if offset is None else float(str(offset)),
    )
