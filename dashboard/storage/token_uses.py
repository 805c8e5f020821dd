"""QR tokens granted, to see one token granted at two stations.

Table `token_uses`; nothing else writes it. A token is named by its worker and its
`not_before` (`AccessEvent.token_not_before`). Each is kept with the first station that
granted it and, once another station has, that one too; `alerted` says its alert is
open already, so each token raises one alert, whatever the order or the replica its
grants arrive in. Two gateways of one station granting it are no news: a station's own
gateways refuse a token their peers have granted, and either way one person went in.

The upsert takes the token's row lock on PostgreSQL, so two replicas storing the two
grants at once see each other's (the second waits for the first to commit); the rows of
a batch are written in key order, so two batches never wait on each other in a circle.
Tokens live a few minutes, but a gateway's backlog after an outage may bring its grants
hours later: rows are kept `RETENTION` after the token's `not_before`.

Functions taking a `Connection` run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from dashboard.storage.db import BulkInsert, Connection

RETENTION = timedelta(days=1)
"""How long a token's row is kept after its `not_before`: longer than any outage a
gateway's outbox rides out before its grants arrive."""

_CHUNK = 500

# One statement for all the batch's grants (on PostgreSQL one array per column); the
# second grant of a token at another station names it as `other_station`.
_GRANTS = BulkInsert(
    "token_uses",
    (
        ("worker_id", "text"),
        ("not_before", "text"),
        ("first_station", "text"),
        ("first_gateway", "text"),
    ),
    "ON CONFLICT (worker_id, not_before) DO UPDATE SET "
    "other_station = CASE WHEN token_uses.other_station IS NULL "
    "AND token_uses.first_station <> excluded.first_station "
    "THEN excluded.first_station ELSE token_uses.other_station END, "
    "other_gateway = CASE WHEN token_uses.other_station IS NULL "
    "AND token_uses.first_station <> excluded.first_station "
    "THEN excluded.first_gateway ELSE token_uses.other_gateway END",
)


@dataclass(frozen=True, slots=True, order=True)
class TokenGrant:
    """A granted access event's token, and where it was granted."""

    worker_id: str
    not_before: str
    station_id: str
    gateway_id: str


@dataclass(frozen=True, slots=True)
class SharedToken:
    """A token granted at two stations, each with the gateway that granted it there."""

    worker_id: str
    not_before: str
    first: tuple[str, str]
    other: tuple[str, str]


def record(db: Connection, grants: Iterable[TokenGrant]) -> list[SharedToken]:
    """Note the grants; the tokens that have now been granted at a second station and
    were not reported before (each reported once, ever)."""
    # By a key of plain tuples: the dataclass's own ordering compares in Python.
    rows = sorted(set(grants), key=_order)
    if not rows:
        return []
    for round_ in _rounds(rows):
        db.insert_rows(
            _GRANTS, [(g.worker_id, g.not_before, g.station_id, g.gateway_id) for g in round_]
        )
    keys = {(g.worker_id, g.not_before) for g in rows}
    workers = sorted({g.worker_id for g in rows})
    shared: list[SharedToken] = []
    for start in range(0, len(workers), _CHUNK):
        chunk = workers[start : start + _CHUNK]
        among, params = db.among(chunk)
        found = db.execute(
            "SELECT worker_id, not_before, first_station, first_gateway, other_station, "
            "other_gateway FROM token_uses WHERE alerted = 0 AND other_station IS NOT NULL "
            f"AND worker_id {among}",
            params,
        ).fetchall()
        shared += [
            SharedToken(r[0], r[1], (r[2], r[3]), (r[4], r[5]))
            for r in found
            if (r[0], r[1]) in keys
        ]
    db.executemany(
        "UPDATE token_uses SET alerted = 1 WHERE worker_id = ? AND not_before = ?",
        [(s.worker_id, s.not_before) for s in shared],
    )
    return sorted(shared, key=lambda s: (s.worker_id, s.not_before))


def _order(grant: TokenGrant) -> tuple[str, str, str, str]:
    return (grant.worker_id, grant.not_before, grant.station_id, grant.gateway_id)


def _rounds(grants: list[TokenGrant]) -> list[list[TokenGrant]]:
    """`grants` (in key order) in rounds that each name a token at most once: PostgreSQL
    refuses to update one row twice in one statement. Almost always one round."""
    rounds: list[list[TokenGrant]] = []
    seen: dict[tuple[str, str], int] = {}
    for grant in grants:
        key = (grant.worker_id, grant.not_before)
        index = seen.get(key, 0)
        seen[key] = index + 1
        if index == len(rounds):
            rounds.append([])
        rounds[index].append(grant)
    return rounds


def purge(db: Connection, cutoff: str) -> None:
    """Forget tokens whose `not_before` is older than `cutoff`."""
    db.execute("DELETE FROM token_uses WHERE not_before < ?", (cutoff,))
