"""`/api/alerts`: what operators should look at, and taking or closing an alert."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from dashboard.core.alert_rules import AlertChange, AlertKind, AlertStatus
from dashboard.core.changes import BatchResult
from dashboard.storage.alerts import AlertStateError
from dashboard.storage.store import AlertRow, Store
from dashboard.web.auth import current
from dashboard.web.errors import ApiError, error_responses

AlertId = Annotated[int, Path(ge=1, le=2**62)]


class AlertAction(BaseModel):
    """An optional note for the next operator (kept with the alert and in the audit log).
    Who acted is the logged-in operator."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=500)
    by: str | None = Field(
        default=None, deprecated=True, description="Ignored: older clients sent a name here."
    )


def alerts_router(store: Store, changed: Callable[[BatchResult], None]) -> APIRouter:
    """Alerts over the store; `changed` hears of an alert an operator took or closed."""
    router = APIRouter(tags=["alerts"])

    @router.get("/api/alerts", responses=error_responses(422))
    def alerts(
        include_resolved: bool = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        kind: AlertKind | None = None,
        station_id: str | None = None,
        status: AlertStatus | None = None,
    ) -> list[AlertRow]:
        """Unresolved alerts (all with `include_resolved=true`), newest first; open while
        `resolved_at` is null."""
        return store.alerts(
            open_only=not include_resolved and status is not AlertStatus.RESOLVED,
            limit=limit,
            kind=None if kind is None else kind.value,
            station_id=station_id,
            status=None if status is None else status.value,
        )

    def load(alert_id: int) -> AlertRow:
        try:
            return store.alert(alert_id)
        except LookupError:
            raise ApiError(404, f"no alert {alert_id}") from None

    @router.get("/api/alerts/{alert_id}", responses=error_responses(404, 422))
    def get_alert(alert_id: AlertId) -> AlertRow:
        """One alert with its history: who acknowledged and resolved it, when, and their
        notes."""
        return load(alert_id)

    def transition(
        alert_id: int,
        action: Callable[[int, str, str | None], AlertChange],
        body: AlertAction | None,
        request: Request,
    ) -> AlertRow:
        note = ((body.note if body else None) or "").strip() or None
        if note is not None:
            # The audit middleware writes this with the request, so the audit log says
            # what was written as well as who acted.
            request.state.audit_detail = f"note: {note}"
        try:
            change = action(alert_id, current(request).name, note)
        except LookupError:
            raise ApiError(404, f"no alert {alert_id}") from None
        except AlertStateError as exc:
            raise ApiError(409, str(exc)) from None
        changed(BatchResult(alerts=[change]))
        return load(alert_id)

    @router.post("/api/alerts/{alert_id}/acknowledge", responses=error_responses(404, 409, 422))
    def acknowledge(
        alert_id: AlertId, request: Request, body: Annotated[AlertAction | None, Body()] = None
    ) -> AlertRow:
        """The logged-in operator takes the alert, with an optional `note`; 409 if it is
        already resolved."""
        return transition(alert_id, store.acknowledge_alert, body, request)

    @router.post("/api/alerts/{alert_id}/resolve", responses=error_responses(404, 409, 422))
    def resolve(
        alert_id: AlertId, request: Request, body: Annotated[AlertAction | None, Body()] = None
    ) -> AlertRow:
        """The logged-in operator closes the alert, with an optional `note`; 409 if it is
        already resolved."""
        return transition(alert_id, store.resolve_alert, body, request)

    return router
