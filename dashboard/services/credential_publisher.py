"""Publishes what gateways need to decide offline: keys, revocations, face and card maps.

All three go out retained at QoS 1 (`contract.topics`): on every (re)connection, and
whenever their content changes. A change made through the API is published before the
request returns (`sync()`); one made by another process (the `yizhan workers` CLI on the
same database) is noticed by the store's revision counter within a second. Maps are also
rebuilt every `REBUILD_S`, because time alone changes them: a worker's validity window
opens or closes.

Each document's `version` counts up in the database, so it keeps counting up across
restarts and gateways never mistake a new list for an old one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from contract.codec import MAX_PAYLOAD_BYTES
from contract.credential_payloads import (
    CredentialEntry,
    CredentialMap,
    PublicKeys,
    Revocations,
)
from contract.payloads import Payload, utc_now
from contract.topics import KEYS_TOPIC, REVOCATIONS_TOPIC, credentials_topic
from dashboard.core.workers import ScopeText
from dashboard.services.nearby import in_scope
from dashboard.services.signing_keys import KeyManager
from dashboard.storage.worker_store import WorkerStore

log = logging.getLogger(__name__)

REBUILD_S = 30.0
"""Longest time between two rebuilds even when nothing was written."""

POLL_S = 1.0
"""How often the watcher looks at the revision counter and the broker link."""

Publish = Callable[[str, bytes], None]
"""Sends one message with its topic's QoS and retain flag (`contract.topics`)."""


def _content(payload: Payload) -> str:
    # What a document says, without the fields that change on every publication.
    return payload.model_dump_json(exclude={"version", "issued_at"})


class CredentialPublisher:
    """Builds the retained credential documents and publishes those that changed."""

    def __init__(
        self,
        store: WorkerStore,
        keys: KeyManager,
        publish: Publish,
        station_ids: Callable[[], list[str]],
        connected: Callable[[], bool],
    ) -> None:
        self._store = store
        self._keys = keys
        self._publish = publish
        self._station_ids = station_ids
        self._connected = connected
        self._sent: dict[str, str] = {}
        self._revision = -1
        self._built_at = 0.0
        self._rebuild = threading.Event()
        """Set when something outside the credential store changed (the stations)."""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="credentials", daemon=True)
        self.published = threading.Condition()
        self.publications = 0
        """Counts documents handed to the broker link (tests wait on `published`)."""

    def start(self) -> None:
        """Watch for changes and (re)connections in the background."""
        self._thread.start()

    def rebuild_soon(self) -> None:
        """Rebuild every document at the watcher's next round (within `POLL_S`), without
        waiting here: the station registry changed, which the credential revision does
        not count, and a request must not wait for every station's map to be built."""
        self._rebuild.set()

    def stop(self) -> None:
        """End the watcher."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def documents(self, now: datetime) -> dict[str, tuple[str, Payload]]:
        """Topic → (version name, payload with a placeholder version) for every document."""
        docs: dict[str, tuple[str, Payload]] = {
            KEYS_TOPIC: (
                "keys",
                PublicKeys(version=1, issued_at=now, keys=self._keys.published_entries(now)),
            ),
            REVOCATIONS_TOPIC: (
                "revocations",
                Revocations(version=1, issued_at=now, worker_numbers=self._store.refused_numbers()),
            ),
        }
        locations = {loc.station_id: loc for loc in self._store.station_locations()}
        groups = self._store.group_numbers()
        credentials = [(row, w) for row, w in self._store.credentials() if w.valid_at(now)]
        for station_id in sorted(set(self._station_ids()) | set(locations)):
            entries = [
                CredentialEntry(
                    kind="face" if row.kind == "face" else "card",
                    external_id=row.external_id,
                    worker_number=row.worker_number,
                    group=groups.get(worker.groups[0], 0) if worker.groups else 0,
                )
                for row, worker in credentials
                if in_scope(ScopeText.parse(worker.scope), station_id, locations.get(station_id))
            ]
            docs[credentials_topic(station_id)] = (
                f"credentials:{station_id}",
                CredentialMap(station_id=station_id, version=1, issued_at=now, entries=entries),
            )
        return docs

    def sync(self, force: bool = False) -> int:
        """Publish every document whose content changed (all of them with `force`).

        Returns how many were published. Nothing is sent while the broker link is down;
        the watcher publishes everything again once it is back.
        """
        with self._lock:
            if not self._connected():
                return 0
            # Cleared before anything is read: a change noted from now on is built again.
            self._rebuild.clear()
            self._keys.prune(utc_now())
            revision = self._store.revision()
            now = utc_now()
            sent = 0
            for topic, (name, draft) in self.documents(now).items():
                content = _content(draft)
                if not force and self._sent.get(topic) == content:
                    continue
                payload = draft.model_copy(update={"version": self._store.next_version(name)})
                raw = payload.to_json()
                if len(raw) > MAX_PAYLOAD_BYTES:
                    # Gateways refuse larger messages unread; publishing would only hide it.
                    log.error(
                        "%s is %d bytes, over the %d byte limit; not published",
                        topic,
                        len(raw),
                        MAX_PAYLOAD_BYTES,
                    )
                    continue
                self._publish(topic, raw)
                self._sent[topic] = content
                sent += 1
            self._revision, self._built_at = revision, time.monotonic()
        if sent:
            with self.published:
                self.publications += sent
                self.published.notify_all()
            log.info("published %d credential document(s)", sent)
        return sent

    def _watch(self) -> None:
        was_connected = False
        while not self._stop.wait(POLL_S if was_connected else 0.1):
            try:
                connected = self._connected()
                if connected and not was_connected:
                    # A new session, perhaps a restarted broker that lost retained state.
                    self.sync(force=True)
                elif connected and (
                    self._store.revision() != self._revision
                    or self._rebuild.is_set()
                    or time.monotonic() - self._built_at >= REBUILD_S
                ):
                    self.sync()
                was_connected = connected
            except Exception:
                # A bad moment (a locked database, a key file problem) must not end the
                # watcher; the next round tries again.
                log.exception("publishing credentials failed")
