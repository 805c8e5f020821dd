"""The pure rules behind command outcomes and door conditions, as plain functions."""

from __future__ import annotations

from dashboard.core.changes import DoorCondition, condition_changes
from dashboard.core.commands import (
    DashboardCommand,
    Outcome,
    WireCommand,
    audit_detail,
    outcome_of,
    wire_command,
)


def test_dashboard_commands_become_the_gateways_commands() -> None:
    assert wire_command(DashboardCommand.LOCKDOWN_ON, "main") == WireCommand(
        "lockdown", {"on": True, "door": "main"}
    )
    assert wire_command(DashboardCommand.LOCKDOWN_OFF, "main").args == {"on": False, "door": "main"}
    assert wire_command(DashboardCommand.UNLOCK, "back") == WireCommand("unlock", {"door": "back"})
    assert wire_command(DashboardCommand.SELF_TEST, None) == WireCommand("self_test", {})


def test_only_ok_is_done_and_the_audit_says_how_it_ended() -> None:
    assert outcome_of("ok") is Outcome.DONE
    assert {outcome_of(s) for s in ("error", "expired", "unauthorised")} == {Outcome.REFUSED}
    assert audit_detail("ping", None, Outcome.NO_ANSWER, "", 2.5) == "ping: no answer in 2.5 s"
    assert (
        audit_detail("unlock", "main", Outcome.REFUSED, "in lockdown", 15)
        == "unlock main: refused: in lockdown"
    )


def door(door_id: str, lockdown: bool = False, fire: bool = False) -> DoorCondition:
    return DoorCondition("cs-0001", "gw-1", door_id, lockdown, fire, False, "t")


def test_a_condition_changes_only_when_a_flag_does() -> None:
    before = [door("main", lockdown=True), door("back")]
    assert condition_changes(before, [door("main", lockdown=True), door("back")]) == []
    assert condition_changes(before, [door("main"), door("back", fire=True)]) == [
        door("main"),
        door("back", fire=True),
    ]
    # A door first reported with nothing set is no change; one no longer reported clears.
    assert condition_changes([], [door("main")]) == []
    assert condition_changes(before, [door("back")]) == [door("main")]
