"""Adding and removing a station's gateways (admin), and the public enrollment a gateway
makes with its one-time code: `POST /api/stations/{id}/gateways`,
`DELETE /api/stations/{id}/gateways/{gateway}`, `GET /api/stations/{id}/enrollments`,
`POST /api/enroll`."""

from __future__ import annotations

from typing import Annotated

import segno
from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contract.enrollment import EnrollmentBundle, EnrollmentRequest, MalformedCodeError
from contract.payloads import SLUG_PATTERN
from dashboard.services.gateway_accounts import BrokerUnavailableError
from dashboard.services.gateway_provisioning import (
    AddedGateway,
    GatewayExistsError,
    GatewayProvisioning,
    ProvisioningOffError,
)
from dashboard.storage.enrollments import CodeRefusedError, PendingCode
from dashboard.storage.store import StationNotFoundError
from dashboard.web.auth import current
from dashboard.web.errors import ApiError, error_responses, validation_problems
from dashboard.web.openapi import SelfParsedBody, json_body, validate_body

REFUSAL_STATUS = {"unknown": 404, "expired": 410, "spent": 409, "revoked": 409}


class AddGateway(BaseModel):
    """A gateway to add to a station."""

    model_config = ConfigDict(extra="forbid")

    gateway_id: str = Field(pattern=SLUG_PATTERN)
    replace: bool = Field(
        default=False,
        description="Make a known gateway's account afresh and issue a new code; the "
        "running gateway is cut off until it enrolls again.",
    )


class GatewayAdded(BaseModel):
    """The new gateway's broker username and its enrollment code, shown once."""

    station_id: str
    gateway_id: str
    username: str
    code: str
    expires_at: str
    command: str = Field(description="What the technician runs on the gateway.")
    qr_svg: str = Field(description="The command as a QR code, an SVG element.")
    qr_png: str = Field(description="The same QR code as a PNG data URI.")

    @classmethod
    def of(cls, added: AddedGateway) -> GatewayAdded:
        """With the QR code of its command."""
        symbol = segno.make(added.command, error="m")
        return cls(
            station_id=added.station_id,
            gateway_id=added.gateway_id,
            username=added.username,
            code=added.code,
            expires_at=added.expires_at,
            command=added.command,
            qr_svg=symbol.svg_inline(scale=4),
            qr_png=symbol.png_data_uri(scale=4),
        )


def _unavailable(exc: Exception) -> ApiError:
    return ApiError(503, str(exc))


def gateway_enrollment_router(provisioning: GatewayProvisioning) -> APIRouter:
    """Gateway provisioning routes over the service."""
    router = APIRouter(tags=["gateways"])

    @router.post(
        "/api/stations/{station_id}/gateways",
        status_code=201,
        openapi_extra=json_body(AddGateway),
        responses=error_responses(404, 409, 422, 503),
    )
    def add_gateway(
        station_id: Annotated[str, Path(pattern=SLUG_PATTERN)],
        request: Request,
        data: SelfParsedBody = None,
    ) -> GatewayAdded:
        """Add a gateway: its broker account (with the gateway ACL) and a one-time
        enrollment code, valid `[provisioning] code_ttl_s` (24 h). 409 for a known
        gateway unless `replace`, or when provisioning is off; 503 when the broker cannot
        be reached or refuses."""
        if not isinstance(data, dict):
            raise ApiError(422, "expected a JSON object")
        try:
            body = validate_body(AddGateway, data)
        except ValidationError as exc:
            raise ApiError(422, "invalid gateway", validation_problems(exc)) from None
        try:
            added = provisioning.add(
                station_id, body.gateway_id, current(request).name, body.replace
            )
        except StationNotFoundError:
            raise ApiError(404, f"no station {station_id!r}") from None
        except (GatewayExistsError, ProvisioningOffError) as exc:
            raise ApiError(409, str(exc)) from None
        except BrokerUnavailableError as exc:
            raise _unavailable(exc) from None
        return GatewayAdded.of(added)

    @router.delete(
        "/api/stations/{station_id}/gateways/{gateway_id}",
        status_code=204,
        responses=error_responses(404, 422, 503),
    )
    def remove_gateway(
        station_id: Annotated[str, Path(pattern=SLUG_PATTERN)],
        gateway_id: Annotated[str, Path(pattern=SLUG_PATTERN)],
    ) -> Response:
        """Remove a gateway: its broker account is shut out at once (a connected gateway
        is disconnected; with provisioning off there is none), its unused codes withdrawn,
        and it is forgotten. 404 if it was not known (its account, if any, is removed all
        the same)."""
        try:
            known = provisioning.remove(station_id, gateway_id)
        except BrokerUnavailableError as exc:
            raise _unavailable(exc) from None
        if not known:
            raise ApiError(404, f"no gateway {gateway_id!r} at station {station_id!r}")
        return Response(status_code=204)

    @router.get("/api/stations/{station_id}/enrollments", responses=error_responses(422))
    def pending_enrollments(
        station_id: Annotated[str, Path(pattern=SLUG_PATTERN)],
    ) -> list[PendingCode]:
        """A station's enrollment codes not yet used and not expired (never the codes)."""
        return provisioning.codes.pending(station_id)

    @router.post(
        "/api/enroll",
        openapi_extra=json_body(EnrollmentRequest),
        responses=error_responses(404, 409, 410, 422, 503),
    )
    async def enroll(data: SelfParsedBody = None) -> EnrollmentBundle:
        """A gateway's identity, broker, CA certificate, password and operator keys, for
        its one-time code; public, the code is the credential. 422 for a malformed code,
        404 unknown, 410 expired, 409 already used or withdrawn (or provisioning off), 503
        broker unreachable; each changes nothing."""
        if not isinstance(data, dict):
            raise ApiError(422, "expected a JSON object with the code")
        try:
            body = validate_body(EnrollmentRequest, data)
        except ValidationError as exc:
            raise ApiError(422, "invalid enrollment request", validation_problems(exc)) from None
        try:
            return await run_in_threadpool(provisioning.enroll, body.code)
        except MalformedCodeError as exc:
            raise ApiError(422, str(exc)) from None
        except CodeRefusedError as exc:
            raise ApiError(REFUSAL_STATUS[exc.reason], str(exc)) from None
        except ProvisioningOffError as exc:
            raise ApiError(409, str(exc)) from None
        except (BrokerUnavailableError, OSError) as exc:
            raise _unavailable(exc) from None

    return router
