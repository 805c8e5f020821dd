"""Face terminals on the network, built from `[[face_terminals]]` and run together.

Each terminal only verifies: it hands over the person id it matched, and the gateway
decides on it like any other presented credential (a `FaceCredential` to the access
desk: policy, capacity, hours, revocation) and drives the relay and the door's LEDs. A
terminal that stops polling (ZKTeco) or whose stream drops (Hikvision) is reported
faulty in the health report until it is back.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Set
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from contract.maintenance_payloads import DeviceHealth
from firmware_bridge.iclock import Verification
from firmware_bridge.isapi import FaceVerified
from gateway.access_rules import MappedWorker, TrustData
from gateway.config import FaceTerminalSettings
from gateway.face_hikvision import IsapiError, IsapiTerminal
from gateway.face_zkteco import IclockServer, IclockTerminal
from servicekit.settings import ConfigError

log = logging.getLogger(__name__)

WATCH_INTERVAL_S = 1.0
"""How often polling terminals are checked for silence."""


def faces_to_remove(known: Mapping[str, int], revoked: Set[int], removed: Set[str]) -> list[str]:
    """Face ids whose worker is revoked and that are not yet removed from the terminals.

    `known` is every face id the gateway has seen mapped (face id → worker number), kept
    after the central's map drops it: the central takes a revoked worker's faces out of
    the map, and the gateway must still know whose they were to delete them.
    """
    return sorted(
        face_id for face_id, worker in known.items() if worker in revoked and face_id not in removed
    )


class FaceListener(Protocol):
    """What the face terminals tell the gateway. Called from their threads."""

    def face_verified(self, door_id: str, direction: str, person_id: str) -> None:
        """A terminal at `door_id` verified the face of its person `person_id`."""

    def face_terminal_changed(self, terminal_id: str, up: bool) -> None:
        """A terminal went down or came back."""

    def face_removed(self, terminal_id: str, person_id: str, cause: str) -> None:
        """A terminal confirmed it deleted a person (and so their face)."""


class FaceTerminals:
    """Every network face terminal of one gateway; `start()`, then `stop()`."""

    def __init__(
        self,
        settings: list[FaceTerminalSettings],
        listener: FaceListener,
        time_zone: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._settings = {t.id: t for t in settings}
        self._listener = listener
        self._zone = ZoneInfo(time_zone)
        self._clock = clock
        self.servers: list[IclockServer] = []
        self.isapi: dict[str, IsapiTerminal] = {}
        self._iclock: dict[str, tuple[IclockServer, IclockTerminal]] = {}
        self._by_serial: dict[str, FaceTerminalSettings] = {}
        self._was_up: dict[str, bool] = {}
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._watch_polls, name="face-watch", daemon=True)
        self._known_faces: dict[str, int] = {}
        self.removed_faces: set[str] = set()
        """Face ids deleted from every terminal because their worker was revoked."""
        self._removals: queue.Queue[str | None] = queue.Queue()
        self._deleting: dict[tuple[str, int], tuple[str, str]] = {}
        """(serial number, command id) of a queued ZKTeco deletion → (person, cause)."""
        self._deleting_lock = threading.Lock()
        self._remover = threading.Thread(target=self._remove_loop, name="face-rm", daemon=True)
        by_address: dict[tuple[str, int], list[FaceTerminalSettings]] = {}
        for terminal in settings:
            if terminal.kind == "zkteco_push":
                by_address.setdefault((terminal.listen, terminal.port), []).append(terminal)
            else:
                assert terminal.url and terminal.username and terminal.password is not None
                self.isapi[terminal.id] = IsapiTerminal(
                    terminal.id,
                    terminal.url,
                    terminal.username,
                    terminal.password,
                    self._isapi_face,
                    self._changed,
                    down_after_s=terminal.down_after_s,
                )
        for (host, port), group in by_address.items():
            terminals = []
            for terminal in group:
                assert terminal.serial_number is not None
                self._by_serial[terminal.serial_number] = terminal
                terminals.append(
                    IclockTerminal(
                        terminal.serial_number,
                        terminal.poll_delay_s,
                        terminal.down_after_s,
                        terminal.max_record_age_s,
                    )
                )
            try:
                server = IclockServer(host, port, terminals, self._iclock_face, self._local_now)
            except OSError as exc:
                for opened in self.servers:
                    opened.stop()
                ids = ", ".join(t.id for t in group)
                raise ConfigError(
                    f"face_terminals {ids}: cannot listen on {host}:{port} ({exc.strerror}); "
                    "is another program using the port?"
                ) from exc
            self.servers.append(server)
            for terminal, state in zip(group, terminals, strict=True):
                self._iclock[terminal.id] = (server, state)

    def _local_now(self) -> datetime:
        # Terminals stamp records in the station's local time, without a zone.
        return self._clock().astimezone(self._zone).replace(tzinfo=None)

    def start(self) -> None:
        """Serve the polling terminals and open every alert stream."""
        for server in self.servers:
            server.start()
        for terminal in self.isapi.values():
            terminal.start()
        if self._iclock:
            self._watch.start()
        if self._settings:
            self._remover.start()

    def stop(self) -> None:
        """Stop serving and close the streams."""
        self._stop.set()
        self._removals.put(None)
        if self._remover.is_alive():
            self._remover.join(timeout=15)
        for terminal in self.isapi.values():
            terminal.stop()
        for server in self.servers:
            server.stop()
        if self._watch.is_alive():
            self._watch.join(timeout=5)

    def _iclock_face(self, serial_number: str, verification: Verification) -> None:
        terminal = self._by_serial[serial_number]
        log.info(
            "face terminal %s verified PIN %s (verify mode %d)",
            terminal.id,
            verification.pin,
            verification.verify_mode,
        )
        self._listener.face_verified(terminal.door, terminal.direction, verification.pin)

    def _isapi_face(self, terminal_id: str, face: FaceVerified) -> None:
        terminal = self._settings[terminal_id]
        log.info(
            "face terminal %s verified employee %s (%s)",
            terminal_id,
            face.employee_no,
            face.verify_mode,
        )
        self._listener.face_verified(terminal.door, terminal.direction, face.employee_no)

    def _changed(self, terminal_id: str, up: bool) -> None:
        log.log(
            logging.INFO if up else logging.WARNING,
            "face terminal %s is %s",
            terminal_id,
            "back" if up else "down",
        )
        self._listener.face_terminal_changed(terminal_id, up)

    def _watch_polls(self) -> None:
        while not self._stop.wait(WATCH_INTERVAL_S):
            self._confirm_deletions()
            now = time.monotonic()
            for terminal_id, (_, state) in self._iclock.items():
                up = state.up(now)
                if up != self._was_up.get(terminal_id, False):
                    self._was_up[terminal_id] = up
                    self._changed(terminal_id, up)

    def health(self) -> dict[str, DeviceHealth]:
        """Each terminal's entry in the health report, keyed `face-<id>`."""
        now = time.monotonic()
        devices: dict[str, DeviceHealth] = {}
        for terminal_id, (_, state) in self._iclock.items():
            age = None if state.last_seen is None else round(now - state.last_seen, 1)
            up = state.up(now)
            detail = "polling" if up else "no poll yet" if age is None else "stopped polling"
            devices[f"face-{terminal_id}"] = DeviceHealth(
                kind="face_terminal",
                ok=up,
                detail=detail,
                last_frame_age_s=age,
                state={"protocol": "zkteco_push"},
            )
        for terminal_id, terminal in self.isapi.items():
            devices[f"face-{terminal_id}"] = DeviceHealth(
                kind="face_terminal",
                ok=terminal.up,
                detail=terminal.detail[:256],
                state={"protocol": "hikvision_isapi", "connects": terminal.connects},
            )
        return devices

    def terminal_ids(self) -> list[str]:
        """Every configured terminal's id."""
        return sorted(self._settings)

    def add_person(self, terminal_id: str, person_id: str, name: str) -> None:
        """Create a person on a terminal (queued for a polling one); raises on refusal."""
        if terminal_id in self.isapi:
            self.isapi[terminal_id].add_person(person_id, name)
            return
        server, state = self._iclock[terminal_id]
        server.queue_user(state.serial_number, person_id, name)

    def trust_changed(self, trust: TrustData) -> None:
        """The central's map or revocation list changed: delete the persons of newly
        revoked workers from every terminal (their faces go with them), in the background.
        """
        if not self._settings:
            return
        faces: Mapping[str, MappedWorker] = trust.credentials.faces
        self._known_faces.update({face_id: m.worker_number for face_id, m in faces.items()})
        revoked = trust.revocations.workers
        # A reinstated worker's face may be enrolled again, and removed again if revoked.
        self.removed_faces = {f for f in self.removed_faces if self._known_faces.get(f) in revoked}
        for face_id in faces_to_remove(self._known_faces, revoked, self.removed_faces):
            self.removed_faces.add(face_id)
            self._removals.put(face_id)

    def _remove_loop(self) -> None:
        while (face_id := self._removals.get()) is not None:
            for terminal_id in self._settings:
                try:
                    self.remove_and_confirm(terminal_id, face_id, "revoked")
                    log.info("face %s removed from terminal %s (revoked)", face_id, terminal_id)
                except (IsapiError, KeyError, ValueError) as exc:
                    # Left for the next change of trust data to try again.
                    self.removed_faces.discard(face_id)
                    log.error(
                        "face %s could not be removed from terminal %s: %s",
                        face_id,
                        terminal_id,
                        exc,
                    )

    def command_results(self, terminal_id: str) -> dict[int, int]:
        """A polling terminal's answers so far: command id → return code (0 is done)."""
        return dict(self._iclock[terminal_id][1].results)

    def remove_person(self, terminal_id: str, person_id: str) -> None:
        """Remove a person (and their face) from a terminal; raises on refusal."""
        if terminal_id in self.isapi:
            self.isapi[terminal_id].remove_person(person_id)
            return
        server, state = self._iclock[terminal_id]
        server.queue_delete(state.serial_number, person_id)

    def worker_of(self, face_id: str) -> int | None:
        """The worker a face id was mapped to, by any map this gateway has seen."""
        return self._known_faces.get(face_id)

    def door_of(self, terminal_id: str) -> str | None:
        """The door a terminal stands at; None for a terminal this gateway does not have."""
        terminal = self._settings.get(terminal_id)
        return None if terminal is None else terminal.door

    def remove_and_confirm(self, terminal_id: str, person_id: str, cause: str) -> None:
        """Remove a person (and their face) from a terminal; raises on refusal. The
        listener hears `face_removed` once the terminal confirmed it: at once for a
        Hikvision, when it reports the command done for a polling ZKTeco."""
        if terminal_id in self.isapi:
            self.isapi[terminal_id].remove_person(person_id)
            self._listener.face_removed(terminal_id, person_id, cause)
            return
        server, state = self._iclock[terminal_id]
        with self._deleting_lock:
            command_id = server.queue_delete(state.serial_number, person_id)
            self._deleting[(state.serial_number, command_id)] = (person_id, cause)

    def _confirm_deletions(self) -> None:
        with self._deleting_lock:
            waiting = dict(self._deleting)
        for terminal_id, (_, state) in self._iclock.items():
            for (serial, command_id), (person_id, cause) in waiting.items():
                code = state.results.get(command_id)
                if serial != state.serial_number or code is None:
                    continue
                with self._deleting_lock:
                    self._deleting.pop((serial, command_id), None)
                if code != 0:
                    log.error(
                        "face terminal %s refused to delete person %s (return %d)",
                        terminal_id,
                        person_id,
                        code,
                    )
                    continue
                self._listener.face_removed(terminal_id, person_id, cause)
