"""`/api/quarantine`: the messages ingest refused, and why."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from dashboard.storage.store import QuarantineRow, Store
from dashboard.web.errors import error_responses


def quarantine_router(store: Store) -> APIRouter:
    """Quarantined messages over the store."""
    router = APIRouter(tags=["operations"])

    @router.get("/api/quarantine", responses=error_responses(422))
    def quarantine(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        code: str | None = None,
    ) -> list[QuarantineRow]:
        """Messages that failed validation, newest first, with the reason and the start of
        the payload as text."""
        return store.quarantine(limit, code)

    return router
