"""Worker credentials in the central: one object that the API and the CLI both use.

It ties the worker store, the signing keys and (in the running service) the publisher
together, so that every change that gateways must hear about is published at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from contract.payloads import utc_now
from dashboard.core.config import CentralSettings
from dashboard.core.workers import ScopeText, Worker, WorkerInput, WorkerUpdate
from dashboard.services.credential_publisher import CredentialPublisher, Publish
from dashboard.services.pass_tokens import IssuedToken, token_series
from dashboard.services.signing_keys import KeyManager
from dashboard.services.worker_csv import RowProblem, parse_workers_csv
from dashboard.storage.db import Database
from dashboard.storage.migrations import open_database
from dashboard.storage.worker_store import WorkerStore
from dashboard.storage.workers import EnrollmentError


class Credentials:
    """Workers, keys and pass links over the central's database."""

    def __init__(
        self,
        settings: CentralSettings,
        publish: Publish | None = None,
        station_ids: Callable[[], list[str]] | None = None,
        connected: Callable[[], bool] | None = None,
        database: Database | None = None,
    ) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.credentials.time_zone)
        self.store = WorkerStore(database or open_database(settings.database.resolved_url))
        self.keys = KeyManager(
            self.store,
            settings.key_dir,
            lead_s=settings.credentials.rotation_lead_s,
            overlap_s=settings.credentials.rotation_overlap_s,
        )
        self.keys.ensure_key(utc_now())
        self.publisher: CredentialPublisher | None = None
        if publish is not None:
            self.publisher = CredentialPublisher(
                self.store,
                self.keys,
                publish,
                station_ids or (lambda: []),
                connected or (lambda: True),
            )

    def start(self) -> None:
        """Publish everything once connected, then every change."""
        if self.publisher is not None:
            self.publisher.start()

    def stop(self) -> None:
        """Stop publishing and close this thread's database connection."""
        if self.publisher is not None:
            self.publisher.stop()
        self.store.close()

    def changed(self) -> None:
        """Publish what a change altered, now rather than at the next watch round."""
        if self.publisher is not None:
            self.publisher.sync()

    def stations_changed(self) -> None:
        """The station registry changed: rebuild the credential maps soon (a new station
        gets its own; a changed region changes who is in scope there)."""
        if self.publisher is not None:
            self.publisher.rebuild_soon()

    def enroll(self, inputs: Sequence[WorkerInput]) -> list[Worker]:
        """Enroll all of `inputs` or none (`EnrollmentError`), then publish."""
        workers = self.store.add_workers(inputs)
        self.changed()
        return workers

    def import_csv(self, data: bytes) -> tuple[list[Worker], list[RowProblem]]:
        """Enroll every row of an enrollment CSV file, or none: the workers enrolled, or
        every problem by row and column (file problems, then conflicts with the store)."""
        parsed = parse_workers_csv(data, self.zone)
        if parsed.problems:
            return [], parsed.problems
        try:
            return self.enroll(parsed.workers), []
        except EnrollmentError as exc:
            return [], [RowProblem(parsed.rows[i], col, text) for i, col, text in exc.problems]

    def update(self, number: int, change: WorkerUpdate) -> Worker:
        """Change a worker (`UnknownWorkerError`, `EnrollmentError`), then publish."""
        worker = self.store.update(number, change)
        self.changed()
        return worker

    def revoke(self, number: int, reason: str | None = None, by: str | None = None) -> Worker:
        """Revoke a worker for good (keeping `reason`, given `by` an operator, when there
        is one); the revocation list goes out before this returns."""
        worker = self.store.revoke(number, reason, by)
        self.changed()
        return worker

    def erase(self, number: int) -> None:
        """Forget a worker's personal data; the number stays revoked."""
        self.store.erase(number)
        self.changed()

    def rotate_keys(self, now: datetime | None = None) -> int:
        """Add a signing key (see `KeyManager.rotate`); returns its id."""
        row = self.keys.rotate(now or utc_now())
        self.changed()
        return row.key_id

    def tokens(self, worker: Worker, now: datetime, ahead: int) -> list[IssuedToken]:
        """The worker's current token and up to `ahead` more; `LookupError` when the
        worker's scope names a station that has no number."""
        scope = ScopeText.parse(worker.scope).to_token_scope(self.store.station_numbers())
        groups = self.store.group_numbers()
        group = groups.get(worker.groups[0], 0) if worker.groups else 0
        return token_series(
            worker,
            self.keys,
            scope=scope,
            group=group,
            now=now,
            ahead=ahead,
            lifetime_s=self.settings.credentials.token_lifetime_s,
        )

    def active_worker_of_secret(self, secret: str) -> int | None:
        """The number of the worker behind a live pass link who may enter now; None for
        a dead link or a worker suspended, revoked or outside their validity."""
        worker = self.store.worker_for_secret(secret) if len(secret) <= 256 else None
        return worker.number if worker is not None and worker.valid_at(utc_now()) else None

    def pass_url(self, secret: str, base_url: str | None = None) -> str:
        """The personal link a worker opens on the phone."""
        base = self.settings.credentials.public_url or base_url
        if base is None:
            http = self.settings.http
            base = f"http://{http.host}:{http.port}"
        return f"{base.rstrip('/')}/pass/{secret}"
