"""Commands from the dashboard to a station's gateway, and how each one ended.

`POST /api/stations/{station_id}/commands` (role operator) sends `unlock`, `lock`,
`lockdown_on`, `lockdown_off` (about one door: sent to the door's gateway, naming the
door), `self_test`, `restart` or `ping` (about a gateway: the one named, or the station's
only one). It answers `202 Accepted` at once with the request id and the time by which
the gateway must answer; the browser is never held while a gateway is away. How the
command ends arrives on the live stream (`event: command`) and from
`GET /api/commands/{request_id}` (and `GET /api/stations/{station_id}/commands` lists a
station's latest): `done`, `refused` with the gateway's own message, or
`no_answer` once `[commands] answer_timeout_s` has passed with nothing heard. The
command's time-to-live is that same answer time, so a command that got no answer is not
carried out later either. `POST /api/stations/{station_id}/doors/{door_id}/unlock` is the
older spelling of an unlock and answers the same way.

Every command is signed with the central's operator key (gateways refuse unsigned
commands that can open a door) and written `pending` before it is published, so a reply
that comes back at once finds it. Who asked is in the audit log twice: the request (the
auth middleware audits every state change) and its outcome (`ANSWER`, written with the
reply or the deadline that settled it).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contract.payloads import SLUG_PATTERN, Command, format_utc, utc_now
from contract.topics import gateway_topic
from dashboard.core.changes import CommandOutcome
from dashboard.core.commands import DOOR_COMMANDS, DashboardCommand, Outcome, wire_command
from dashboard.storage import commands as command_log
from dashboard.storage.store import StationNotFoundError, Store
from dashboard.web.auth import current
from dashboard.web.errors import ApiError, error_responses

RequestId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class CommandRequest(BaseModel):
    """What to ask of a station's gateway. Door commands name the door; the others may
    name the gateway (needed when the station has several)."""

    model_config = ConfigDict(extra="forbid")

    command: DashboardCommand
    door_id: str | None = Field(default=None, max_length=64, pattern=SLUG_PATTERN)
    gateway_id: str | None = Field(default=None, max_length=64, pattern=SLUG_PATTERN)


class CommandSent(BaseModel):
    """A command that was published; its outcome follows on the live stream and from
    `GET /api/commands/{request_id}`."""

    request_id: str
    station_id: str
    gateway_id: str
    door_id: str | None
    command: DashboardCommand
    topic: str
    by: str
    outcome: Outcome = Field(description="`pending` when sent.")
    answer_by: str = Field(description="When the outcome becomes `no_answer` without a reply.")
    answer_within_s: float


def commands_router(
    store: Store,
    publish: Callable[[str, bytes], None],
    sign: Callable[[Command], Command],
    answer_within_s: float,
) -> APIRouter:
    """Command routes over the store; `publish` sends on the broker, `sign` signs with the
    central's operator key, and gateways have `answer_within_s` to answer."""
    router = APIRouter(tags=["commands"])

    def target(station_id: str, ask: CommandRequest) -> tuple[str, str | None]:
        """The gateway to send to and the door the command is about."""
        try:
            station = store.station(station_id)
        except StationNotFoundError:
            raise ApiError(404, f"no station {station_id!r}") from None
        if ask.command in DOOR_COMMANDS:
            if ask.door_id is None:
                raise ApiError(422, f"{ask.command.value} is about one door: name it (door_id)")
            door = next((d for d in station.doors if d.id == ask.door_id), None)
            if door is None:
                raise ApiError(404, f"station {station_id!r} has no door {ask.door_id!r}")
            gateway_id = door.gateway_id
            if gateway_id is None and len(station.gateways) == 1:
                gateway_id = station.gateways[0]
            if gateway_id is None:
                raise ApiError(409, f"no gateway known for door {ask.door_id!r}")
            return gateway_id, ask.door_id
        if ask.door_id is not None:
            raise ApiError(422, f"{ask.command.value} is about a gateway, not a door")
        if ask.gateway_id is not None:
            if ask.gateway_id not in station.gateways:
                raise ApiError(404, f"station {station_id!r} has no gateway {ask.gateway_id!r}")
            return ask.gateway_id, None
        if len(station.gateways) != 1:
            known = ", ".join(station.gateways) or "none"
            raise ApiError(409, f"name the gateway (gateway_id); this station's: {known}")
        return station.gateways[0], None

    def send(station_id: str, ask: CommandRequest, request: Request) -> CommandSent:
        operator = current(request)
        gateway_id, door_id = target(station_id, ask)
        wire = wire_command(ask.command, door_id)
        request_id = f"{ask.command.value.replace('_', '-')}-{secrets.token_hex(6)}"
        issued = utc_now()
        answer_by = issued + timedelta(seconds=answer_within_s)
        command = Command(
            request_id=request_id,
            station_id=station_id,
            gateway_id=gateway_id,
            issued_at=issued,
            ttl_s=answer_within_s,
            command=wire.name,
            args=wire.args,
        )
        command_log.issue(
            store.db,
            CommandOutcome(
                request_id=request_id,
                station_id=station_id,
                gateway_id=gateway_id,
                door_id=door_id,
                command=ask.command.value,
                by=operator.name,
                outcome=Outcome.PENDING.value,
                message="",
                reply_status=None,
                issued_at=format_utc(issued),
                answer_by=format_utc(answer_by),
                answer_within_s=answer_within_s,
                answered_at=None,
            ),
        )
        # The audit middleware writes this with the request: its outcome is found by it.
        request.state.audit_detail = f"{ask.command.value} request {request_id}"
        topic = gateway_topic(station_id, gateway_id, "command")
        publish(topic, sign(command).to_json())
        return CommandSent(
            request_id=request_id,
            station_id=station_id,
            gateway_id=gateway_id,
            door_id=door_id,
            command=ask.command,
            topic=topic,
            by=operator.name,
            outcome=Outcome.PENDING,
            answer_by=format_utc(answer_by),
            answer_within_s=answer_within_s,
        )

    @router.post(
        "/api/stations/{station_id}/commands",
        status_code=202,
        responses=error_responses(404, 409, 422),
    )
    def send_command(
        station_id: str, ask: Annotated[CommandRequest, Body()], request: Request
    ) -> CommandSent:
        """Send a command to the station's gateway and answer at once (202) with its request
        id; the outcome follows on `/api/stream` (`command`) and from
        `GET /api/commands/{request_id}`. 404 for an unknown station, door or gateway, 409
        if the gateway is not known or must be named, 422 for a door command without a
        door or a gateway command with one."""
        return send(station_id, ask, request)

    @router.post(
        "/api/stations/{station_id}/doors/{door_id}/unlock",
        status_code=202,
        responses=error_responses(404, 409, 422),
    )
    def unlock(station_id: str, door_id: str, request: Request) -> CommandSent:
        """Release a door once, through its gateway: the same as the `unlock` command.
        404 for an unknown station or door, 409 if no gateway is known for the door."""
        try:
            ask = CommandRequest(command=DashboardCommand.UNLOCK, door_id=door_id)
        except ValidationError:
            # Not even a door id: no station has such a door.
            raise ApiError(404, f"station {station_id!r} has no door {door_id[:64]!r}") from None
        return send(station_id, ask, request)

    @router.get("/api/stations/{station_id}/commands", responses=error_responses(404, 422))
    def station_commands(
        station_id: str, limit: Annotated[int, Query(ge=1, le=100)] = 20
    ) -> list[CommandOutcome]:
        """The station's latest commands (whoever sent them), newest first, each as it
        stands now."""
        try:
            store.station(station_id)
        except StationNotFoundError:
            raise ApiError(404, f"no station {station_id!r}") from None
        return command_log.recent(store.db, station_id, limit)

    @router.get("/api/commands/{request_id}", responses=error_responses(404, 422))
    def command_outcome(request_id: RequestId) -> CommandOutcome:
        """How a command sent from the dashboard stands: `pending`, `done`, `refused`
        (`message` is the gateway's) or `no_answer`."""
        found = command_log.get(store.db, request_id)
        if found is None:
            raise ApiError(404, f"no command {request_id!r}")
        return found

    return router
