"""`/api/session`: logging in (a cookie session for the UI, a bearer token for machines),
who is logged in, and logging out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from dashboard.storage.operators import OperatorStore, Session
from dashboard.web.auth import CSRF_COOKIE, SESSION_COOKIE, current
from dashboard.web.errors import ApiError, error_responses

WRONG_LOGIN = error_responses(401, 422)
WRONG_LOGIN[401]["description"] = "Wrong name or password, or the operator is disabled."


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


def sessions_router(operators: OperatorStore, secure_cookies: bool = False) -> APIRouter:
    """Login, who am I and logout over the operator store."""
    router = APIRouter(tags=["operators"])

    def login(data: Login) -> tuple[str, Session]:
        found = operators.login(data.name, data.password)
        if found is None:
            raise ApiError(401, "wrong name or password")
        return found

    @router.post("/api/session", responses=WRONG_LOGIN)
    def create_session(data: Login, response: Response) -> Me:
        """Log in from the UI: sets the session and CSRF cookies."""
        token, session = login(data)
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
    def create_token(data: Login) -> BearerToken:
        """Log in as a machine: a bearer token, no cookies."""
        token, session = login(data)
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
