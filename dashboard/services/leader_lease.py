"""Which central replica does the work that must be done once: the leader lease.

Replicas on one PostgreSQL database share ingest, but the time-driven checks (offline
gateways, sequence gaps, command deadlines, presence resets), retention, the face
removal sweep and the InfluxDB gateway export must run on one replica at a time, or two
replicas would open the same alert twice and export every point twice. The leader is the
replica holding a session-level PostgreSQL advisory lock on a connection of its own.

The lock lives as long as that connection: a replica that exits, crashes or is killed
with `kill -9` closes it (the kernel does, for a killed process), and the server releases
the lock at once. A replica whose machine vanishes leaves a connection the server only
notices by TCP keepalives, which this connection asks for every second after three idle
seconds (`tcp_keepalives_*`, three probes): about six seconds. Followers try for the lock
every `retry_s` (2 s by default), so the lease moves within `6 + retry_s` seconds of the
leader's death. A leader checks its connection as often and steps down the moment it
breaks; in the few seconds before it notices, the old and the new leader may both run a
check, which every check tolerates (each settles its alerts with upserts).

On SQLite there is one database file on one machine, hence one replica: it always leads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Final

log = logging.getLogger(__name__)

LOCK_CLASS: Final = 0x797A
"""First half of the lease's advisory lock key ("yz"); the two-key form keeps it apart
from every one-key advisory lock the schema takes."""
LOCK_ID: Final = 1
"""Second half: the central's leader lease."""

RETRY_S: Final = 2.0
"""How often a follower asks for the lease, and a leader checks it still holds it."""

KEEPALIVE: Final = {
    "keepalives": 1,
    "keepalives_idle": 3,
    "keepalives_interval": 1,
    "keepalives_count": 3,
    "connect_timeout": 5,
}
"""The client side of the lease connection notices a dead server as fast as the server
notices a dead client."""

SERVER_KEEPALIVE = (
    "SET tcp_keepalives_idle = 3; SET tcp_keepalives_interval = 1; SET tcp_keepalives_count = 3"
)
"""The server side: a leader whose machine vanished loses the lock in about six seconds."""


class LeaderLease:
    """Held by one central replica at a time; `held` says whether it is this one.

    `on_change(held)` is called from the lease's thread whenever that changes.
    """

    def __init__(
        self,
        database_url: str,
        *,
        retry_s: float = RETRY_S,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.database_url = database_url
        self.retry_s = retry_s
        self._on_change = on_change
        self._shared = database_url.startswith(("postgresql://", "postgres://"))
        self._held = not self._shared
        self._conn: Any = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader-lease", daemon=True)

    @property
    def held(self) -> bool:
        """True while this replica leads (always on SQLite)."""
        return self._held

    def start(self) -> None:
        """Ask for the lease now and keep asking (PostgreSQL); nothing to do on SQLite."""
        if self._shared:
            self._attempt()
            self._thread.start()

    def stop(self) -> None:
        """Give the lease up, so another replica takes it without waiting."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._release()

    def _run(self) -> None:
        while not self._stop.wait(self.retry_s):
            self._attempt()

    def _attempt(self) -> None:
        try:
            if self._conn is None:
                self._conn = self._connect()
            if self._held:
                self._conn.execute("SELECT 1").fetchone()
                return
            row = self._conn.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, LOCK_ID)
            ).fetchone()
            if row is not None and row[0]:
                self._set(True)
        except Exception as error:
            # The connection is gone, and the lock with it (the server frees it when it
            # sees the connection end): step down now rather than at the next check.
            log.warning("leader lease: database connection lost: %s", error)
            self._close()
            self._set(False)

    def _connect(self) -> Any:
        import psycopg
        from psycopg.conninfo import make_conninfo

        conn = psycopg.connect(make_conninfo(self.database_url, **KEEPALIVE), autocommit=True)
        conn.execute(SERVER_KEEPALIVE)
        return conn

    def _set(self, held: bool) -> None:
        if held == self._held:
            return
        self._held = held
        log.warning("this replica %s the leader lease", "now holds" if held else "no longer holds")
        if self._on_change is not None:
            self._on_change(held)

    def _release(self) -> None:
        if self._conn is not None and self._held:
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, LOCK_ID))
            except Exception as error:
                log.debug("leader lease: unlock failed (the connection ends anyway): %s", error)
        self._close()
        self._held = not self._shared

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception as error:
                log.debug("leader lease: closing the connection failed: %s", error)
