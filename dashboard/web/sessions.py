"""`/api/session`: logging in (a cookie session for the UI, a bearer token for machines),
who is logged in, and logging out.

Failed logins are counted per account name and per client address
(`dashboard.core.login_throttle`): past a few, the account or address is locked and
answered 429 with `Retry-After`, the password unchecked. Each failure is written to the
audit log with the name tried, the address and the reason; a lock's refusals, once."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from dashboard.core.login_throttle import LoginThrottle
from dashboard.storage.operators import OperatorStore, Session
from dashboard.web.auth import CSRF_COOKIE, SESSION_COOKIE, current
from dashboard.web.errors import ApiError, error_responses

WRONG_LOGIN = error_responses(401, 422, 429)
WRONG_LOGIN[401]["description"] = "Wrong name or password, or the operator is disabled."
WRONG_LOGIN[429]["headers"] = {
    "Retry-After": {
        "description": "Seconds until a login may be tried.",
        "schema": {"type": "integer"},
    }
}


class Login(BaseModel):
    """A name and password."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class Me(BaseModel):
    """The logged-in operator, and the token to echo in `X-CSRF-Token`."""

    name: str
    role: str
    csrf: str


class BearerToken(BaseModel):
    """A session token for machines, sent as `Authorization: Bearer <token>`."""

    token: str
    name: str
    role: str


def me_of(session: Session) -> Me:
    """What `GET /api/session` says about a session."""
    return Me(name=session.name, role=session.role.label, csrf=session.csrf)


def client_address(request: Request) -> str:
    """Where a request came from (as uvicorn has it: the proxy's `X-Forwarded-For` when
    the proxy is trusted)."""
    return request.client.host if request.client is not None else "unknown"


def sessions_router(
    operators: OperatorStore,
    secure_cookies: bool = False,
    throttle: LoginThrottle | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> APIRouter:
    """Login, who am I and logout over the operator store; failed logins are counted by
    `throttle` and audited."""
    router = APIRouter(tags=["operators"])
    throttle = throttle or LoginThrottle()

    def login(data: Login, request: Request) -> tuple[str, Session]:
        address = client_address(request)
        path = request.url.path
        refused = throttle.refusal(data.name, address, clock())
        if refused is not None:
            wait = max(math.ceil(refused.retry_after_s), 1)
            if refused.first:
                # One row per lock, not one per refused attempt: a guessing run against a
                # locked account writes nothing more.
                operators.audit(
                    data.name,
                    "POST",
                    path,
                    429,
                    f"login refused from {address}: {refused.by} locked for {wait} s more",
                )
            raise ApiError(
                429,
                f"too many failed logins; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        found = operators.login(data.name, data.password)
        if found is None:
            locked = throttle.failed(data.name, address, clock())
            reason = "wrong name or password, or the operator is disabled"
            if locked:
                reason += f"; locked for {math.ceil(locked)} s"
            operators.audit(data.name, "POST", path, 401, f"login failed from {address}: {reason}")
            raise ApiError(401, "wrong name or password")
        throttle.succeeded(data.name)
        return found

    @router.post("/api/session", responses=WRONG_LOGIN)
    def create_session(data: Login, request: Request, response: Response) -> Me:
        """Log in from the UI: sets the session and CSRF cookies. After repeated failures
        the account or address is locked (429 with `Retry-After`)."""
        token, session = login(data, request)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=secure_cookies,
            path="/",
        )
        # Readable by the page's script, which echoes it in X-CSRF-Token.
        response.set_cookie(
            CSRF_COOKIE,
            session.csrf,
            httponly=False,
            samesite="strict",
            secure=secure_cookies,
            path="/",
        )
        operators.audit(session.name, "POST", "/api/session", 200, "login")
        return me_of(session)

    @router.post("/api/session/token", responses=WRONG_LOGIN)
    def create_token(data: Login, request: Request) -> BearerToken:
        """Log in as a machine: a bearer token, no cookies; locked as the UI's login is."""
        token, session = login(data, request)
        operators.audit(session.name, "POST", "/api/session/token", 200, "token")
        return BearerToken(token=token, name=session.name, role=session.role.label)

    @router.get("/api/session")
    def me(request: Request) -> Me:
        """Who is logged in, their role and the session's CSRF token."""
        return me_of(current(request))

    @router.delete("/api/session", status_code=204)
    def logout(request: Request) -> Response:
        """Log out: the session ends on the server and the cookies are cleared."""
        token = request.cookies.get(SESSION_COOKIE) or ""
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        operators.logout(token)
        response = Response(status_code=204)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response

    return router
