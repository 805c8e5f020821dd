"""Storage of workers, their face ids and cards, pass links and signing keys.

It shares the central's database (SQLite or PostgreSQL, through `dashboard.storage.db`) with
`dashboard.storage.store` but keeps its own tables
and its own migration counter (`worker_schema_version`), so the two evolve separately.
Every write transaction counts up one revision number; the credential publisher watches
it to notice changes made by another process (the `yizhan workers` CLI).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from contract.payloads import MAX_WORKER_NUMBER, format_utc, utc_now
from dashboard.core.workers import (
    REFUSED_STATUSES,
    Platform,
    ScopeText,
    Worker,
    WorkerInput,
    WorkerStatus,
    WorkerUpdate,
    check_window,
)
from dashboard.storage.db import Connection, Database, Row

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE workers (
        number {bigint} PRIMARY KEY,
        enrolled INTEGER NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        platform TEXT NOT NULL,
        groups TEXT NOT NULL,
        valid_from TEXT,
        valid_until TEXT,
        status TEXT NOT NULL,
        scope TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE worker_credentials (
        kind TEXT NOT NULL CHECK (kind IN ('face', 'card')),
        external_id TEXT NOT NULL,
        worker_number {bigint} NOT NULL REFERENCES workers (number) ON DELETE CASCADE,
        PRIMARY KEY (kind, external_id)
    );
    CREATE INDEX worker_credentials_by_worker ON worker_credentials (worker_number);
    CREATE TABLE worker_groups (
        name TEXT PRIMARY KEY,
        number INTEGER NOT NULL UNIQUE
    );
    CREATE TABLE station_locations (
        station_id TEXT PRIMARY KEY,
        number INTEGER UNIQUE,
        region_code INTEGER
    );
    CREATE TABLE pass_links (
        id {serial},
        worker_number {bigint} NOT NULL REFERENCES workers (number) ON DELETE CASCADE,
        secret_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE TABLE signing_keys (
        key_id INTEGER PRIMARY KEY,
        public_key TEXT NOT NULL,
        created_at TEXT NOT NULL,
        signs_from TEXT NOT NULL,
        retire_at TEXT
    );
    CREATE TABLE credential_versions (
        name TEXT PRIMARY KEY,
        version INTEGER NOT NULL
    );
    CREATE TABLE credential_revision (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        revision INTEGER NOT NULL
    );
    INSERT INTO credential_revision VALUES (1, 0);
    """,
)
"""Schema changes of these tables, in order."""

MAX_GROUP_NUMBER = 255
"""Tokens carry the group in one byte; 0 means "no group"."""


class EnrollmentError(Exception):
    """Workers that cannot be stored as given; `problems` are (index, column, problem)."""

    def __init__(self, problems: Sequence[tuple[int, str, str]]) -> None:
        super().__init__("; ".join(f"#{i} {column}: {problem}" for i, column, problem in problems))
        self.problems = list(problems)


class UnknownWorkerError(LookupError):
    """No worker with that number."""


@dataclass(frozen=True, slots=True)
class StationLocationRow:
    """A station's number and region code, as tokens and scopes use them."""

    station_id: str
    number: int | None
    region_code: int | None


@dataclass(frozen=True, slots=True)
class CredentialRow:
    """A face id or card number and its worker."""

    kind: str
    external_id: str
    worker_number: int


@dataclass(frozen=True, slots=True)
class PassLinkRow:
    """A pass link as operators see it; the secret itself is never stored."""

    id: int
    worker_id: str
    created_at: str
    revoked_at: str | None


@dataclass(frozen=True, slots=True)
class KeyRow:
    """A signing key's public half and its schedule."""

    key_id: int
    public_key: str
    created_at: datetime
    signs_from: datetime
    retire_at: datetime | None


def hash_secret(secret: str) -> str:
    """What is stored of a pass link's secret: its SHA-256, so a copy of the database
    cannot be turned into working links. The secret has 192 random bits, so a plain hash
    (no salt, no stretching) cannot be reversed by guessing."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _stored_time(value: datetime | None) -> str | None:
    return None if value is None else format_utc(value)


class WorkerStore:
    """Workers, credentials, pass links and key rows. Safe to share between threads."""

    def __init__(self, where: Path | Database) -> None:
        self.db = where if isinstance(where, Database) else Database.for_path(where)
        self.db.migrate("worker_schema_version", MIGRATIONS)

    # --- connections -----------------------------------------------------------------

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A borrowed connection, for reads."""
        with self.db.connection() as db:
            yield db

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction that also counts up the revision number."""
        with self.db.transaction() as db:
            yield db
            db.execute("UPDATE credential_revision SET revision = revision + 1")

    def close(self) -> None:
        """Close idle connections."""
        self.db.close()

    def revision(self) -> int:
        """Counts up with every committed change, from any process."""
        with self.connection() as db:
            return int(db.execute("SELECT revision FROM credential_revision").fetchone()[0])

    def next_version(self, name: str) -> int:
        """The next version number of a published document (kept across restarts)."""
        # Not a `transaction()`: publishing must not look like a data change.
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO credential_versions (name, version) VALUES (?, 1) "
                "ON CONFLICT (name) DO UPDATE SET version = credential_versions.version + 1",
                (name,),
            )
            version = db.execute(
                "SELECT version FROM credential_versions WHERE name = ?", (name,)
            ).fetchone()[0]
        return int(version)

    # --- stations --------------------------------------------------------------------

    def sync_stations(self, locations: Iterable[StationLocationRow]) -> None:
        """Replace the station numbers and region codes with the configured ones."""
        rows = [(loc.station_id, loc.number, loc.region_code) for loc in locations]
        with self.connection() as db:
            current = {
                (r["station_id"], r["number"], r["region_code"])
                for r in db.execute("SELECT * FROM station_locations")
            }
        if current == set(rows):
            return
        with self.transaction() as db:
            db.execute("DELETE FROM station_locations")
            db.executemany(
                "INSERT INTO station_locations (station_id, number, region_code) VALUES (?, ?, ?)",
                rows,
            )

    def station_locations(self) -> list[StationLocationRow]:
        """Every configured station's number and region code."""
        with self.connection() as db:
            rows = db.execute("SELECT * FROM station_locations ORDER BY station_id").fetchall()
        return [StationLocationRow(r["station_id"], r["number"], r["region_code"]) for r in rows]

    def station_numbers(self) -> dict[str, int]:
        """Station id → number, for stations that have one."""
        return {s.station_id: s.number for s in self.station_locations() if s.number is not None}

    # --- workers ---------------------------------------------------------------------

    def add_workers(self, inputs: Sequence[WorkerInput]) -> list[Worker]:
        """Enroll all of `inputs` in one transaction, or none of them.

        Raises `EnrollmentError` listing every conflict (a face id or card already held,
        within the batch or by someone enrolled, a scope naming a station without a number).
        """
        now = format_utc(utc_now())
        with self.transaction() as db:
            problems = self._conflicts(db, inputs)
            if problems:
                raise EnrollmentError(problems)
            numbers = []
            for item in inputs:
                number = self._fresh_number(db)
                numbers.append(number)
                db.execute(
                    """
                    INSERT INTO workers (number, enrolled, display_name, platform, groups,
                        valid_from, valid_until, status, scope, created_at, updated_at)
                    VALUES (?, (SELECT coalesce(max(enrolled), 0) + 1 FROM workers),
                        ?, ?, ?, ?, ?, 'active', ?, ?, ?)
                    """,
                    (
                        number,
                        item.display_name,
                        item.platform.value,
                        json.dumps(item.groups),
                        _stored_time(item.valid_from),
                        _stored_time(item.valid_until),
                        item.scope,
                        now,
                        now,
                    ),
                )
                for group in item.groups:
                    self._group_number(db, group)
                self._insert_credentials(db, number, item.face_ids, item.card_numbers)
            return [self._load(db, number) for number in numbers]

    def _conflicts(
        self, db: Connection, inputs: Sequence[WorkerInput], exclude: int | None = None
    ) -> list[tuple[int, str, str]]:
        problems: list[tuple[int, str, str]] = []
        claimed: dict[tuple[str, str], int] = {}
        stations = {
            r["station_id"]: r["number"] for r in db.execute("SELECT * FROM station_locations")
        }
        for index, item in enumerate(inputs):
            scope = ScopeText.parse(item.scope)
            if scope.station_id is not None:
                if scope.station_id not in stations:
                    problems.append((index, "scope", f"unknown station {scope.station_id!r}"))
                elif stations[scope.station_id] is None:
                    problems.append(
                        (index, "scope", f"station {scope.station_id!r} has no number configured")
                    )
            for kind, column, values in (
                ("face", "face_ids", item.face_ids),
                ("card", "card_numbers", item.card_numbers),
            ):
                for value in values:
                    first = claimed.setdefault((kind, value), index)
                    if first != index:
                        problems.append((index, column, f"{value} is also given to entry #{first}"))
                    holder = db.execute(
                        "SELECT worker_number FROM worker_credentials "
                        "WHERE kind = ? AND external_id = ?",
                        (kind, value),
                    ).fetchone()
                    if holder is not None and holder[0] != exclude:
                        problems.append((index, column, f"{value} already belongs to w{holder[0]}"))
        return problems

    def _fresh_number(self, db: Connection) -> int:
        # Random, not sequential: the number says nothing about when someone enrolled.
        while True:
            number = secrets.randbelow(MAX_WORKER_NUMBER) + 1
            if db.execute("SELECT 1 FROM workers WHERE number = ?", (number,)).fetchone() is None:
                return number

    def _group_number(self, db: Connection, name: str) -> int:
        row = db.execute("SELECT number FROM worker_groups WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return int(row[0])
        top = db.execute("SELECT coalesce(max(number), 0) FROM worker_groups").fetchone()[0]
        if top >= MAX_GROUP_NUMBER:
            raise EnrollmentError([(0, "groups", f"no room for group {name!r}: 255 in use")])
        db.execute("INSERT INTO worker_groups (name, number) VALUES (?, ?)", (name, top + 1))
        return int(top) + 1

    def group_numbers(self) -> dict[str, int]:
        """Group name → the number tokens and credential maps carry."""
        with self.connection() as db:
            return {r["name"]: r["number"] for r in db.execute("SELECT * FROM worker_groups")}

    def _insert_credentials(
        self, db: Connection, number: int, faces: Sequence[str], cards: Sequence[str]
    ) -> None:
        db.executemany(
            "INSERT INTO worker_credentials (kind, external_id, worker_number) VALUES (?, ?, ?)",
            [("face", face, number) for face in faces] + [("card", c, number) for c in cards],
        )

    def _load(self, db: Connection, number: int) -> Worker:
        row = db.execute("SELECT * FROM workers WHERE number = ?", (number,)).fetchone()
        if row is None:
            raise UnknownWorkerError(number)
        return self._worker(db, row)

    def _worker(self, db: Connection, row: Row) -> Worker:
        creds = db.execute(
            "SELECT kind, external_id FROM worker_credentials WHERE worker_number = ? "
            "ORDER BY external_id",
            (row["number"],),
        ).fetchall()
        return Worker(
            number=row["number"],
            display_name=row["display_name"],
            platform=Platform(row["platform"]),
            groups=tuple(json.loads(row["groups"])),
            valid_from=_time(row["valid_from"]),
            valid_until=_time(row["valid_until"]),
            status=WorkerStatus(row["status"]),
            scope=row["scope"],
            face_ids=tuple(c["external_id"] for c in creds if c["kind"] == "face"),
            card_numbers=tuple(c["external_id"] for c in creds if c["kind"] == "card"),
            created_at=datetime.fromisoformat(row["created_at"]),
            updated_at=datetime.fromisoformat(row["updated_at"]),
        )

    def get(self, number: int) -> Worker:
        """One worker; `UnknownWorkerError` if there is none."""
        with self.connection() as db:
            return self._load(db, number)

    def workers(
        self, status: WorkerStatus | None = None, limit: int = 1000, offset: int = 0
    ) -> list[Worker]:
        """Workers, oldest enrollment first."""
        query, params = "SELECT * FROM workers", []
        if status is not None:
            query += " WHERE status = ?"
            params.append(status.value)
        query += " ORDER BY enrolled LIMIT ? OFFSET ?"
        with self.connection() as db:
            rows = db.execute(query, (*params, limit, offset)).fetchall()
            return [self._worker(db, row) for row in rows]

    def update(self, number: int, change: WorkerUpdate) -> Worker:
        """Apply the fields given in `change`; `EnrollmentError` on a conflict.

        A revoked worker stays revoked: revocation is final.
        """
        given = change.model_fields_set
        with self.transaction() as db:
            current = self._load(db, number)
            if current.status is WorkerStatus.REVOKED and given - {"status"}:
                raise EnrollmentError([(0, "status", "a revoked worker cannot be changed")])
            if current.status is WorkerStatus.REVOKED and change.status not in (
                None,
                WorkerStatus.REVOKED,
            ):
                raise EnrollmentError([(0, "status", "revocation is final; enroll again")])
            merged = WorkerInput.model_construct(
                display_name=change.display_name or current.display_name,
                platform=change.platform or current.platform,
                groups=change.groups if change.groups is not None else list(current.groups),
                valid_from=change.valid_from if "valid_from" in given else current.valid_from,
                valid_until=change.valid_until if "valid_until" in given else current.valid_until,
                scope=change.scope or current.scope,
                face_ids=change.face_ids if change.face_ids is not None else [],
                card_numbers=change.card_numbers if change.card_numbers is not None else [],
            )
            try:
                check_window(merged.valid_from, merged.valid_until)
            except ValueError as exc:
                raise EnrollmentError([(0, "valid_until", str(exc))]) from None
            problems = self._conflicts(db, [merged], exclude=number)
            if problems:
                raise EnrollmentError(problems)
            status = change.status or current.status
            db.execute(
                """
                UPDATE workers SET display_name = ?, platform = ?, groups = ?, valid_from = ?,
                    valid_until = ?, status = ?, scope = ?, updated_at = ?
                WHERE number = ?
                """,
                (
                    merged.display_name,
                    merged.platform.value,
                    json.dumps(merged.groups),
                    _stored_time(merged.valid_from),
                    _stored_time(merged.valid_until),
                    status.value,
                    merged.scope,
                    format_utc(utc_now()),
                    number,
                ),
            )
            for group in merged.groups:
                self._group_number(db, group)
            if change.face_ids is not None:
                db.execute(
                    "DELETE FROM worker_credentials WHERE worker_number = ? AND kind = 'face'",
                    (number,),
                )
                self._insert_credentials(db, number, change.face_ids, [])
            if change.card_numbers is not None:
                db.execute(
                    "DELETE FROM worker_credentials WHERE worker_number = ? AND kind = 'card'",
                    (number,),
                )
                self._insert_credentials(db, number, [], change.card_numbers)
            if status in REFUSED_STATUSES:
                # A refused worker's links stop working with the status; lifting a
                # suspension needs new links, so an old leaked one stays dead.
                db.execute(
                    "UPDATE pass_links SET revoked_at = ? WHERE worker_number = ? "
                    "AND revoked_at IS NULL",
                    (format_utc(utc_now()), number),
                )
            return self._load(db, number)

    def revoke(self, number: int) -> Worker:
        """Revoke a worker for good."""
        return self.update(number, WorkerUpdate(status=WorkerStatus.REVOKED))

    def erase(self, number: int) -> None:
        """Forget a worker's personal data: name, face ids, cards and pass links.

        The number stays as a revoked record with no name, so it is never given to anyone
        else (entry logs keep naming it) and stays on the revocation list.
        """
        with self.transaction() as db:
            self._load(db, number)
            db.execute("DELETE FROM worker_credentials WHERE worker_number = ?", (number,))
            db.execute("DELETE FROM pass_links WHERE worker_number = ?", (number,))
            db.execute(
                "UPDATE workers SET display_name = '', groups = '[]', scope = 'any', "
                "status = 'revoked', updated_at = ? WHERE number = ?",
                (format_utc(utc_now()), number),
            )

    def refused_numbers(self) -> list[int]:
        """Worker numbers that are suspended or revoked, ascending."""
        with self.connection() as db:
            rows = db.execute(
                "SELECT number FROM workers WHERE status IN ('suspended', 'revoked') "
                "ORDER BY number"
            ).fetchall()
        return [row[0] for row in rows]

    def credentials(self) -> list[tuple[CredentialRow, Worker]]:
        """Every face id and card with its worker."""
        with self.connection() as db:
            workers = {
                row["number"]: self._worker(db, row)
                for row in db.execute(
                    "SELECT * FROM workers WHERE number IN "
                    "(SELECT worker_number FROM worker_credentials)"
                )
            }
            rows = db.execute(
                "SELECT * FROM worker_credentials ORDER BY kind, external_id"
            ).fetchall()
        return [
            (
                CredentialRow(r["kind"], r["external_id"], r["worker_number"]),
                workers[r["worker_number"]],
            )
            for r in rows
        ]

    # --- pass links ------------------------------------------------------------------

    def create_pass_link(self, number: int) -> tuple[PassLinkRow, str]:
        """A new link for an active worker: its row and the secret (shown once)."""
        secret = secrets.token_urlsafe(24)
        with self.transaction() as db:
            worker = self._load(db, number)
            if worker.status is not WorkerStatus.ACTIVE:
                raise EnrollmentError([(0, "status", f"worker is {worker.status.value}")])
            link_id = db.insert_id(
                "INSERT INTO pass_links (worker_number, secret_hash, created_at) "
                "VALUES (?, ?, ?) RETURNING id",
                (number, hash_secret(secret), format_utc(utc_now())),
            )
            return self._link(db, link_id), secret

    def _link(self, db: Connection, link_id: int) -> PassLinkRow:
        row = db.execute("SELECT * FROM pass_links WHERE id = ?", (link_id,)).fetchone()
        if row is None:
            raise LookupError(link_id)
        return PassLinkRow(
            row["id"], f"w{row['worker_number']}", row["created_at"], row["revoked_at"]
        )

    def pass_links(self, number: int) -> list[PassLinkRow]:
        """A worker's links, newest first."""
        with self.connection() as db:
            ids = [
                r[0]
                for r in db.execute(
                    "SELECT id FROM pass_links WHERE worker_number = ? ORDER BY id DESC", (number,)
                )
            ]
            return [self._link(db, link_id) for link_id in ids]

    def revoke_pass_link(self, link_id: int) -> PassLinkRow:
        """Make a link stop working; `LookupError` if there is no such link."""
        with self.transaction() as db:
            self._link(db, link_id)
            db.execute(
                "UPDATE pass_links SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
                (format_utc(utc_now()), link_id),
            )
            return self._link(db, link_id)

    def worker_for_secret(self, secret: str) -> Worker | None:
        """The worker behind a live pass link, or None for an unknown or revoked one."""
        with self.connection() as db:
            row = db.execute(
                "SELECT worker_number FROM pass_links WHERE secret_hash = ? AND revoked_at IS NULL",
                (hash_secret(secret),),
            ).fetchone()
            return None if row is None else self._load(db, row[0])

    # --- signing key rows ------------------------------------------------------------

    def key_rows(self) -> list[KeyRow]:
        """Every signing key still kept, oldest first."""
        with self.connection() as db:
            rows = db.execute("SELECT * FROM signing_keys ORDER BY created_at, key_id").fetchall()
        return [
            KeyRow(
                r["key_id"],
                r["public_key"],
                datetime.fromisoformat(r["created_at"]),
                datetime.fromisoformat(r["signs_from"]),
                _time(r["retire_at"]),
            )
            for r in rows
        ]

    def insert_key(self, row: KeyRow, retire: Sequence[tuple[int, datetime]] = ()) -> None:
        """Add a key and schedule others' retirement, in one transaction."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO signing_keys (key_id, public_key, created_at, signs_from, retire_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    row.key_id,
                    row.public_key,
                    format_utc(row.created_at),
                    format_utc(row.signs_from),
                    _stored_time(row.retire_at),
                ),
            )
            db.executemany(
                "UPDATE signing_keys SET retire_at = ? WHERE key_id = ?",
                [(format_utc(at), key_id) for key_id, at in retire],
            )

    def delete_keys(self, key_ids: Sequence[int]) -> None:
        """Forget retired keys."""
        with self.transaction() as db:
            db.executemany("DELETE FROM signing_keys WHERE key_id = ?", [(k,) for k in key_ids])
