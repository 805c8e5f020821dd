"""Existing databases upgrade in place: made by the last release's four migration lists
(with data in them), opened by the current code, on SQLite and on PostgreSQL, they keep
every row and end up with the schema a fresh database has, also when only some of the
old stores had been created, also when several processes start at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.payloads import INT64_MAX, AccessEvent, utc_now
from dashboard.core.changes import AlertThresholds
from dashboard.core.stations import StationInput
from dashboard.ingest import batch
from dashboard.storage.db import Connection, Database
from dashboard.storage.migrations import MIGRATIONS, open_database, upgrade
from dashboard.storage.operators import OperatorStore
from dashboard.storage.store import Store
from dashboard.storage.worker_store import WorkerStore
from tests.support.legacy_schema import PARTITIONS, create_old_stores, schema_of
from tests.support.postgres import PostgresServer

AT = "2026-11-23T03:00:00.000Z"
RECEIVED = "2026-11-23T03:00:00.250Z"
WORKER = 4_207_001
LAST_RELEASE_MIGRATIONS = 7
"""How many of the list's migrations the last release's databases have."""

NEW_TABLES = (
    "enrollment_codes",
    "token_uses",
    "commands",
    "station_policies",
    "gateway_configs",
    "worker_feedback",
    "worker_revocations",
    "door_stickers",
    "phone_opens",
    "face_pairings",
    "seq_applied",
    "seq_waiting",
)
"""Tables made by the migrations after the last release's."""


@pytest.fixture()
def fresh_url(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database of the same kind as `database_url`."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.create_database()
    yield url
    server.drop_database(url)


def fill_store_v3(db: Connection) -> int:
    """Rows in the tables of the store's first three migrations; the id of an open gap
    alert whose missing range is seq 2 of cs-0001/gw-1."""
    db.execute(
        "INSERT INTO stations (id, name, lat, lon, capacity, occupancy, registered) "
        "VALUES ('cs-0001', '五一广场驿站', 28.196, 112.977, 12, 1, 1)"
    )
    db.execute(
        "INSERT INTO gateways (station_id, gateway_id, online, version, last_seen) "
        "VALUES ('cs-0001', 'gw-1', 1, '0.1.0', ?)",
        (RECEIVED,),
    )
    for seq, event_id in ((1, "e-1"), (3, "e-3")):
        db.execute(
            "INSERT INTO events (event_id, kind, station_id, gateway_id, seq, at, received_at, "
            "payload) VALUES (?, 'access', 'cs-0001', 'gw-1', ?, ?, ?, ?)",
            (event_id, seq, AT, RECEIVED, f'{{"schema": "access/1", "seq": {seq}}}'),
        )
        db.execute(
            "INSERT INTO entries (event_id, station_id, gateway_id, seq, at, door_id, "
            "direction, credential, worker_id, decision, reason) "
            "VALUES (?, 'cs-0001', 'gw-1', ?, ?, 'main', 'in', 'qr', 'w1001', 'granted', "
            "'granted')",
            (event_id, seq, AT),
        )
    db.execute(
        "INSERT INTO quarantine (received_at, topic, code, reason, size, payload) "
        "VALUES (?, 'yz/v1/st/cs-0001/gw/gw-1/event/access', 'bad_json', 'not JSON', 9, ?)",
        (RECEIVED, b"{not json"),
    )
    alert_id = db.insert_id(
        "INSERT INTO alerts (kind, station_id, gateway_id, opened_at, detail) "
        "VALUES ('seq_gap', 'cs-0001', 'gw-1', ?, '1 event(s) missing: seq 2') RETURNING id",
        (AT,),
    )
    db.execute(
        "INSERT INTO alerts (kind, station_id, gateway_id, opened_at, resolved_at, detail) "
        "VALUES ('gateway_offline', 'cs-0001', 'gw-1', ?, ?, 'offline a while')",
        (AT, RECEIVED),
    )
    db.execute("INSERT INTO seq_high (station_id, gateway_id, high) VALUES ('cs-0001', 'gw-1', 3)")
    db.execute(
        "INSERT INTO seq_missing (station_id, gateway_id, first, last, noticed_at, alert_id) "
        "VALUES ('cs-0001', 'gw-1', 2, 2, 1800000000.0, ?)",
        (alert_id,),
    )
    return alert_id


def fill_store_v5(db: Connection) -> int:
    """Rows in every table of the store's five migrations; the open gap alert's id."""
    alert_id = fill_store_v3(db)
    db.execute(
        "UPDATE stations SET address = '长沙市芙蓉区五一大道 1 号', amenities = '[\"water\"]', "
        "updated_at = ? WHERE id = 'cs-0001'",
        (AT,),
    )
    db.execute(
        "INSERT INTO station_zones (station_id, zone, capacity, occupancy) "
        "VALUES ('cs-0001', 'sleeping', 4, 0)"
    )
    db.execute(
        "INSERT INTO doors (station_id, door_id, zone, beams, gateway_id, configured) "
        "VALUES ('cs-0001', 'main', 'rest', 0, 'gw-1', 1)"
    )
    db.execute(
        "INSERT INTO sensors (station_id, sensor_id, zone, present, changed_at, last_seen) "
        "VALUES ('cs-0001', 'radar-1', 'rest', 1, 1800000000.0, 1800000000.5)"
    )
    db.execute(
        "INSERT INTO occupancy_corrections (station_id, zone, before_count, after_count, "
        "corrected_by, reason, at) VALUES ('cs-0001', 'rest', 3, 1, 'admin', 'counted', ?)",
        (AT,),
    )
    db.execute(
        "INSERT INTO occupancy_history (station_id, at, occupancy, peak, capacity) "
        "VALUES ('cs-0001', ?, 1, 3, 12)",
        (AT,),
    )
    db.execute(
        "INSERT INTO devices (station_id, gateway_id, device_id, kind, ok, detail, state, "
        "last_frame_age_s, read_at) VALUES ('cs-0001', 'gw-1', 'radar-1', 'radar', 1, "
        "'port open', '{\"present\": true}', 0.1, ?)",
        (AT,),
    )
    db.execute(
        "INSERT INTO door_states (station_id, door_id, gateway_id, state, at) "
        "VALUES ('cs-0001', 'main', 'gw-1', 'closed', ?)",
        (AT,),
    )
    db.execute(
        "UPDATE alerts SET status = 'acknowledged', acknowledged_at = ?, acknowledged_by = "
        "'admin', acknowledged_note = 'on it' WHERE id = ?",
        (RECEIVED, alert_id),
    )
    return alert_id


def fill_workers(db: Connection) -> None:
    """Rows in every table of the workers' migration."""
    db.execute(
        "INSERT INTO workers (number, enrolled, display_name, platform, groups, valid_from, "
        "valid_until, status, scope, created_at, updated_at) VALUES (?, 1, '王师傅', "
        "'meituan', '[\"riders\"]', NULL, NULL, 'active', 'any', ?, ?)",
        (WORKER, AT, AT),
    )
    db.execute(
        "INSERT INTO worker_credentials (kind, external_id, worker_number) "
        "VALUES ('card', '12345678', ?)",
        (WORKER,),
    )
    db.execute("INSERT INTO worker_groups (name, number) VALUES ('riders', 1)")
    db.execute(
        "INSERT INTO station_locations (station_id, number, region_code) "
        "VALUES ('cs-0001', 1, 430102)"
    )
    db.execute(
        "INSERT INTO pass_links (worker_number, secret_hash, created_at) VALUES (?, 'ab12', ?)",
        (WORKER, AT),
    )
    db.execute(
        "INSERT INTO signing_keys (key_id, public_key, created_at, signs_from) "
        "VALUES (7, 'cHVibGlj', ?, ?)",
        (AT, AT),
    )
    db.execute("INSERT INTO credential_versions (name, version) VALUES ('keys', 3)")
    db.execute("UPDATE credential_revision SET revision = 5")


def fill_operators(db: Connection) -> None:
    """Rows in every table of the operators' migration."""
    db.execute(
        "INSERT INTO operators (name, role, password_hash, created_at) "
        "VALUES ('admin', 'admin', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA', ?)",
        (AT,),
    )
    db.execute(
        "INSERT INTO operator_sessions (token_hash, name, csrf, created_at, expires_at) "
        "VALUES ('cd34', 'admin', 'csrf', ?, '2099-01-01T00:00:00.000Z')",
        (AT,),
    )
    db.execute(
        "INSERT INTO audit_log (at, actor, action, target, status) "
        "VALUES (?, 'admin', 'PUT', '/api/stations/cs-0001', 200)",
        (AT,),
    )


Snapshot = dict[str, tuple[list[str], list[tuple[object, ...]]]]


def snapshot(database: Database) -> Snapshot:
    """Every row of every table but the migration counters, by table: its columns and
    its rows in order."""
    with database.connection() as db:
        if database.dialect == "sqlite":
            query = (
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        else:
            # A partition's rows are its table's (events and entries by month).
            query = (
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                f"AND tablename NOT IN ({PARTITIONS})"
            )
        tables = sorted(r[0] for r in db.execute(query) if not r[0].endswith("schema_version"))
        taken: Snapshot = {}
        for table in tables:
            cursor = db.execute(f"SELECT * FROM {table} WHERE 1 = 0")
            columns = [d[0] for d in cursor.description]  # type: ignore[attr-defined]
            rows = db.execute(f"SELECT * FROM {table} ORDER BY {', '.join(columns)}").fetchall()
            taken[table] = (
                columns,
                [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows],
            )
    return taken


def assert_kept(before: Snapshot, after: Database) -> None:
    """Every row `before` had is in `after`, column for column (upgrades may add columns
    and tables, never lose a value)."""
    with after.connection() as db:
        for table, (columns, rows) in before.items():
            if table == "station_locations":
                # Moved onto the stations' own rows.
                now = db.execute("SELECT id, number, region_code FROM stations").fetchall()
                assert set(rows) <= {tuple(r) for r in now}, "station numbers were lost"
                continue
            listed = ", ".join(columns)
            now = db.execute(f"SELECT {listed} FROM {table} ORDER BY {listed}").fetchall()
            kept = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in now]
            assert kept == rows, f"rows of {table} changed"


def test_a_database_of_the_last_release_upgrades_in_place(
    database_url: str, fresh_url: str
) -> None:
    old = Database(database_url)
    create_old_stores(old, "store", "workers", "operators")
    with old.transaction() as db:
        gap_alert = fill_store_v5(db)
        fill_workers(db)
        fill_operators(db)
    before = snapshot(old)
    assert set(before) >= {"alerts", "workers", "operators", "door_states"}

    added = len(MIGRATIONS) - LAST_RELEASE_MIGRATIONS
    assert upgrade(old) == added, "every old migration is one of the list's"
    after = snapshot(old)
    # Station numbers moved from their copy of the configuration onto the stations'
    # rows, and into the ledger of every number ever given; nothing else changed.
    moved = before.pop("station_locations")
    assert moved == (["station_id", "number", "region_code"], [("cs-0001", 1, 430102)])
    _, ledger = after.pop("station_numbers")
    assert [row[:2] + row[3:] for row in ledger] == [(1, "cs-0001", None)]
    columns, rows = before["stations"]
    before["stations"] = ([*columns, "number", "region_code"], [(*rows[0], 1, 430102)])
    # Alerts count how often their condition opened: once, for those of old.
    columns, rows = before["alerts"]
    before["alerts"] = ([*columns, "repeats", "last_opened_at"], [(*r, 1, None) for r in rows])
    for table in NEW_TABLES:
        assert after.pop(table)[1] == [], f"{table} is new and empty"
    assert after == before, "no other table came or went, no stored row changed"
    fresh = open_database(fresh_url)
    assert schema_of(old) == schema_of(fresh)
    assert schema_of(old)["versions"] == [(n,) for n in range(1, len(MIGRATIONS) + 1)]
    fresh.close()

    # The upgraded database works: the missing event arrives and resolves the old alert;
    # workers and operators are where they were.
    result = batch.record(old, AlertThresholds(), [access(2)])
    assert [(a.id, a.status) for a in result.alerts] == [(gap_alert, "resolved")]
    assert Store(old).station("cs-0001").station.address == "长沙市芙蓉区五一大道 1 号"
    workers = WorkerStore(old)
    assert (workers.get(WORKER).card_numbers, workers.revision()) == (("12345678",), 5)
    assert OperatorStore(old).get("admin").role == "admin"
    old.close()


@pytest.mark.parametrize(
    ("stores", "store_version"),
    [
        pytest.param(("operators",), 5, id="operators-only"),
        pytest.param(("store", "workers"), 3, id="older-store-and-workers"),
        pytest.param(("workers", "operators"), 5, id="no-store"),
    ],
)
def test_a_database_with_only_some_old_stores_upgrades_in_place(
    database_url: str, fresh_url: str, stores: tuple[str, ...], store_version: int
) -> None:
    old = Database(database_url)
    create_old_stores(old, *stores, store_version=store_version)
    with old.transaction() as db:
        if "store" in stores:
            fill_store_v3(db)
        if "workers" in stores:
            fill_workers(db)
        if "operators" in stores:
            fill_operators(db)
    before = snapshot(old)

    assert upgrade(old) > 0
    assert_kept(before, old)
    fresh = open_database(fresh_url)
    assert schema_of(old) == schema_of(fresh)
    assert upgrade(old) == 0, "nothing left to apply"
    fresh.close()
    old.close()


@pytest.mark.parametrize("stores", [(), ("operators",)], ids=["empty", "operators-only"])
def test_processes_starting_at_once_migrate_once(
    database_url: str, fresh_url: str, stores: tuple[str, ...]
) -> None:
    if stores:
        old = Database(database_url)
        create_old_stores(old, *stores)
        old.close()
    starters = 4
    together = threading.Barrier(starters)
    applied: list[int] = []
    failures: list[BaseException] = []

    def start() -> None:
        database = Database(database_url)
        try:
            together.wait(timeout=30)
            applied.append(upgrade(database))
        except BaseException as error:
            failures.append(error)
        finally:
            database.close()

    threads = [threading.Thread(target=start) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert sorted(applied) == [0] * (starters - 1) + [len(MIGRATIONS) - len(stores)]
    fresh = open_database(fresh_url)
    migrated = Database(database_url)
    assert schema_of(migrated) == schema_of(fresh)
    fresh.close()
    migrated.close()


def test_an_upgraded_database_stores_every_64_bit_sequence_number(database_url: str) -> None:
    old = Database(database_url)
    create_old_stores(old, "store", "workers", "operators")
    with old.transaction() as db:
        fill_store_v5(db)
    upgrade(old)

    beyond_32_bits = 2**31 + 1
    batch.record(old, AlertThresholds(), [access(beyond_32_bits), access(INT64_MAX)])

    with old.connection() as db:
        high = db.execute("SELECT high FROM seq_high WHERE gateway_id = 'gw-1'").fetchone()[0]
        missing = db.execute(
            "SELECT first, last FROM seq_missing WHERE first > 3 ORDER BY first"
        ).fetchall()
    assert high == INT64_MAX
    assert [tuple(r) for r in missing] == [
        (4, beyond_32_bits - 1),
        (beyond_32_bits + 1, INT64_MAX - 1),
    ]
    old.close()


def access(seq: int) -> AccessEvent:
    return AccessEvent(
        station_id="cs-0001",
        gateway_id="gw-1",
        seq=seq,
        at=utc_now(),
        door_id="main",
        direction="in",
        credential="qr",
        decision="denied",
        reason="unknown_credential",
    )


def test_described_stations_without_a_number_get_the_next_ones_on_upgrade(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard.storage import migrations

    database = Database(database_url)
    # The database as the release before the registry left it: numbers only for the
    # stations the configuration file gave one.
    registry = next(n for n, m in enumerate(MIGRATIONS) if "DROP TABLE station_locations" in str(m))
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS[:registry])
    upgrade(database)
    with database.transaction() as db:
        for station_id, registered in (("a-1", 1), ("b-1", 1), ("c-1", 0), ("d-1", 1)):
            db.execute(
                "INSERT INTO stations (id, name, registered) VALUES (?, ?, ?)",
                (station_id, station_id, registered),
            )
        db.execute(
            "INSERT INTO station_locations (station_id, number, region_code) "
            "VALUES ('b-1', 7, 430102)"
        )
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS)
    assert upgrade(database) == len(MIGRATIONS) - registry
    store = Store(database)
    got = {s.id: (s.number, s.region_code) for s in store.stations()}
    # b keeps its number; a and d follow it; c (never described) waits for one.
    assert got == {
        "a-1": (8, None),
        "b-1": (7, 430102),
        "c-1": (None, None),
        "d-1": (9, None),
    }
    store.put_station(StationInput(id="e-1", name="e"))
    assert store.station("e-1").station.number == 10
    database.close()
