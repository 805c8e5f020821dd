"""Every schema change of the central's database, in one ordered list with one version.

A database records in `schema_version` the number of each migration it has applied;
`upgrade` applies the missing ones in order, in one transaction, and is safe to call from
every process that opens the database (the central, its ingest writer, the command line
tools), also from two replicas starting at once.

Databases made before this list existed kept three counters: the store's `schema_version`
(whose versions 1 to 5 are the first five migrations here), `worker_schema_version` and
`operators_schema_version` (one migration each, numbers 6 and 7 here). `upgrade` folds
those two into `schema_version` and drops them, so a database where only some of the old
stores had been created gets exactly the migrations it lacks.

A migration, once released, is never edited: a change is a new entry at the end. `{serial}`,
`{blob}`, `{real}` and `{bigint}` are rendered per database (`dashboard.storage.db`); a
change only one database needs is a `PerDialect` entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dashboard.storage.db import Connection, Database


@dataclass(frozen=True, slots=True)
class PerDialect:
    """A migration whose script differs per database (empty where there is nothing to do)."""

    sqlite: str
    postgresql: str

    def script(self, dialect: str) -> str:
        """The script for `dialect` (`sqlite` or `postgresql`)."""
        return self.sqlite if dialect == "sqlite" else self.postgresql


Migration = str | PerDialect

# The alerts table was first made next to the sequence tables it is linked to.
_ALERTS_AND_SEQUENCES = """
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

# PostgreSQL keeps events and entries in one partition per month of their `at` (the
# gateway's clock, UTC), so retention drops whole months instead of deleting rows one by
# one. A partitioned table's unique keys must hold the partition key, so an event is
# unique by (event_id, at): a redelivered event carries the time its gateway wrote into it
# once, so it meets its first copy in the same partition and is refused there. Entries
# lose their foreign key to events (the same transaction of the one module that writes
# both inserts an entry only for an event it has just stored) and their key merges with
# the entry log's index: (at, event_id) serves both. The event index by time (retention's)
# is a BRIN index, almost free to keep as rows arrive in time order. Indexed ids and times
# compare byte by byte (`COLLATE "C"`): ISO 8601 UTC times, UUIDs and station slugs sort
# the same that way, and the server spends no locale-aware comparison per index entry.
# `yizhan_prepare_month` makes a month's partitions (the central ahead of time, the ingest
# writer on demand) and `yizhan_drop_months_before` drops the months wholly before a
# cut-off; the existing rows move over in the migration's one transaction.
_PARTITION_EVENTS_BY_MONTH = """
ALTER TABLE entries DROP CONSTRAINT entries_event_id_fkey;
ALTER TABLE entries RENAME TO entries_before_partitioning;
ALTER TABLE entries_before_partitioning RENAME CONSTRAINT entries_pkey
    TO entries_before_partitioning_pkey;
DROP INDEX entries_newest;
DROP INDEX entries_by_station;
ALTER TABLE events RENAME TO events_before_partitioning;
ALTER TABLE events_before_partitioning RENAME CONSTRAINT events_pkey
    TO events_before_partitioning_pkey;
DROP INDEX events_by_time;
CREATE TABLE events (
    event_id TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL,
    station_id TEXT NOT NULL,
    gateway_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at TEXT COLLATE "C" NOT NULL,
    received_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (event_id, at)
) PARTITION BY RANGE (at);
CREATE INDEX events_by_time ON events USING brin (at);
CREATE TABLE entries (
    event_id TEXT COLLATE "C" NOT NULL,
    station_id TEXT COLLATE "C" NOT NULL,
    gateway_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at TEXT COLLATE "C" NOT NULL,
    door_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    credential TEXT NOT NULL,
    worker_id TEXT,
    decision TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (at, event_id)
) PARTITION BY RANGE (at);
CREATE INDEX entries_by_station ON entries (station_id, at);
CREATE FUNCTION yizhan_prepare_month(day DATE) RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    first_day DATE := date_trunc('month', day)::date;
    low TEXT := to_char(first_day, 'YYYY-MM-DD') || 'T00:00:00.000Z';
    high TEXT := to_char(first_day + interval '1 month', 'YYYY-MM-DD') || 'T00:00:00.000Z';
    parent TEXT;
    name TEXT;
BEGIN
    FOREACH parent IN ARRAY ARRAY['events', 'entries'] LOOP
        name := parent || '_' || to_char(first_day, 'YYYY_MM');
        IF to_regclass(quote_ident(name)) IS NULL THEN
            -- Two replicas may make the same month at once: one waits for the other.
            PERFORM pg_advisory_xact_lock(hashtext('yizhan partition ' || name));
            IF to_regclass(quote_ident(name)) IS NULL THEN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                    name, parent, low, high
                );
            END IF;
        END IF;
    END LOOP;
END
$$;
CREATE FUNCTION yizhan_drop_months_before(cutoff TEXT) RETURNS SETOF TEXT
LANGUAGE plpgsql AS $$
DECLARE
    part RECORD;
BEGIN
    FOR part IN
        SELECT c.relname AS name FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname IN ('events', 'entries')
          AND p.relnamespace = current_schema()::regnamespace
          AND c.relname ~ '^(events|entries)_[0-9]{{4}}_[0-9]{{2}}$'
          -- The month's upper bound: every row of it is older than the cut-off.
          AND to_char(to_date(right(c.relname, 7), 'YYYY_MM') + interval '1 month',
                      'YYYY-MM-DD') || 'T00:00:00.000Z' <= cutoff
        -- Dropping a partition locks its parent exclusively: events before entries, in
        -- the order a batch writes them, or a batch holding events and waiting for
        -- entries deadlocks with a drop holding entries and waiting for events.
        ORDER BY p.relname DESC, 1
    LOOP
        EXECUTE format('DROP TABLE %I', part.name);
        RETURN NEXT part.name;
    END LOOP;
END
$$;
SELECT yizhan_prepare_month(month) FROM (
    SELECT DISTINCT (left(at, 7) || '-01')::date AS month FROM events_before_partitioning
    UNION SELECT DISTINCT (left(at, 7) || '-01')::date FROM entries_before_partitioning
) AS months;
INSERT INTO events SELECT * FROM events_before_partitioning;
INSERT INTO entries SELECT * FROM entries_before_partitioning;
DROP TABLE entries_before_partitioning;
DROP TABLE events_before_partitioning;
"""

# A month made while the ingest writes and reports read: `CREATE TABLE … PARTITION OF`
# locks the parent table exclusively, so it waited for every open transaction on it, and a
# transaction that held `entries` and wanted `events` deadlocked with it. A table made
# alone and attached needs only a SHARE UPDATE EXCLUSIVE lock on the parent, which
# writers and readers never wait for or hold up.
_ATTACH_MONTHS = """
CREATE OR REPLACE FUNCTION yizhan_prepare_month(day DATE) RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    first_day DATE := date_trunc('month', day)::date;
    low TEXT := to_char(first_day, 'YYYY-MM-DD') || 'T00:00:00.000Z';
    high TEXT := to_char(first_day + interval '1 month', 'YYYY-MM-DD') || 'T00:00:00.000Z';
    parent TEXT;
    name TEXT;
BEGIN
    FOREACH parent IN ARRAY ARRAY['events', 'entries'] LOOP
        name := parent || '_' || to_char(first_day, 'YYYY_MM');
        IF to_regclass(quote_ident(name)) IS NULL THEN
            -- Two replicas may make the same month at once: one waits for the other.
            -- Taking the lock does not refresh what this session knows of the tables, so
            -- the month the other one made while this one waited shows as a failure.
            PERFORM pg_advisory_xact_lock(hashtext('yizhan partition ' || name));
            BEGIN
                EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING ALL)', name, parent);
                EXECUTE format(
                    'ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                    parent, name, low, high
                );
            EXCEPTION WHEN duplicate_table THEN
                NULL;
            END;
        END IF;
    END LOOP;
END
$$;
"""

MIGRATIONS: tuple[Migration, ...] = (
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
    _ALERTS_AND_SEQUENCES,
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
    # Workers, their credentials, pass links and signing keys.
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
    # Operators, their sessions and the audit log.
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
    # Integers on the wire are signed 64-bit (`contract.payloads.INT64_MAX`), and so are
    # the counts and versions that grow from them; on PostgreSQL these columns were 32-bit,
    # so one event numbered past 2^31 stopped every batch after it. SQLite's INTEGER is
    # 64-bit already.
    PerDialect(
        sqlite="",
        postgresql="""
        ALTER TABLE seq_high ALTER COLUMN high TYPE BIGINT;
        ALTER TABLE seq_missing ALTER COLUMN first TYPE BIGINT, ALTER COLUMN last TYPE BIGINT;
        ALTER TABLE stations ALTER COLUMN capacity TYPE BIGINT,
            ALTER COLUMN occupancy TYPE BIGINT;
        ALTER TABLE station_zones ALTER COLUMN capacity TYPE BIGINT,
            ALTER COLUMN occupancy TYPE BIGINT;
        ALTER TABLE occupancy_history ALTER COLUMN occupancy TYPE BIGINT,
            ALTER COLUMN peak TYPE BIGINT, ALTER COLUMN capacity TYPE BIGINT;
        ALTER TABLE occupancy_corrections ALTER COLUMN before_count TYPE BIGINT,
            ALTER COLUMN after_count TYPE BIGINT;
        ALTER TABLE credential_versions ALTER COLUMN version TYPE BIGINT;
        ALTER TABLE credential_revision ALTER COLUMN revision TYPE BIGINT;
        """,
    ),
    # A quarantined message that the broker retained comes back on every subscription
    # (each restart, each new session); ingest looks it up by topic to keep it once.
    """
    CREATE INDEX quarantine_by_topic ON quarantine (topic);
    """,
    # One-time codes a technician enrolls a gateway with; only their hash is kept.
    """
    CREATE TABLE enrollment_codes (
        code_hash TEXT PRIMARY KEY,
        station_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        spent_at TEXT,
        revoked_at TEXT
    );
    CREATE INDEX enrollment_codes_by_gateway ON enrollment_codes (station_id, gateway_id);
    """,
    # QR tokens granted, by their identity (worker and `not_before`): the first station
    # that granted one, and a second, to raise `token_shared` once per token.
    """
    CREATE TABLE token_uses (
        worker_id TEXT NOT NULL,
        not_before TEXT NOT NULL,
        first_station TEXT NOT NULL,
        first_gateway TEXT NOT NULL,
        other_station TEXT,
        other_gateway TEXT,
        alerted INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (worker_id, not_before)
    );
    CREATE INDEX token_uses_not_before ON token_uses (not_before);
    """,
    # Commands sent from the dashboard and how each ended (the gateway's answer, or none
    # in time), so any replica can tell the outcome and the deadline check can close it.
    """
    CREATE TABLE commands (
        request_id TEXT PRIMARY KEY,
        station_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        door_id TEXT,
        command TEXT NOT NULL,
        actor TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        answer_by TEXT NOT NULL,
        answer_within_s {real} NOT NULL,
        outcome TEXT NOT NULL,
        reply_status TEXT,
        message TEXT NOT NULL DEFAULT '',
        answered_at TEXT
    );
    CREATE INDEX commands_pending ON commands (outcome, answer_by);
    CREATE INDEX commands_by_station ON commands (station_id, issued_at);
    """,
    # The database is the one registry of stations: a station's number and region code
    # move onto its row (they were a copy of the configuration file, rewritten by any
    # process that loaded one), described stations without a number get the next ones,
    # and `station_numbers` remembers every number ever given, so a deleted station's
    # number is never handed out again. The renumbering reads only ids and the old
    # table, never the column it writes, so both databases see the same statement.
    """
    ALTER TABLE stations ADD COLUMN number INTEGER;
    ALTER TABLE stations ADD COLUMN region_code INTEGER;
    INSERT INTO stations (id, name, registered)
        SELECT l.station_id, l.station_id, 1 FROM station_locations l
        WHERE NOT EXISTS (SELECT 1 FROM stations s WHERE s.id = l.station_id);
    INSERT INTO station_zones (station_id, zone)
        SELECT l.station_id, 'rest' FROM station_locations l
        WHERE NOT EXISTS (SELECT 1 FROM station_zones z WHERE z.station_id = l.station_id);
    UPDATE stations SET
        number = (SELECT l.number FROM station_locations l WHERE l.station_id = stations.id),
        region_code = (
            SELECT l.region_code FROM station_locations l WHERE l.station_id = stations.id
        );
    UPDATE stations SET number = (
            SELECT coalesce(max(l.number), 0) FROM station_locations l
        ) + (
            SELECT count(*) FROM stations s2
            WHERE s2.registered = 1 AND s2.id <= stations.id AND NOT EXISTS (
                SELECT 1 FROM station_locations l
                WHERE l.station_id = s2.id AND l.number IS NOT NULL
            )
        )
        WHERE number IS NULL AND registered = 1;
    CREATE UNIQUE INDEX stations_by_number ON stations (number);
    CREATE TABLE station_numbers (
        number INTEGER PRIMARY KEY,
        station_id TEXT NOT NULL,
        assigned_at TEXT NOT NULL,
        retired_at TEXT
    );
    INSERT INTO station_numbers (number, station_id, assigned_at)
        SELECT number, id, coalesce(updated_at, '1970-01-01T00:00:00.000Z') FROM stations
        WHERE number IS NOT NULL;
    DROP TABLE station_locations;
    """,
    # Station policy flows down as signed desired config and comes back as each gateway's
    # reported config: the policy an admin set (with the version it went out as), and the
    # last report of every gateway, to tell applied, pending and refused apart.
    """
    CREATE TABLE station_policies (
        station_id TEXT PRIMARY KEY,
        policy TEXT NOT NULL,
        settings TEXT NOT NULL,
        version {bigint} NOT NULL,
        set_at TEXT NOT NULL,
        set_by TEXT NOT NULL
    );
    CREATE TABLE gateway_configs (
        station_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        version {bigint},
        applied TEXT NOT NULL,
        refused TEXT NOT NULL,
        reported_at TEXT NOT NULL,
        PRIMARY KEY (station_id, gateway_id)
    );
    """,
    # Workers' fault reports and suggestions. A problem is tied to the `worker_report`
    # alert it opened or joined; a photo is a file outside the database, named here.
    """
    CREATE TABLE worker_feedback (
        id {serial},
        kind TEXT NOT NULL,
        station_id TEXT NOT NULL,
        category TEXT NOT NULL,
        body TEXT NOT NULL,
        lang TEXT NOT NULL,
        worker_number {bigint},
        created_at TEXT NOT NULL,
        photo TEXT,
        alert_id {bigint} REFERENCES alerts (id),
        status TEXT NOT NULL,
        reply TEXT,
        replied_at TEXT,
        replied_by TEXT
    );
    CREATE INDEX worker_feedback_by_station ON worker_feedback (station_id, created_at);
    CREATE INDEX worker_feedback_by_worker ON worker_feedback (worker_number, created_at);
    CREATE INDEX worker_feedback_by_alert ON worker_feedback (alert_id);
    """,
    # A condition that clears and comes back within minutes (a flapping sensor, a
    # gateway on a bad link) reopens its alert, counted, instead of opening new ones.
    """
    ALTER TABLE alerts ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE alerts ADD COLUMN last_opened_at TEXT;
    """,
    # Events and entries by month on PostgreSQL (above); SQLite keeps its single tables.
    PerDialect(sqlite="", postgresql=_PARTITION_EVENTS_BY_MONTH),
    # Why a worker was revoked, by whom and when (shown with the worker, and in the audit
    # log); and the entries of one worker in time order, which tell who is inside now.
    """
    CREATE TABLE worker_revocations (
        worker_number {bigint} PRIMARY KEY,
        reason TEXT NOT NULL,
        revoked_by TEXT,
        revoked_at TEXT NOT NULL
    );
    CREATE INDEX entries_by_worker ON entries (worker_id, at);
    """,
    # Reports for the union office read entries of some stations over up to 13 months:
    # an index holding every column they read answers them without touching the table.
    # It starts with the columns of `entries_by_station`, which it replaces (one index
    # less for every stored entry to update).
    """
    CREATE INDEX entries_for_reports
        ON entries (station_id, at, direction, decision, reason, worker_id);
    DROP INDEX entries_by_station;
    """,
    # Door stickers (the QR a worker scans to open a door from the phone) and every phone
    # open tried, for the per-worker rate limit and the record of who opened what from
    # where. The sticker's secret is kept as is: it is printed on the door for anyone to
    # read, and operators reprint it; rotating it replaces it.
    """
    CREATE TABLE door_stickers (
        station_id TEXT NOT NULL,
        door_id TEXT NOT NULL,
        secret TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        PRIMARY KEY (station_id, door_id)
    );
    CREATE TABLE phone_opens (
        request_id TEXT PRIMARY KEY,
        worker_number {bigint} NOT NULL,
        station_id TEXT NOT NULL,
        door_id TEXT NOT NULL,
        at TEXT NOT NULL,
        decided TEXT NOT NULL,
        ip TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX phone_opens_by_worker ON phone_opens (worker_number, at);
    """,
    # Faces paired at a station's door: the worker's separate consent (when, where, which
    # notice, the token they confirmed with) and the person on the terminal, until its
    # removal is asked for (withdrawal, revocation, expiry) and confirmed by the gateway.
    # No image or template: the face stays in the terminal.
    """
    CREATE TABLE face_pairings (
        id {serial},
        worker_number {bigint} NOT NULL,
        station_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        terminal_id TEXT NOT NULL,
        door_id TEXT,
        person_id TEXT NOT NULL,
        consented_at TEXT NOT NULL,
        notice_version TEXT NOT NULL,
        token_not_before TEXT,
        pairing_event_id TEXT NOT NULL UNIQUE,
        recorded_at TEXT NOT NULL,
        removal_cause TEXT,
        removal_asked_at TEXT,
        removed_at TEXT,
        removal_event_id TEXT
    );
    CREATE INDEX face_pairings_by_worker ON face_pairings (worker_number);
    CREATE INDEX face_pairings_by_person
        ON face_pairings (station_id, gateway_id, terminal_id, person_id);
    """,
    PerDialect(sqlite="", postgresql=_ATTACH_MONTHS),
    # Replicas sharing the gateways' messages apply each gateway's events in its order
    # (`dashboard.storage.sequence_order`): how far each gateway is applied, and the
    # events that wait for a number below them.
    """
    CREATE TABLE seq_applied (
        station_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        through {bigint} NOT NULL,
        PRIMARY KEY (station_id, gateway_id)
    );
    CREATE TABLE seq_waiting (
        station_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        seq {bigint} NOT NULL,
        since {real} NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        PRIMARY KEY (station_id, gateway_id, seq)
    );
    """,
)
"""Schema changes in order; migration n is `MIGRATIONS[n - 1]`."""

LEGACY_COUNTERS = {"worker_schema_version": 6, "operators_schema_version": 7}
"""Counters of the old separate migration lists, and the number their one migration has
here. The old store's counter was `schema_version` itself."""

_LOCK_KEY = 0x797A5F73_6368656D
"""Held while migrating on PostgreSQL (`pg_advisory_xact_lock`): the same in every release."""


def upgrade(database: Database) -> int:
    """Apply the migrations the database lacks, in order, in one transaction; how many."""
    with database.transaction() as db:
        if db.dialect == "postgresql":
            # Two replicas starting at once must not both migrate; the lock is taken
            # before anything is read, even before the counter table exists.
            db.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK_KEY,))
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        if db.dialect == "postgresql":
            # And against a replica of the last release, which locked only this table.
            db.execute("LOCK TABLE schema_version IN EXCLUSIVE MODE")
        applied = {int(r[0]) for r in db.execute("SELECT version FROM schema_version")}
        applied |= _fold_legacy_counters(db, applied)
        pending = [
            (number, migration)
            for number, migration in enumerate(MIGRATIONS, start=1)
            if number not in applied
        ]
        for number, migration in pending:
            script = migration if isinstance(migration, str) else migration.script(db.dialect)
            if script.strip():
                db.script(script.format(**database.words))
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
    return len(pending)


def open_database(url: str, autocheckpoint: bool = True) -> Database:
    """The database at `url`, upgraded to the current schema."""
    database = Database(url, autocheckpoint=autocheckpoint)
    upgrade(database)
    return database


class DatabaseMissingError(LookupError):
    """The database a tool was pointed at does not exist (or was never set up)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def open_existing_database(url: str) -> Database:
    """The database at `url`, upgraded, if it exists: `DatabaseMissingError` otherwise.

    For the command line tools, which must never create a database of their own: a
    SQLite file that is not there, or a PostgreSQL database without yizhan's schema,
    is missing. Only the central (and the demo) create one (`open_database`).
    """
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise DatabaseMissingError(url)
        return open_database(url)
    database = Database(url)
    try:
        with database.connection() as db:
            ours = _table_exists(db, "schema_version")
    except BaseException:
        database.close()
        raise
    if not ours:
        database.close()
        raise DatabaseMissingError(url)
    upgrade(database)
    return database


def _fold_legacy_counters(db: Connection, applied: set[int]) -> set[int]:
    folded: set[int] = set()
    for counter, number in LEGACY_COUNTERS.items():
        if not _table_exists(db, counter):
            continue
        if db.execute(f"SELECT 1 FROM {counter} WHERE version = 1").fetchone() is not None:
            if number not in applied:
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
            folded.add(number)
        db.execute(f"DROP TABLE {counter}")
    return folded


def _table_exists(db: Connection, name: str) -> bool:
    if db.dialect == "sqlite":
        query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    else:
        query = "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?"
    return db.execute(query, (name,)).fetchone() is not None
