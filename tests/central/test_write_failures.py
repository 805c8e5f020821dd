"""Write failures told apart, on errors the real databases raise: a database that takes no
write now (locked, read-only, unreachable) is unavailable, and data it refuses (a
constraint, a number out of range) is refused."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from dashboard.storage.failures import REASON_CHARS, classify, describe
from tests.support.mosquitto import free_port
from tests.support.postgres import PostgresServer


def raised(action: object) -> BaseException:
    """What calling `action` raises."""
    assert callable(action)
    try:
        action()
    except BaseException as error:
        return error
    raise AssertionError("nothing was raised")


@pytest.fixture()
def sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "t.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (n INTEGER CHECK (n < 10))")
    return path


def test_sqlite_locked_and_read_only_are_unavailable(sqlite_file: Path) -> None:
    holder = sqlite3.connect(sqlite_file, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(sqlite_file, timeout=0, isolation_level=None)
    locked = raised(lambda: waiter.execute("BEGIN IMMEDIATE"))
    holder.execute("ROLLBACK")
    reader = sqlite3.connect(f"file:{sqlite_file}?mode=ro", uri=True)
    read_only = raised(lambda: reader.execute("INSERT INTO t VALUES (1)"))
    for db in (holder, waiter, reader):
        db.close()

    assert classify(locked).unavailable, describe(locked)
    assert classify(read_only).unavailable, describe(read_only)
    assert "locked" in classify(locked).reason


def test_sqlite_refusing_data_is_refused(sqlite_file: Path) -> None:
    db = sqlite3.connect(sqlite_file)
    constraint = raised(lambda: db.execute("INSERT INTO t VALUES (11)"))
    too_big = raised(lambda: db.execute("INSERT INTO t VALUES (?)", (2**64,)))
    db.close()

    assert not classify(constraint).unavailable
    assert not classify(too_big).unavailable


def test_a_full_disk_is_unavailable() -> None:
    assert classify(OSError(errno.ENOSPC, "No space left on device")).unavailable


@pytest.fixture()
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    url = postgres.create_database()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE t (n INTEGER CHECK (n < 10), s TEXT)")
    yield url
    postgres.drop_database(url)


def test_postgresql_unreachable_and_read_only_are_unavailable(pg_url: str) -> None:
    nobody = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    unreachable = raised(lambda: psycopg.connect(nobody, connect_timeout=5))
    with psycopg.connect(pg_url) as db:
        db.execute("SET TRANSACTION READ ONLY")
        read_only = raised(lambda: db.execute("INSERT INTO t VALUES (1)"))

    assert classify(unreachable).unavailable, describe(unreachable)
    assert classify(read_only).unavailable, describe(read_only)


def test_postgresql_refusing_data_is_refused(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as db:
        constraint = raised(lambda: db.execute("INSERT INTO t VALUES (11)"))
        out_of_range = raised(lambda: db.execute("INSERT INTO t VALUES (%s)", (2**40,)))
        nul = raised(lambda: db.execute("INSERT INTO t (s) VALUES (%s)", ("a\x00b",)))

    for error in (constraint, out_of_range, nul):
        assert not classify(error).unavailable, describe(error)
    assert "t_n_check" in classify(constraint).reason


def test_a_reason_is_one_line_of_bounded_length_without_nul() -> None:
    reason = describe(ValueError("first\x00line " + "x" * 1000 + "\nsecond line"))
    assert reason.startswith("ValueError: first\\x00line")
    assert "\n" not in reason and "\x00" not in reason
    assert len(reason) == REASON_CHARS
