"""Commands sent to gateways from the dashboard, and how each ended.

A command is written `pending` when it is published, with the time by which its gateway
must answer. The gateway's `reply/1` (matched by request id, and by the station and
gateway it came from) makes it `done` or `refused`, in the ingest batch that carries the
reply; the periodic checks make a command still pending at its deadline `no_answer`. A
late answer after that still replaces `no_answer` (it is what happened at the door);
any other second answer (a broker's redelivery) changes nothing. Each final outcome is
written to the audit log in the same transaction, under the operator who sent the
command. Table `commands`; nothing else writes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from contract.payloads import CommandReply, format_utc, utc_now
from dashboard.core.changes import CommandOutcome
from dashboard.core.commands import AUDIT_STATUS, Outcome, audit_detail, outcome_of
from dashboard.storage.db import Connection, Database
from dashboard.storage.operators import write_audit

_COLUMNS = (
    "request_id, station_id, gateway_id, door_id, command, actor, outcome, message, "
    "reply_status, issued_at, answer_by, answer_within_s, answered_at"
)

AUDIT_ACTION = "ANSWER"
"""The audit log's action for how a command ended (its request is audited as `POST`)."""


def _row(row: tuple[object, ...]) -> CommandOutcome:
    (rid, sid, gid, door, command, actor, outcome, message, status, issued, by, within, at) = row
    return CommandOutcome(
        request_id=str(rid),
        station_id=str(sid),
        gateway_id=str(gid),
        door_id=None if door is None else str(door),
        command=str(command),
        by=str(actor),
        outcome=str(outcome),
        message=str(message),
        reply_status=None if status is None else str(status),
        issued_at=str(issued),
        answer_by=str(by),
        answer_within_s=float(within),  # type: ignore[arg-type]
        answered_at=None if at is None else str(at),
    )


def issue(database: Database, command: CommandOutcome) -> None:
    """Write a command that is about to be published, `pending`."""
    with database.transaction() as db:
        db.execute(
            f"INSERT INTO commands ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                command.request_id,
                command.station_id,
                command.gateway_id,
                command.door_id,
                command.command,
                command.by,
                command.outcome,
                command.message,
                command.reply_status,
                command.issued_at,
                command.answer_by,
                command.answer_within_s,
                command.answered_at,
            ),
        )


def get(database: Database, request_id: str) -> CommandOutcome | None:
    """The command with `request_id`, as it stands; None if there is none."""
    with database.connection() as db:
        row = db.execute(
            f"SELECT {_COLUMNS} FROM commands WHERE request_id = ?", (request_id,)
        ).fetchone()
    return None if row is None else _row(tuple(row))


def recent(database: Database, station_id: str, limit: int) -> list[CommandOutcome]:
    """The station's newest `limit` commands, newest first."""
    with database.connection() as db:
        rows = db.execute(
            f"SELECT {_COLUMNS} FROM commands WHERE station_id = ? "
            "ORDER BY issued_at DESC, request_id LIMIT ?",
            (station_id, limit),
        ).fetchall()
    return [_row(tuple(row)) for row in rows]


def answer(
    db: Connection, replies: Iterable[CommandReply], received_at: str
) -> tuple[list[CommandOutcome], list[CommandReply]]:
    """Settle the commands `replies` answer, inside the caller's transaction; what changed,
    and the replies that answer no command sent from here to that gateway."""
    changed: list[CommandOutcome] = []
    unknown: list[CommandReply] = []
    for reply in replies:
        row = db.execute(
            f"SELECT {_COLUMNS} FROM commands WHERE request_id = ?", (reply.request_id,)
        ).fetchone()
        command = None if row is None else _row(tuple(row))
        if command is None or (command.station_id, command.gateway_id) != (
            reply.station_id,
            reply.gateway_id,
        ):
            unknown.append(reply)
            continue
        if command.outcome not in (Outcome.PENDING, Outcome.NO_ANSWER):
            continue  # answered already: a redelivery says nothing new
        outcome = outcome_of(reply.status.value)
        db.execute(
            "UPDATE commands SET outcome = ?, reply_status = ?, message = ?, answered_at = ? "
            "WHERE request_id = ?",
            (outcome.value, reply.status.value, reply.message, received_at, reply.request_id),
        )
        settled = _settled(command, outcome, reply.message, reply.status.value, received_at)
        _audit(db, settled)
        changed.append(settled)
    return changed, unknown


def expire(db: Connection, now: str) -> list[CommandOutcome]:
    """Mark every command still pending at `now` past its deadline `no_answer`, inside the
    caller's transaction; those commands."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM commands WHERE outcome = ? AND answer_by <= ? ORDER BY answer_by",
        (Outcome.PENDING.value, now),
    ).fetchall()
    changed: list[CommandOutcome] = []
    for row in rows:
        command = _row(tuple(row))
        updated = db.execute(
            "UPDATE commands SET outcome = ? WHERE request_id = ? AND outcome = ? "
            "RETURNING request_id",
            (Outcome.NO_ANSWER.value, command.request_id, Outcome.PENDING.value),
        ).fetchone()
        if updated is None:
            continue  # answered meanwhile, by another replica's batch
        settled = _settled(command, Outcome.NO_ANSWER, "", None, None)
        _audit(db, settled)
        changed.append(settled)
    return changed


def purge(db: Connection, before: str) -> None:
    """Delete the commands issued before `before` that have ended (retention; the audit
    log keeps who sent them and how they ended)."""
    db.execute(
        "DELETE FROM commands WHERE issued_at < ? AND outcome <> ?",
        (before, Outcome.PENDING.value),
    )


def _settled(
    command: CommandOutcome,
    outcome: Outcome,
    message: str,
    status: str | None,
    at: str | None,
) -> CommandOutcome:
    return replace(
        command, outcome=outcome.value, message=message, reply_status=status, answered_at=at
    )


def _audit(db: Connection, command: CommandOutcome) -> None:
    outcome = Outcome(command.outcome)
    write_audit(
        db,
        command.by,
        AUDIT_ACTION,
        f"/api/commands/{command.request_id}",
        AUDIT_STATUS[outcome],
        f"{command.station_id}/{command.gateway_id} "
        + audit_detail(
            command.command, command.door_id, outcome, command.message, command.answer_within_s
        ),
    )


def now_text() -> str:
    """The current time as the table writes it (fixed-width UTC text: text order is time
    order)."""
    return format_utc(utc_now())
