"""The schema as the last release made it: four migration lists with three counters,
copied verbatim from `dashboard/store.py`, `dashboard/sequences.py`,
`dashboard/worker_store.py` and `dashboard/operators.py` at db9a70f, and the migration
function of `dashboard/db.py` that applied them. Tests build old databases with these
and check that `dashboard.storage.migrations` upgrades them in place.
"""

from __future__ import annotations

from collections.abc import Sequence

from dashboard.storage.db import Database

SEQUENCES_MIGRATION = """
CREATE TABLE alerts (
    id {serial},
    kind TEXT NOT NULL,
    station_id TEXT,
    gateway_id TEXT,
    opened_at TEXT NOT NULL,
    resolved_at TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX alerts_open ON alerts (resolved_at, kind, station_id, gateway_id);
CREATE TABLE seq_high (
    station_id TEXT NOT NULL,
    gateway_id TEXT NOT NULL,
    high INTEGER NOT NULL,
    PRIMARY KEY (station_id, gateway_id)
);
CREATE TABLE seq_missing (
    id {serial},
    station_id TEXT NOT NULL,
    gateway_id TEXT NOT NULL,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,
    noticed_at {real} NOT NULL,
    alert_id {bigint} REFERENCES alerts (id)
);
CREATE INDEX seq_missing_by_gateway ON seq_missing (station_id, gateway_id, first);
"""

STORE_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE stations (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        lat {real},
        lon {real},
        capacity INTEGER,
        occupancy INTEGER NOT NULL DEFAULT 0,
        registered INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE gateways (
        station_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        online INTEGER NOT NULL DEFAULT 0,
        version TEXT,
        last_seen TEXT,
        PRIMARY KEY (station_id, gateway_id)
    );
    CREATE TABLE events (
        event_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        station_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        seq {bigint} NOT NULL,
        at TEXT NOT NULL,
        received_at TEXT NOT NULL,
        payload TEXT NOT NULL
    );
    CREATE TABLE entries (
        event_id TEXT PRIMARY KEY REFERENCES events (event_id),
        station_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        seq {bigint} NOT NULL,
        at TEXT NOT NULL,
        door_id TEXT NOT NULL,
        direction TEXT NOT NULL,
        credential TEXT NOT NULL,
        worker_id TEXT,
        decision TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX entries_newest ON entries (at DESC, event_id);
    CREATE TABLE rejections (
        id {serial},
        received_at TEXT NOT NULL,
        topic TEXT NOT NULL,
        code TEXT NOT NULL,
        reason TEXT NOT NULL,
        size INTEGER NOT NULL,
        sample {blob} NOT NULL
    );
    """,
    """
    ALTER TABLE rejections RENAME TO quarantine;
    ALTER TABLE quarantine RENAME COLUMN sample TO payload;
    """,
    SEQUENCES_MIGRATION,
    """
    ALTER TABLE stations ADD COLUMN address TEXT;
    ALTER TABLE stations ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'Asia/Shanghai';
    ALTER TABLE stations ADD COLUMN opening_hours TEXT;
    ALTER TABLE stations ADD COLUMN amenities TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE stations ADD COLUMN accepting INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE stations ADD COLUMN updated_at TEXT;
    CREATE TABLE station_zones (
        station_id TEXT NOT NULL,
        zone TEXT NOT NULL,
        capacity INTEGER,
        occupancy INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (station_id, zone)
    );
    INSERT INTO station_zones (station_id, zone, occupancy)
        SELECT id, 'rest', occupancy FROM stations;
    CREATE TABLE doors (
        station_id TEXT NOT NULL,
        door_id TEXT NOT NULL,
        zone TEXT NOT NULL DEFAULT 'rest',
        beams INTEGER NOT NULL DEFAULT 0,
        gateway_id TEXT,
        configured INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (station_id, door_id)
    );
    CREATE TABLE sensors (
        station_id TEXT NOT NULL,
        sensor_id TEXT NOT NULL,
        zone TEXT NOT NULL,
        present INTEGER NOT NULL,
        changed_at {real} NOT NULL,
        last_seen {real} NOT NULL,
        silent INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (station_id, sensor_id)
    );
    CREATE TABLE occupancy_corrections (
        id {serial},
        station_id TEXT NOT NULL,
        zone TEXT NOT NULL,
        before_count INTEGER NOT NULL,
        after_count INTEGER NOT NULL,
        corrected_by TEXT NOT NULL,
        reason TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX corrections_by_station ON occupancy_corrections (station_id, id);
    ALTER TABLE alerts ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
    ALTER TABLE alerts ADD COLUMN subject TEXT;
    ALTER TABLE alerts ADD COLUMN acknowledged_at TEXT;
    ALTER TABLE alerts ADD COLUMN acknowledged_by TEXT;
    ALTER TABLE alerts ADD COLUMN resolved_by TEXT;
    UPDATE alerts SET status = 'resolved', resolved_by = 'system'
        WHERE resolved_at IS NOT NULL;
    ALTER TABLE gateways ADD COLUMN offline_reason TEXT;
    ALTER TABLE gateways ADD COLUMN clock_offset_s {real};
    CREATE INDEX gateways_silent ON gateways (offline_reason);
    CREATE INDEX entries_by_station ON entries (station_id, at);
    CREATE INDEX events_by_time ON events (at);
    """,
    # What the station page shows beyond live counts: the count per minute (written once a
    # minute from the changes ingest already made, never per event), every device's last
    # reading from its gateway's health report, each door's last state (for the live
    # stream's snapshot), and what an operator wrote when acting on an alert.
    """
    CREATE TABLE occupancy_history (
        station_id TEXT NOT NULL,
        at TEXT NOT NULL,
        occupancy INTEGER NOT NULL,
        peak INTEGER NOT NULL,
        capacity INTEGER,
        PRIMARY KEY (station_id, at)
    );
    CREATE INDEX occupancy_history_at ON occupancy_history (at);
    CREATE TABLE devices (
        station_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        ok INTEGER NOT NULL,
        detail TEXT NOT NULL,
        state TEXT NOT NULL,
        last_frame_age_s {real},
        read_at TEXT NOT NULL,
        PRIMARY KEY (station_id, gateway_id, device_id)
    );
    CREATE TABLE door_states (
        station_id TEXT NOT NULL,
        door_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        state TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (station_id, door_id)
    );
    ALTER TABLE alerts ADD COLUMN acknowledged_note TEXT;
    ALTER TABLE alerts ADD COLUMN resolved_note TEXT;
    """,
)

WORKER_MIGRATIONS: tuple[str, ...] = (
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

OPERATOR_MIGRATIONS = [
    """
    CREATE TABLE operators (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE operator_sessions (
        token_hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE TABLE audit_log (
        id {serial},
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        status INTEGER NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX audit_log_at ON audit_log (at);
    """,
]

STORES = {
    "store": ("schema_version", STORE_MIGRATIONS),
    "workers": ("worker_schema_version", WORKER_MIGRATIONS),
    "operators": ("operators_schema_version", OPERATOR_MIGRATIONS),
}
"""Each old store's counter table and migration list, as each store's constructor applied
them."""


def legacy_migrate(database: Database, counter: str, migrations: Sequence[str]) -> int:
    """`Database.migrate` as it was: apply the migrations not yet recorded in table
    `counter`; how many were."""
    with database.transaction() as db:
        db.execute(f"CREATE TABLE IF NOT EXISTS {counter} (version INTEGER NOT NULL)")
        if database.dialect == "postgresql":
            # Two replicas starting at once must not both migrate.
            db.execute(f"LOCK TABLE {counter} IN EXCLUSIVE MODE")
        applied = db.execute(f"SELECT max(version) FROM {counter}").fetchone()[0] or 0
        for version, script in enumerate(migrations[applied:], start=applied + 1):
            db.script(script.format(**database.words))
            db.execute(f"INSERT INTO {counter} VALUES (?)", (version,))
    return len(migrations) - applied


def create_old_stores(database: Database, *names: str, store_version: int = 5) -> None:
    """Make the tables of the named old stores (`store`, `workers`, `operators`) as the
    last release did, the store's up to its migration `store_version`."""
    for name in names:
        counter, migrations = STORES[name]
        if name == "store":
            migrations = migrations[:store_version]
        legacy_migrate(database, counter, migrations)


PARTITIONS = "SELECT relname FROM pg_class WHERE relispartition"
"""The monthly partitions of events and entries (PostgreSQL): which months exist depends
on the rows a database holds, not on its schema."""


def schema_of(database: Database) -> dict[str, list[tuple[object, ...]]]:
    """Everything that makes up a database's schema (tables, columns, types, defaults,
    keys, indexes) and its applied migrations, in a form two databases can be compared by.
    Statement text is compared with its whitespace collapsed."""
    with database.connection() as db:
        versions = [tuple(r) for r in db.execute("SELECT version FROM schema_version ORDER BY 1")]
        if database.dialect == "sqlite":
            objects = [
                (r[0], r[1], r[2], " ".join(str(r[3]).split()))
                for r in db.execute(
                    "SELECT type, name, tbl_name, sql FROM sqlite_master "
                    "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
                )
            ]
            return {"objects": objects, "versions": versions}
        columns = [
            tuple(r)
            for r in db.execute(
                "SELECT table_name, ordinal_position, column_name, data_type, is_nullable, "
                "column_default, is_identity FROM information_schema.columns "
                "WHERE table_schema = current_schema() "
                f"AND table_name NOT IN ({PARTITIONS}) ORDER BY 1, 2"
            )
        ]
        indexes = [
            tuple(r)
            for r in db.execute(
                "SELECT tablename, indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = current_schema() "
                f"AND tablename NOT IN ({PARTITIONS}) ORDER BY 1, 2"
            )
        ]
        constraints = [
            tuple(r)
            for r in db.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE connamespace = current_schema()::regnamespace "
                f"AND conrelid::regclass::text NOT IN ({PARTITIONS}) ORDER BY 1, 2"
            )
        ]
    return {
        "columns": columns,
        "indexes": indexes,
        "constraints": constraints,
        "versions": versions,
    }
