"""`/api/stations/{id}/policy`: a station's policy, sent to its gateways signed, and where
each gateway stands with it (applied, pending since when, refused and why, drifted)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request

from contract.maintenance_payloads import ConfigDesired
from contract.payloads import utc_now
from contract.topics import gateway_topic
from dashboard.core.station_policy import GatewayConfigState, PolicyInput
from dashboard.storage.store import StationNotFoundError, Store
from dashboard.web.auth import current
from dashboard.web.errors import ApiError, error_responses


@dataclass(frozen=True, slots=True)
class StationPolicy:
    """A station's policy, the desired config it went out as, and each gateway's state."""

    station_id: str
    version: int | None
    """The desired-config version gateways are asked to apply; None before any policy."""
    policy: dict[str, Any]
    settings: dict[str, Any]
    """The policy as the gateways' live keys."""
    set_at: str | None
    gateways: list[GatewayConfigState]


def station_policy_router(
    store: Store,
    publish: Callable[[str, bytes], None],
    sign: Callable[[ConfigDesired], ConfigDesired],
) -> APIRouter:
    """Policy routes over the store; `publish` and `sign` send desired config (retained,
    signed with the central's operator key, which gateways list as a trusted operator)."""
    router = APIRouter(tags=["stations"])

    def view(station_id: str) -> StationPolicy:
        try:
            row, states = store.policy_states(station_id)
        except StationNotFoundError:
            raise ApiError(404, f"no station {station_id!r}") from None
        if row is None:
            return StationPolicy(station_id, None, {}, {}, None, [])
        return StationPolicy(station_id, row.version, row.policy, row.settings, row.set_at, states)

    @router.get("/api/stations/{station_id}/policy", responses=error_responses(404, 422))
    def get_policy(station_id: str) -> StationPolicy:
        """The station's policy and, per gateway, `applied`, `pending` (since the policy
        was set), or `refused` (each key's reason), with any `drift`: a key the gateway
        runs with another value than the policy's (changed on the spot by a maintainer)."""
        return view(station_id)

    @router.put("/api/stations/{station_id}/policy", responses=error_responses(404, 422))
    def put_policy(station_id: str, policy: PolicyInput, request: Request) -> StationPolicy:
        """Set the station's policy (admin): its capacity becomes the station's (the map's)
        too, and each of its gateways is sent the policy as signed, retained desired
        config. A field left out is the gateway's default (capacity: none; hours: all
        day; door times: as configured on the gateway)."""
        try:
            row, gateways = store.put_policy(station_id, policy, current(request).name)
        except StationNotFoundError:
            raise ApiError(404, f"no station {station_id!r}") from None
        now = utc_now()
        for gateway_id in gateways:
            desired = ConfigDesired(
                station_id=station_id,
                gateway_id=gateway_id,
                version=row.version,
                issued_at=now,
                settings=row.settings,
            )
            publish(
                gateway_topic(station_id, gateway_id, "config/desired"), sign(desired).to_json()
            )
        return view(station_id)

    return router
