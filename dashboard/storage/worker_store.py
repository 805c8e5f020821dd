"""The credential side's store: workers, pass links and signing keys, and (read only) the
stations' numbers.

Every change made through `WorkerStore` counts up the credential revision
(`dashboard.storage.credential_revision`) in its own transaction; the credential
publisher watches it to notice changes made by another process (the `yizhan workers`
command line). Each table is written by its own module; this class only borrows
connections and transactions for them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from dashboard.core.workers import Worker, WorkerInput, WorkerStatus, WorkerUpdate
from dashboard.storage import (
    credential_revision,
    pass_links,
    signing_keys,
    stations,
    worker_revocations,
    workers,
)
from dashboard.storage.db import Connection, Database
from dashboard.storage.pass_links import PassLinkRow
from dashboard.storage.signing_keys import KeyRow
from dashboard.storage.stations import StationLocationRow
from dashboard.storage.worker_revocations import Revocation
from dashboard.storage.workers import CredentialRow, EnrollmentError


class WorkerStore:
    """Workers, credentials, pass links, station locations and key rows, each change
    counted in the credential revision. Safe to share between threads."""

    def __init__(self, database: Database) -> None:
        """Use a database already upgraded (`dashboard.storage.migrations`)."""
        self.db = database

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
            credential_revision.count_change(db)

    def close(self) -> None:
        """Close idle connections."""
        self.db.close()

    def revision(self) -> int:
        """Counts up with every committed change, from any process."""
        with self.connection() as db:
            return credential_revision.revision(db)

    def next_version(self, name: str) -> int:
        """The next version number of a published document (kept across restarts)."""
        # Not a `transaction()`: publishing must not look like a data change.
        with self.db.transaction() as db:
            return credential_revision.next_version(db, name)

    # --- station locations -----------------------------------------------------------

    def station_locations(self) -> list[StationLocationRow]:
        """Every station's number and region code, read from the station registry
        (`dashboard.storage.stations`), which this store never writes."""
        with self.connection() as db:
            return stations.locations(db)

    def station_numbers(self) -> dict[str, int]:
        """Station id → number, for stations that have one."""
        return {s.station_id: s.number for s in self.station_locations() if s.number is not None}

    # --- workers ---------------------------------------------------------------------

    def add_workers(self, inputs: Sequence[WorkerInput]) -> list[Worker]:
        """Enroll all of `inputs` in one transaction, or none of them (`EnrollmentError`)."""
        with self.transaction() as db:
            return workers.add(db, inputs)

    def group_numbers(self) -> dict[str, int]:
        """Group name → the number tokens and credential maps carry."""
        with self.connection() as db:
            return workers.group_numbers(db)

    def get(self, number: int) -> Worker:
        """One worker; `UnknownWorkerError` if there is none."""
        with self.connection() as db:
            return workers.load(db, number)

    def workers(
        self, status: WorkerStatus | None = None, limit: int = 1000, offset: int = 0
    ) -> list[Worker]:
        """Workers, oldest enrollment first."""
        with self.connection() as db:
            return workers.rows(db, status, limit, offset)

    def update(self, number: int, change: WorkerUpdate) -> Worker:
        """Apply the fields given in `change`; `EnrollmentError` on a conflict."""
        with self.transaction() as db:
            return workers.update(db, number, change)

    def revoke(self, number: int, reason: str | None = None, by: str | None = None) -> Worker:
        """Revoke a worker for good, keeping `reason` (and who gave it) when there is one."""
        with self.transaction() as db:
            worker = workers.update(db, number, WorkerUpdate(status=WorkerStatus.REVOKED))
            if reason:
                worker_revocations.record(db, number, reason, by)
            return worker

    def revocations(self, numbers: Sequence[int]) -> dict[int, Revocation]:
        """Why those of `numbers` that were revoked with a reason were revoked."""
        with self.connection() as db:
            return worker_revocations.of_workers(db, numbers)

    def search(
        self, text: str, status: WorkerStatus | None = None, limit: int = 100, offset: int = 0
    ) -> list[Worker]:
        """Workers not erased whose name, id, card or face id matches `text`."""
        with self.connection() as db:
            return workers.search(db, text, status, limit, offset)

    def erase(self, number: int) -> None:
        """Forget a worker's personal data, keeping the number revoked."""
        with self.transaction() as db:
            workers.erase(db, number)
            worker_revocations.forget(db, number)

    def refused_numbers(self) -> list[int]:
        """Worker numbers that are suspended or revoked, ascending."""
        with self.connection() as db:
            return workers.refused_numbers(db)

    def credentials(self) -> list[tuple[CredentialRow, Worker]]:
        """Every face id and card with its worker."""
        with self.connection() as db:
            return workers.credentials(db)

    # --- pass links ------------------------------------------------------------------

    def create_pass_link(self, number: int) -> tuple[PassLinkRow, str]:
        """A new link for an active worker: its row and the secret (shown once)."""
        with self.transaction() as db:
            worker = workers.load(db, number)
            if worker.status is not WorkerStatus.ACTIVE:
                raise EnrollmentError([(0, "status", f"worker is {worker.status.value}")])
            return pass_links.create(db, number)

    def pass_links(self, number: int) -> list[PassLinkRow]:
        """A worker's links, newest first."""
        with self.connection() as db:
            return pass_links.of_worker(db, number)

    def revoke_pass_link(self, link_id: int) -> PassLinkRow:
        """Make a link stop working; `LookupError` if there is no such link."""
        with self.transaction() as db:
            return pass_links.revoke(db, link_id)

    def worker_for_secret(self, secret: str) -> Worker | None:
        """The worker behind a live pass link, or None for an unknown or revoked one."""
        with self.connection() as db:
            number = pass_links.worker_of_secret(db, secret)
            return None if number is None else workers.load(db, number)

    # --- signing key rows ------------------------------------------------------------

    def key_rows(self) -> list[KeyRow]:
        """Every signing key still kept, oldest first."""
        with self.connection() as db:
            return signing_keys.rows(db)

    def insert_key(self, row: KeyRow, retire: Sequence[tuple[int, datetime]] = ()) -> None:
        """Add a key and schedule others' retirement, in one transaction."""
        with self.transaction() as db:
            signing_keys.insert(db, row, retire)

    def delete_keys(self, key_ids: Sequence[int]) -> None:
        """Forget retired keys."""
        with self.transaction() as db:
            signing_keys.delete(db, key_ids)
