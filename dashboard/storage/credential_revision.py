"""How the credential publisher notices changes and numbers what it publishes.

Tables `credential_revision` (one number that counts up with every committed change of
workers, credentials, pass links, station locations or keys, from any process: the
`yizhan workers` command line changes them beside the running central) and
`credential_versions` (the next version of each published document, kept across
restarts); nothing else writes them.
"""

from __future__ import annotations

from dashboard.storage.db import Connection


def count_change(db: Connection) -> None:
    """Count up the revision, inside the transaction that changes something published."""
    db.execute("UPDATE credential_revision SET revision = revision + 1")


def revision(db: Connection) -> int:
    """The revision number now."""
    return int(db.execute("SELECT revision FROM credential_revision").fetchone()[0])


def next_version(db: Connection, name: str) -> int:
    """The next version number of a published document (inside a transaction)."""
    db.execute(
        "INSERT INTO credential_versions (name, version) VALUES (?, 1) "
        "ON CONFLICT (name) DO UPDATE SET version = credential_versions.version + 1",
        (name,),
    )
    row = db.execute("SELECT version FROM credential_versions WHERE name = ?", (name,)).fetchone()
    return int(row[0])
