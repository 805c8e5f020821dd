"""`/api/keys` (admin): the keys that sign workers' passes, and adding one."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter

from contract.payloads import utc_now
from dashboard.services.credentials import Credentials
from dashboard.services.signing_keys import KeyInfo, KeyLimitError
from dashboard.web.errors import ApiError, error_responses


@dataclass(frozen=True, slots=True)
class KeyAdded:
    """The id of the key just added, and every key now."""

    key_id: int
    keys: list[KeyInfo]


def keys_router(credentials: Credentials) -> APIRouter:
    """Signing keys over the central's credentials."""
    router = APIRouter(tags=["keys"])

    @router.get("/api/keys")
    def list_keys() -> list[KeyInfo]:
        """Signing keys (public halves), which one signs now and when each retires."""
        return credentials.keys.keys(utc_now())

    @router.post("/api/keys/rotate", status_code=201, responses=error_responses(409))
    def rotate_keys() -> KeyAdded:
        """Add a signing key; see docs/credentials.md for the schedule. 409 while as many
        keys are still trusted as one published list holds (16)."""
        try:
            key_id = credentials.rotate_keys()
        except KeyLimitError as exc:
            raise ApiError(409, str(exc)) from None
        return KeyAdded(key_id, credentials.keys.keys(utc_now()))

    return router
