"""Maintenance commands: what each command does on this gateway, by name.

A command reaches `MaintenanceCommands.run` only after `CommandGate` found it fresh and
new. Each handler returns a `Outcome` that becomes the reply; a handler never raises for a
person's mistake (unknown door, bad argument): it answers `bad_args` saying what was wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contract.payloads import ReplyStatus
from gateway.door_io import DoorIO
from yizhan import __version__


@dataclass(frozen=True, slots=True)
class Outcome:
    """The reply to one command."""

    status: ReplyStatus
    message: str
    data: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Mapping[str, Any]], Outcome]


class MaintenanceCommands:
    """The command table of one gateway."""

    def __init__(self, doors: Mapping[str, DoorIO]) -> None:
        self._doors = doors
        self._handlers: dict[str, Handler] = {"ping": self._ping, "unlock": self._unlock}

    @property
    def names(self) -> list[str]:
        """Every command this gateway knows."""
        return sorted(self._handlers)

    def run(self, name: str, args: Mapping[str, Any]) -> Outcome:
        """Carry out one admitted command."""
        handler = self._handlers.get(name)
        if handler is None:
            return Outcome(
                ReplyStatus.UNKNOWN_COMMAND,
                f"unknown command {name!r}; this gateway knows: {', '.join(self.names)}",
            )
        return handler(args)

    def _ping(self, args: Mapping[str, Any]) -> Outcome:
        return Outcome(ReplyStatus.OK, "pong", {"version": __version__})

    def _unlock(self, args: Mapping[str, Any]) -> Outcome:
        door_id = args.get("door", next(iter(self._doors), ""))
        if not isinstance(door_id, str) or door_id not in self._doors:
            known = ", ".join(self._doors) or "none"
            return Outcome(ReplyStatus.BAD_ARGS, f"no door {door_id!r}; doors: {known}")
        if not self._doors[door_id].remote_unlock():
            return Outcome(ReplyStatus.ERROR, f"door {door_id!r} is in lockdown; not released")
        return Outcome(ReplyStatus.OK, f"door {door_id!r} released")
