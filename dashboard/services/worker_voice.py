"""Workers' voice: taking fault reports and suggestions, with their limits and photos.

A pass holder reports under their pseudonymous number (the pass link's secret proves
it); anyone else reports anonymously from the public map, with a proof of work, a limit
per address and a limit per station, so that a script cannot flood an operator's
alerts. Limits are checked before a photo is decoded, and a photo is cleaned before
anything is stored.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from contract.payloads import utc_now
from dashboard.core.alert_rules import AlertChange
from dashboard.core.config import CentralSettings
from dashboard.core.rate_window import RateWindow
from dashboard.core.worker_voice import (
    Category,
    Challenge,
    FeedbackKind,
    FeedbackStatus,
    check_answer,
    clean_text,
    make_challenge,
)
from dashboard.services.feedback_photos import PhotoFiles, clean_photo
from dashboard.storage import worker_feedback
from dashboard.storage.db import Database
from dashboard.storage.worker_feedback import FeedbackFilter, FeedbackRow

CHALLENGE_TTL_S = 600.0
"""How long an anonymous report's puzzle may take to solve and send."""


class FeedbackRefusedError(Exception):
    """A report that is not taken: `status` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class NewFeedback:
    """What a worker sends (already shape-checked at the edge)."""

    kind: FeedbackKind
    station_id: str
    category: Category
    text: str
    lang: str
    photo_base64: str | None = None


class _UsedChallenges:
    """Answered puzzles, until they expire: each one counts once."""

    def __init__(self, max_kept: int = 100_000) -> None:
        self._until: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_kept

    def first_use(self, text: str, now: float) -> bool:
        with self._lock:
            while self._until and next(iter(self._until.values())) < now:
                self._until.popitem(last=False)
            if text in self._until:
                return False
            self._until[text] = now + CHALLENGE_TTL_S
            while len(self._until) > self._max:
                self._until.popitem(last=False)
            return True


class WorkerVoice:
    """Reports and suggestions over the central's database and photo directory."""

    def __init__(
        self,
        settings: CentralSettings,
        database: Database,
        worker_of_secret: Callable[[str], int | None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`worker_of_secret` gives the number of the active worker behind a pass
        link's secret (None for a dead link)."""
        self.settings = settings.feedback
        self.db = database
        self.photos = PhotoFiles(settings.feedback_photo_dir)
        self.worker_of_secret = worker_of_secret
        self.clock = clock
        self._key = secrets.token_bytes(32)
        self._addresses = RateWindow(self.settings.address_per_hour, 3600.0)
        self._used = _UsedChallenges()

    # --- taking reports --------------------------------------------------------------

    def challenge(self) -> Challenge:
        """A puzzle for an anonymous report."""
        return make_challenge(
            self._key,
            time.time(),
            CHALLENGE_TTL_S,
            self.settings.proof_of_work_bits,
            secrets.token_urlsafe(9),
        )

    def from_pass(self, secret: str, new: NewFeedback) -> tuple[FeedbackRow, AlertChange | None]:
        """A pass holder's report: 404 for a dead link, 429 past their hourly limit."""
        number = self.worker_of_secret(secret)
        if number is None:
            raise FeedbackRefusedError(404, "this pass link does not work (any more)")
        text = self._text(new)
        since = utc_now() - timedelta(hours=1)
        with self.db.transaction() as db:
            made = worker_feedback.recent_count(db, since, number, None)
        if made >= self.settings.worker_per_hour:
            raise FeedbackRefusedError(
                429, f"at most {self.settings.worker_per_hour} reports an hour", 600.0
            )
        return self._store(new, text, number)

    def anonymous(
        self, new: NewFeedback, address: str, challenge: str, nonce: str
    ) -> tuple[FeedbackRow, AlertChange | None]:
        """A report from the public map: the puzzle solved, within the address's and
        the station's limits."""
        text = self._text(new)
        try:
            check_answer(self._key, challenge, nonce, time.time())
        except ValueError as exc:
            raise FeedbackRefusedError(403, str(exc)) from None
        if not self._used.first_use(challenge, time.time()):
            raise FeedbackRefusedError(403, "the challenge was used already; ask for a new one")
        wait = self._addresses.take(address, self.clock())
        if wait:
            raise FeedbackRefusedError(
                429, f"at most {self.settings.address_per_hour} reports an hour from here", wait
            )
        since = utc_now() - timedelta(hours=1)
        with self.db.transaction() as db:
            made = worker_feedback.recent_count(db, since, None, new.station_id)
        if made >= self.settings.anonymous_per_station_hour:
            raise FeedbackRefusedError(429, "this station has had many reports this hour", 600.0)
        return self._store(new, text, None)

    def _text(self, new: NewFeedback) -> str:
        try:
            return clean_text(new.text)
        except ValueError as exc:
            raise FeedbackRefusedError(422, str(exc)) from None

    def _store(
        self, new: NewFeedback, text: str, worker_number: int | None
    ) -> tuple[FeedbackRow, AlertChange | None]:
        photo_name = None
        if new.photo_base64:
            photo_name = self.photos.save(clean_photo(self._decoded(new.photo_base64)))
        try:
            with self.db.transaction() as db:
                return worker_feedback.add(
                    db,
                    new.kind,
                    new.station_id,
                    new.category,
                    text,
                    new.lang,
                    worker_number,
                    photo_name,
                )
        except LookupError:
            if photo_name is not None:
                self.photos.delete(photo_name)
            raise FeedbackRefusedError(404, f"no station {new.station_id}") from None
        except BaseException:
            if photo_name is not None:
                self.photos.delete(photo_name)
            raise

    def _decoded(self, text: str) -> bytes:
        limit = self.settings.max_photo_bytes
        if len(text) > (limit * 4) // 3 + 4:
            raise FeedbackRefusedError(413, f"the photo is larger than {limit // 1024} KiB")
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise FeedbackRefusedError(422, "photo_base64 is not base64") from None
        if len(data) > limit:
            raise FeedbackRefusedError(413, f"the photo is larger than {limit // 1024} KiB")
        return data

    # --- reading and answering -------------------------------------------------------

    def find(self, which: FeedbackFilter) -> list[FeedbackRow]:
        """Reports matching `which`, newest first."""
        with self.db.transaction() as db:
            return worker_feedback.rows(db, which)

    def get(self, feedback_id: int) -> FeedbackRow:
        """One report; `LookupError` for none."""
        with self.db.transaction() as db:
            return worker_feedback.row(db, feedback_id)

    def of_pass(self, secret: str, limit: int) -> list[FeedbackRow]:
        """A pass holder's own reports, newest first; `LookupError` for a dead link."""
        number = self.worker_of_secret(secret)
        if number is None:
            raise LookupError("dead pass link")
        return self.find(FeedbackFilter(worker_number=number, limit=limit))

    def reply(
        self, feedback_id: int, status: FeedbackStatus, text: str | None, by: str
    ) -> FeedbackRow:
        """Give a suggestion a status and a public reply."""
        if status is FeedbackStatus.DECLINED and not (text or "").strip():
            raise FeedbackRefusedError(422, "a declined suggestion needs the reason as its reply")
        with self.db.transaction() as db:
            return worker_feedback.reply(db, feedback_id, status, text, by)

    def photo(self, feedback_id: int) -> bytes | None:
        """A report's photo (JPEG), None when it has none (or it has expired)."""
        with self.db.transaction() as db:
            name = worker_feedback.photo(db, feedback_id)
        return None if name is None else self.photos.read(name)

    def delete(self, feedback_id: int) -> None:
        """Forget a report and its photo."""
        with self.db.transaction() as db:
            name = worker_feedback.delete(db, feedback_id)
        if name is not None:
            self.photos.delete(name)

    def changes_made(self, station_id: str, limit: int) -> list[FeedbackRow]:
        """What a station changed because workers asked, newest first."""
        with self.db.transaction() as db:
            return worker_feedback.changes_made(db, station_id, limit)

    def expire_photos(self) -> int:
        """Delete photos older than the retention; how many."""
        before = utc_now() - timedelta(days=self.settings.photo_retention_days)
        with self.db.transaction() as db:
            names = worker_feedback.expire_photos(db, before)
        for name in names:
            self.photos.delete(name)
        return len(names)
