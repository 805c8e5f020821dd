"""Why a write failed, told apart: the database cannot take writes right now, or it
refused what it was given.

The first kind (down, unreachable, shutting down, locked, disk full, read-only, out of
memory, a damaged file) says nothing about the data: the same write succeeds once the
cause is gone, so it is retried and never held against a message. The second kind (a
value out of range, a constraint, a limit of the database) follows the data, so ingest
looks for the one message that causes it and quarantines that message alone.

The error classes and codes are the databases' own: SQLite's primary result codes and
PostgreSQL's SQLSTATE classes.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

REASON_CHARS = 500
"""How much of a database's error message is kept as a reason."""

SQLITE_UNAVAILABLE = {
    5: "busy",
    6: "locked",
    7: "out of memory",
    8: "read-only",
    9: "interrupted",
    10: "disk I/O error",
    11: "damaged",
    13: "disk full",
    14: "cannot open",
    15: "locking protocol",
    26: "not a database",
}
"""SQLite primary result codes that say the database cannot take writes now."""

POSTGRES_UNAVAILABLE = {
    "08": "connection",
    "25": "read-only or transaction state",
    "40": "transaction rolled back",
    "53": "insufficient resources",
    "55": "object not available",
    "57": "shutting down or cancelled",
    "58": "system error",
    "XX": "internal error",
}
"""PostgreSQL SQLSTATE classes that say the server cannot take writes now."""


@dataclass(frozen=True, slots=True)
class WriteFailure:
    """What kept a write from committing."""

    unavailable: bool
    """True when the database could take no write now; False when it refused the data."""
    reason: str
    """The database's own words, on one line."""


def classify(error: BaseException) -> WriteFailure:
    """Tell an error raised while writing apart: unavailable, or refused."""
    return WriteFailure(_unavailable(error), describe(error))


def describe(error: BaseException) -> str:
    """An error as one line of at most REASON_CHARS: its class and its first line."""
    text = str(error).strip().splitlines()
    line = f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
    # The reason is stored as text: PostgreSQL refuses NUL in it.
    return line.replace("\x00", "\\x00")[:REASON_CHARS]


def _unavailable(error: BaseException) -> bool:
    if isinstance(error, sqlite3.Error):
        # Errors of the sqlite3 module itself (a value it cannot bind) carry no code and
        # are about the statement's data.
        code = getattr(error, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in SQLITE_UNAVAILABLE
    if type(error).__module__.split(".", 1)[0] == "psycopg":
        sqlstate = getattr(error, "sqlstate", None)
        if sqlstate:
            return str(sqlstate)[:2] in POSTGRES_UNAVAILABLE
        # No SQLSTATE: the client itself failed (connection refused, lost or closed).
        return any(base.__name__ in _PSYCOPG_CLIENT_FAILURES for base in type(error).__mro__)
    # The operating system refusing the files (disk full, a read-only mount).
    return isinstance(error, OSError)


_PSYCOPG_CLIENT_FAILURES = {"OperationalError", "InterfaceError"}
