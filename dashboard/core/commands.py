"""Commands an operator sends a gateway from the dashboard, and how each one ended.

Pure rules, no I/O: which dashboard command becomes which `command/1` (name and
arguments), whether it is about one door, and how a gateway's `reply/1` status reads as
an outcome. An outcome is `pending` until the gateway answers or its deadline passes,
then one of `done` (the gateway said `ok`), `refused` (any other status; the gateway's
message says why) or `no_answer` (nothing heard within the answer time).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """Where a command stands."""

    PENDING = "pending"
    DONE = "done"
    REFUSED = "refused"
    NO_ANSWER = "no_answer"


class DashboardCommand(StrEnum):
    """What an operator may ask of a gateway from the dashboard."""

    UNLOCK = "unlock"
    LOCK = "lock"
    LOCKDOWN_ON = "lockdown_on"
    LOCKDOWN_OFF = "lockdown_off"
    SELF_TEST = "self_test"
    RESTART = "restart"
    PING = "ping"


@dataclass(frozen=True, slots=True)
class WireCommand:
    """A dashboard command as the gateway's command table names it."""

    name: str
    args: dict[str, Any]


DOOR_COMMANDS = frozenset(
    {
        DashboardCommand.UNLOCK,
        DashboardCommand.LOCK,
        DashboardCommand.LOCKDOWN_ON,
        DashboardCommand.LOCKDOWN_OFF,
    }
)
"""Commands about one door: sent to that door's gateway, naming the door."""


def wire_command(command: DashboardCommand, door_id: str | None) -> WireCommand:
    """The `command/1` name and arguments of `command` (for `door_id`, when it is a door
    command)."""
    door = {"door": door_id} if door_id is not None else {}
    match command:
        case DashboardCommand.LOCKDOWN_ON:
            return WireCommand("lockdown", {"on": True, **door})
        case DashboardCommand.LOCKDOWN_OFF:
            return WireCommand("lockdown", {"on": False, **door})
        case DashboardCommand.UNLOCK | DashboardCommand.LOCK:
            return WireCommand(command.value, door)
        case _:
            return WireCommand(command.value, {})


def outcome_of(reply_status: str) -> Outcome:
    """How a gateway's reply status reads: `ok` is done, anything else refused."""
    return Outcome.DONE if reply_status == "ok" else Outcome.REFUSED


AUDIT_STATUS = {Outcome.DONE: 200, Outcome.REFUSED: 409, Outcome.NO_ANSWER: 504}
"""The audit log's status for each final outcome, in HTTP's words (504: nobody answered
in time), so one column reads the same for requests and for what became of them."""


def audit_detail(
    command: str, door_id: str | None, outcome: Outcome, message: str, answer_within_s: float
) -> str:
    """What the audit log says about how a command ended."""
    what = command + (f" {door_id}" if door_id else "")
    if outcome is Outcome.NO_ANSWER:
        return f"{what}: no answer in {answer_within_s:g} s"
    if outcome is Outcome.REFUSED:
        return f"{what}: refused: {message}"
    return f"{what}: done" + (f": {message}" if message else "")
