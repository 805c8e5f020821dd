"""Maintenance commands: what each command does on this gateway, by name.

A command reaches `MaintenanceCommands` only after the codec found it addressed to this
station and gateway and `CommandGate` found it fresh and new. Commands that can let
someone in (unlock, phone_open, lockdown off, set_config, self_test, which releases the lock for a
moment, and restart, during which a fail-safe lock is released) must also carry a valid
operator signature (`contract.signing`): a leaked broker password alone cannot open a
door. `unlock` must name its door, so the signature covers the door too; a door this
gateway does not have is answered `wrong_target`. Each handler returns an `Outcome` that
becomes the reply; a handler never raises for a person's mistake: it answers `bad_args`
saying what was wrong.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contract.payloads import MAX_WORKER_NUMBER, Command, ReplyStatus
from contract.signing import verify
from gateway.access_rules import AccessDecision
from gateway.devices import StationDevices
from gateway.door_io import DoorIO
from gateway.face_hikvision import IsapiError
from gateway.face_pairing import (
    DEFAULT_WINDOW_S,
    MAX_WINDOW_S,
    NOTICE_VERSION,
    EnrolmentDesk,
    EnrolmentWindow,
)
from gateway.face_terminals import FaceTerminals
from gateway.self_test import run_self_test
from servicekit import __version__

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True, slots=True)
class Outcome:
    """The reply to one command, and what to do once the reply is on its way."""

    status: ReplyStatus
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    after: Callable[[], None] | None = None


class GatewayControl(Protocol):
    """What the commands need of the gateway they run on."""

    devices: StationDevices
    faces: FaceTerminals
    enrolments: EnrolmentDesk

    def apply_config(
        self, changes: Mapping[str, Any], version: int | None = None
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Apply live settings; return applied and refused keys."""

    def diagnostics(self) -> dict[str, Any]:
        """Versions, uptime, outbox depth, last errors."""

    def phone_open(self, door_id: str, worker_number: int, group: int) -> AccessDecision:
        """Decide a phone open at `door_id` as a scan, release the door on a grant."""

    def reload_trust(self) -> dict[str, int]:
        """Ask the broker for keys, revocations and map again; versions held now."""

    def request_restart(self) -> None:
        """Stop so that the supervisor starts the service again."""

    def restart_note(self) -> str:
        """What a restart does where this gateway runs, for the reply."""


_PERSON = re.compile(r"[0-9A-Za-z]{1,24}")
_NOTICE = re.compile(r"[A-Za-z0-9._:-]{1,32}")
REMOVAL_CAUSES = ("maintenance", "withdrawn", "revoked", "expired")
"""Why a person is removed from a terminal, as the `face_pairing/1` removal says."""
"""A person id both terminal kinds take (ZKTeco PINs are at most 24 characters)."""


class BadArgsError(ValueError):
    """A command's arguments are wrong; the message says how."""


class WrongTargetError(ValueError):
    """A command names a door this gateway does not have; the message lists its doors."""


Handler = Callable[[Mapping[str, Any]], Outcome]


@dataclass(frozen=True, slots=True)
class Spec:
    """One command: its handler, the arguments it takes, whether it must be signed."""

    handler: Handler
    args: tuple[str, ...] = ()
    signed: Callable[[Mapping[str, Any]], bool] = lambda args: False
    summary: str = ""


def _always(args: Mapping[str, Any]) -> bool:
    return True


def _lockdown_off(args: Mapping[str, Any]) -> bool:
    return args.get("on") is not True


class MaintenanceCommands:
    """The command table of one gateway."""

    def __init__(
        self, gateway: GatewayControl, operators: Mapping[str, Ed25519PublicKey] | None = None
    ) -> None:
        self._gateway = gateway
        self._operators = dict(operators or {})
        self._table: dict[str, Spec] = {
            "ping": Spec(self._ping, summary="answers pong"),
            "unlock": Spec(self._unlock, ("door", "seconds"), _always, "releases a door"),
            "phone_open": Spec(
                self._phone_open, ("door", "worker", "group"), _always, "a worker's phone open"
            ),
            "lock": Spec(self._lock, ("door",), summary="ends a running unlock at once"),
            "lockdown": Spec(self._lockdown, ("on", "door"), _lockdown_off, "refuses every grant"),
            "set_config": Spec(self._set_config, ("settings",), _always, "changes live settings"),
            "reload_trust": Spec(self._reload_trust, summary="fetches keys and revocations again"),
            "self_test": Spec(self._self_test, (), _always, "cycles relays, asks every device"),
            "diagnostics": Spec(self._diagnostics, summary="versions, uptime, outbox, errors"),
            "log_level": Spec(self._log_level, ("level", "logger"), summary="changes log level"),
            "restart": Spec(self._restart, (), _always, "stops; systemd starts it again"),
            "face_person_add": Spec(
                self._face_person_add,
                ("terminal", "person", "pseudonym"),
                _always,
                "creates a person on a face terminal",
            ),
            "face_person_remove": Spec(
                self._face_person_remove,
                ("terminal", "person", "cause"),
                summary="deletes a person and their face from a face terminal",
            ),
            "face_enrol_start": Spec(
                self._face_enrol_start,
                ("terminal", "seconds", "notice"),
                _always,
                "waits for a worker's pass scan to pair the face a terminal captures",
            ),
        }

    @property
    def doors(self) -> Mapping[str, DoorIO]:
        """The gateway's doors by id."""
        return self._gateway.devices.doors

    @property
    def names(self) -> list[str]:
        """Every command this gateway knows."""
        return sorted(self._table)

    def needs_signature(self, command: Command) -> bool:
        """Whether `command` can open a door and so must be signed."""
        spec = self._table.get(command.command)
        return spec is not None and spec.signed(command.args)

    def refusal(self, command: Command) -> Outcome | None:
        """Why `command` may not be carried out (an unknown command, arguments it does not
        take, a missing or bad signature); None when it may."""
        spec = self._table.get(command.command)
        if spec is None:
            return Outcome(
                ReplyStatus.UNKNOWN_COMMAND,
                f"unknown command {command.command!r}; this gateway knows: "
                + ", ".join(self.names),
            )
        unknown = sorted(set(command.args) - set(spec.args))
        if unknown:
            takes = ", ".join(spec.args) or "no arguments"
            return Outcome(
                ReplyStatus.BAD_ARGS,
                f"{command.command} does not take {', '.join(map(repr, unknown))}; "
                f"it takes {takes}",
            )
        if spec.signed(command.args):
            problem = verify(command, self._operators)
            if problem is not None:
                return Outcome(
                    ReplyStatus.UNAUTHORISED,
                    f"{command.command} can open a door, so {problem}; not carried out",
                )
        return None

    def carry_out(self, command: Command) -> Outcome:
        """Carry out a command that `refusal` let through."""
        try:
            return self._table[command.command].handler(command.args)
        except BadArgsError as exc:
            return Outcome(ReplyStatus.BAD_ARGS, str(exc))
        except WrongTargetError as exc:
            return Outcome(ReplyStatus.WRONG_TARGET, f"{exc}; not carried out")

    # -- argument helpers --

    def _doors_of(self, args: Mapping[str, Any]) -> list[str]:
        """The door `args` names, or every door of this gateway when it names none."""
        if args.get("door") is None:
            return list(self.doors)
        return [self._door_named(args)]

    def _door_named(self, args: Mapping[str, Any]) -> str:
        door_id = args.get("door")
        if door_id is None:
            raise BadArgsError(
                f"name the door (door=...), so that the signature covers it; "
                f"doors: {', '.join(self.doors) or 'none'}"
            )
        if not isinstance(door_id, str) or door_id not in self.doors:
            raise WrongTargetError(
                f"no door {door_id!r} at this gateway; its doors: {', '.join(self.doors) or 'none'}"
            )
        return door_id

    def _face_target(self, args: Mapping[str, Any]) -> tuple[str, str]:
        terminals = self._gateway.faces.terminal_ids()
        terminal = args.get("terminal")
        if not isinstance(terminal, str) or terminal not in terminals:
            raise WrongTargetError(
                f"no face terminal {terminal!r} at this gateway; "
                f"its face terminals: {', '.join(terminals) or 'none'}"
            )
        person = args.get("person")
        if not isinstance(person, str) or not _PERSON.fullmatch(person):
            raise BadArgsError(f"person must be 1-24 letters or digits, not {person!r}")
        return terminal, person

    # -- handlers --

    def _face_person_add(self, args: Mapping[str, Any]) -> Outcome:
        terminal, person = self._face_target(args)
        name = args.get("pseudonym", person)
        if not isinstance(name, str) or not 0 < len(name) <= 24:
            raise BadArgsError("pseudonym must be 1-24 characters (never a real name)")
        try:
            self._gateway.faces.add_person(terminal, person, name)
        except IsapiError as exc:
            return Outcome(ReplyStatus.ERROR, f"terminal {terminal!r} refused: {exc}")
        return Outcome(
            ReplyStatus.OK,
            f"person {person} created on {terminal!r}; the worker enrols their face there",
        )

    def _face_person_remove(self, args: Mapping[str, Any]) -> Outcome:
        terminal, person = self._face_target(args)
        cause = args.get("cause", "maintenance")
        if cause not in REMOVAL_CAUSES:
            raise BadArgsError(f"cause must be one of {', '.join(REMOVAL_CAUSES)}, not {cause!r}")
        try:
            self._gateway.faces.remove_and_confirm(terminal, person, cause)
        except IsapiError as exc:
            return Outcome(ReplyStatus.ERROR, f"terminal {terminal!r} refused: {exc}")
        return Outcome(ReplyStatus.OK, f"person {person} and their face removed from {terminal!r}")

    def _face_enrol_start(self, args: Mapping[str, Any]) -> Outcome:
        terminals = self._gateway.faces.terminal_ids()
        terminal = args.get("terminal")
        door = self._gateway.faces.door_of(terminal) if isinstance(terminal, str) else None
        if door is None or not isinstance(terminal, str):
            raise WrongTargetError(
                f"no face terminal {terminal!r} at this gateway; "
                f"its face terminals: {', '.join(terminals) or 'none'}"
            )
        seconds = args.get("seconds", DEFAULT_WINDOW_S)
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not 0 < seconds <= MAX_WINDOW_S
        ):
            raise BadArgsError(f"seconds must be a number in (0, {MAX_WINDOW_S:.0f}]")
        notice = args.get("notice", NOTICE_VERSION)
        if not isinstance(notice, str) or not _NOTICE.fullmatch(notice):
            raise BadArgsError("notice must be 1-32 letters, digits or ._:-")
        closes = time.monotonic() + float(seconds)
        self._gateway.enrolments.open(EnrolmentWindow(terminal, door, notice, closes))
        return Outcome(
            ReplyStatus.OK,
            f"terminal {terminal!r} captures the face at door {door!r}; the worker confirms "
            f"by scanning their pass there within {seconds:g} s",
        )

    def _ping(self, args: Mapping[str, Any]) -> Outcome:
        return Outcome(ReplyStatus.OK, "pong", {"version": __version__})

    def _unlock(self, args: Mapping[str, Any]) -> Outcome:
        door_id = self._door_named(args)
        seconds = args.get("seconds")
        if seconds is not None and (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not 0 < seconds <= 60
        ):
            raise BadArgsError(f"seconds must be a number above 0 and at most 60, not {seconds!r}")
        if not self.doors[door_id].remote_unlock(None if seconds is None else float(seconds)):
            return Outcome(ReplyStatus.ERROR, f"door {door_id!r} is in lockdown; not released")
        return Outcome(ReplyStatus.OK, f"door {door_id!r} released")

    def _phone_open(self, args: Mapping[str, Any]) -> Outcome:
        """Decided here again with the door's own rules and state, so the gateway's
        anti-passback and head count have the last word. A refusal's message starts with
        the reason (`full: ...`), which the central reads back for the worker's page."""
        door_id = self._door_named(args)
        decision = self._gateway.phone_open(
            door_id, _number(args, "worker", None), _number(args, "group", 0)
        )
        data = {"decision": decision.decision.value, "reason": decision.reason.value}
        if decision.granted:
            return Outcome(ReplyStatus.OK, f"granted: door {door_id!r} released", data)
        return Outcome(
            ReplyStatus.ERROR, f"{decision.reason.value}: door {door_id!r} stays shut", data
        )

    def _lock(self, args: Mapping[str, Any]) -> Outcome:
        door_ids = self._doors_of(args)
        for door_id in door_ids:
            self.doors[door_id].lock_now()
        states = {d: self.doors[d].status()["lock"] for d in door_ids}
        held = [d for d, state in states.items() if state != "secured"]
        message = f"locked {', '.join(door_ids)}"
        if held:
            message += f"; still released by the exit button or fire: {', '.join(held)}"
        return Outcome(ReplyStatus.OK, message, {"lock": states})

    def _lockdown(self, args: Mapping[str, Any]) -> Outcome:
        on = args.get("on")
        if not isinstance(on, bool):
            raise BadArgsError(f"on must be true or false, not {on!r}")
        door_ids = self._doors_of(args)
        for door_id in door_ids:
            self.doors[door_id].set_lockdown(on)
        what = "lockdown on: grants refused at" if on else "lockdown off at"
        return Outcome(ReplyStatus.OK, f"{what} {', '.join(door_ids)}", {"doors": door_ids})

    def _set_config(self, args: Mapping[str, Any]) -> Outcome:
        settings = args.get("settings")
        if not isinstance(settings, dict) or not settings:
            raise BadArgsError('settings must be an object like {"policy.capacity": 20}')
        applied, refused = self._gateway.apply_config(settings)
        data = {"applied": applied, "refused": refused}
        if not applied:
            return Outcome(ReplyStatus.BAD_ARGS, _refusals(refused), data)
        message = f"applied {', '.join(applied)}"
        if refused:
            message += "; " + _refusals(refused)
        return Outcome(ReplyStatus.OK, message, data)

    def _reload_trust(self, args: Mapping[str, Any]) -> Outcome:
        versions = self._gateway.reload_trust()
        held = ", ".join(f"{k} v{v}" for k, v in sorted(versions.items())) or "nothing yet"
        return Outcome(
            ReplyStatus.OK,
            f"asked the broker for keys, revocations and the station map again; held: {held}",
            {"versions": versions},
        )

    def _self_test(self, args: Mapping[str, Any]) -> Outcome:
        result = run_self_test(self._gateway.devices)
        status = ReplyStatus.OK if result.ok else ReplyStatus.ERROR
        return Outcome(
            status, result.summary(), {"devices": result.devices, "skipped": result.skipped}
        )

    def _diagnostics(self, args: Mapping[str, Any]) -> Outcome:
        data = self._gateway.diagnostics()
        return Outcome(
            ReplyStatus.OK,
            f"version {data['version']}, up {data['uptime_s']:.0f} s, "
            f"outbox {data['outbox_depth']} waiting, {len(data['recent_errors'])} recent errors",
            data,
        )

    def _log_level(self, args: Mapping[str, Any]) -> Outcome:
        level = args.get("level")
        if not isinstance(level, str) or level.upper() not in LOG_LEVELS:
            raise BadArgsError(f"level must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
        name = args.get("logger") or ""
        if not isinstance(name, str) or len(name) > 128:
            raise BadArgsError(f"logger must be a name like 'gateway.access', not {name!r}")
        logger = logging.getLogger(name or None)
        before = logging.getLevelName(logger.getEffectiveLevel())
        logger.setLevel(level.upper())
        shown = name or "root"
        return Outcome(
            ReplyStatus.OK,
            f"log level of {shown} set to {level.upper()} (was {before})",
            {"logger": shown, "level": level.upper(), "was": before},
        )

    def _restart(self, args: Mapping[str, Any]) -> Outcome:
        return Outcome(
            ReplyStatus.OK, self._gateway.restart_note(), after=self._gateway.request_restart
        )


def _number(args: Mapping[str, Any], name: str, default: int | None) -> int:
    value = args.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WORKER_NUMBER:
        raise BadArgsError(f"{name} must be a whole number, 0 or more, not {value!r}")
    return value


def _refusals(refused: Mapping[str, str]) -> str:
    return "refused " + "; ".join(f"{key}: {why}" for key, why in refused.items())
