"""Remote unlock: an operator releases a station's door through its gateway.

The central publishes a `command/1` `unlock` to the door's gateway (the door's own
gateway, or the station's only one) with a short time-to-live, so that a command that
waits in the broker while the gateway is away cannot open the door much later. The
station, gateway and door are inside what the central signs, so the command opens that
door only, however it is copied. Who
asked is in the audit log (the auth middleware records every state change) and in the
command's request id.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from fastapi import APIRouter, Request
from pydantic import BaseModel

from contract.payloads import Command, utc_now
from contract.topics import gateway_topic
from dashboard.storage.store import StationNotFoundError, Store
from dashboard.web.auth import current
from dashboard.web.errors import ApiError, error_responses

UNLOCK_TTL_S = 15.0
"""Seconds an unlock stays valid: long enough for a slow link, short enough to be safe."""


class UnlockSent(BaseModel):
    """The unlock command that was published and where to."""

    request_id: str
    station_id: str
    gateway_id: str
    door_id: str
    topic: str
    by: str


def commands_router(
    store: Store,
    publish: Callable[[str, bytes], None],
    sign: Callable[[Command], Command],
) -> APIRouter:
    """`POST /api/stations/{station_id}/doors/{door_id}/unlock` (role operator).

    Gateways open a door only for a command signed by an operator key they trust, so
    every unlock is signed with the central's operator key before it is published.
    """
    router = APIRouter(tags=["stations"])

    @router.post(
        "/api/stations/{station_id}/doors/{door_id}/unlock",
        responses=error_responses(404, 409, 422),
    )
    def unlock(station_id: str, door_id: str, request: Request) -> UnlockSent:
        """Release a door once, through its gateway; 404 for an unknown station or door,
        409 if no gateway is known for the door."""
        operator = current(request)
        try:
            station = store.station(station_id)
        except StationNotFoundError:
            raise ApiError(404, f"no station {station_id!r}") from None
        door = next((d for d in station.doors if d.id == door_id), None)
        if door is None:
            raise ApiError(404, f"station {station_id!r} has no door {door_id!r}")
        gateway_id = door.gateway_id
        if gateway_id is None and len(station.gateways) == 1:
            gateway_id = station.gateways[0]
        if gateway_id is None:
            raise ApiError(409, f"no gateway known for door {door_id!r}")
        request_id = f"unlock-{secrets.token_hex(6)}"
        command = Command(
            request_id=request_id,
            station_id=station_id,
            gateway_id=gateway_id,
            issued_at=utc_now(),
            ttl_s=UNLOCK_TTL_S,
            command="unlock",
            args={"door": door_id},
        )
        topic = gateway_topic(station_id, gateway_id, "command")
        publish(topic, sign(command).to_json())
        return UnlockSent(
            request_id=request_id,
            station_id=station_id,
            gateway_id=gateway_id,
            door_id=door_id,
            topic=topic,
            by=operator.name,
        )

    return router
