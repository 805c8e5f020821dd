"""`/api/operators` and `/api/audit` (admin): who may use the central, and what they did."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from dashboard.storage.operators import AuditRow, OperatorAccount, OperatorStore, Role
from dashboard.web.auth import current
from dashboard.web.errors import ApiError, error_responses

ROLE_PATTERN = "^(viewer|operator|admin)$"


class NewOperator(BaseModel):
    """An operator to create."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=200)
    role: str = Field(pattern=ROLE_PATTERN)


class OperatorChange(BaseModel):
    """What to change about an operator; a new password or disabling ends their sessions."""

    model_config = ConfigDict(extra="forbid")

    role: str | None = Field(default=None, pattern=ROLE_PATTERN)
    password: str | None = Field(default=None, min_length=8, max_length=200)
    disabled: StrictBool | None = None


def operators_router(operators: OperatorStore) -> APIRouter:
    """Operators and the audit log over the operator store."""
    router = APIRouter(tags=["operators"])

    @router.get("/api/operators")
    def list_operators() -> list[OperatorAccount]:
        """Every operator, by name."""
        return operators.all()

    @router.post("/api/operators", status_code=201, responses=error_responses(409, 422))
    def add_operator(data: NewOperator) -> OperatorAccount:
        """Create an operator; 409 if the name is taken."""
        try:
            return operators.add(data.name, data.password, Role.parse(data.role))
        except ValueError as exc:
            raise ApiError(409, str(exc)) from None

    @router.patch("/api/operators/{name}", responses=error_responses(404, 409, 422))
    def change_operator(name: str, data: OperatorChange, request: Request) -> OperatorAccount:
        """Change an operator's role, password or disabled flag; 409 for disabling oneself
        or giving up one's own admin role, so that an admin always remains."""
        role = None if data.role is None else Role.parse(data.role)
        if name == current(request).name and (
            data.disabled or (role is not None and role < Role.ADMIN)
        ):
            raise ApiError(409, "you cannot disable yourself or give up your own admin role")
        try:
            return operators.update(name, role=role, password=data.password, disabled=data.disabled)
        except LookupError:
            raise ApiError(404, f"no operator {name!r}") from None

    @router.delete(
        "/api/operators/{name}", status_code=204, responses=error_responses(404, 409, 422)
    )
    def remove_operator(name: str, request: Request) -> Response:
        """Delete an operator; not oneself, so that an admin always remains."""
        if name == current(request).name:
            raise ApiError(409, "you cannot delete yourself")
        try:
            operators.remove(name)
        except LookupError:
            raise ApiError(404, f"no operator {name!r}") from None
        return Response(status_code=204)

    @router.get("/api/audit", responses=error_responses(422))
    def audit(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AuditRow]:
        """State-changing actions, newest first."""
        return operators.audit_log(limit)

    return router
