"""Who may call what: the role each route needs, session cookies, CSRF, bearer tokens, audit.

One ASGI middleware guards the whole app, so a route added later cannot forget its
check: public paths (the worker pass page and its API, the public feed, health,
metrics, the UI's static files and the login itself) pass; every other read needs at
least `viewer`; every state-changing method needs `operator`, and the management of
stations, keys and operators needs `admin`.

Two ways to authenticate:

- the UI logs in with `POST /api/session` and gets an HttpOnly, SameSite=Strict session
  cookie (Secure when configured) plus a readable `yz_csrf` cookie; a state-changing
  request with the session cookie must echo that value in `X-CSRF-Token`;
- machines log in with `POST /api/session/token` and send `Authorization: Bearer ...`;
  no CSRF check applies, since a browser never adds that header on its own.

Every state-changing request that reaches a route is written to the audit log with the
operator's name and the response status.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from dashboard.storage.operators import OperatorStore, Role, Session
from dashboard.web.errors import ApiError

SESSION_COOKIE = "yz_session"
CSRF_COOKIE = "yz_csrf"
CSRF_HEADER = "x-csrf-token"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC_PREFIXES = (
    "/feed/",
    "/pass/",
    "/api/pass/",
    "/static/",
    "/ui/",
)
PUBLIC_EXACT = frozenset(
    {
        "/",
        "/healthz",
        "/metrics",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/openapi.json",
        "/api/session",
        "/api/session/token",
        "/api/i18n",
    }
)
NO_SESSION = frozenset({"/healthz", "/metrics"})
"""Public paths that must answer while the database is down: no session is looked up."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ADMIN_WRITES = (
    re.compile(r"^/api/operators(/.*)?$"),
    re.compile(r"^/api/keys(/.*)?$"),
    re.compile(r"^/api/stations(/import)?$"),
    re.compile(r"^/api/stations/[^/]+$"),
)
ADMIN_READS = (re.compile(r"^/api/operators(/.*)?$"), re.compile(r"^/api/audit$"))


def required_role(method: str, path: str) -> Role | None:
    """The least role a request needs; None if it is public."""
    if path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES):
        # Logging out is a state change of one's own session: it needs that session.
        if path == "/api/session" and method == "DELETE":
            return Role.VIEWER
        if path == "/api/session" and method == "GET":
            return Role.VIEWER
        return None
    if method in SAFE_METHODS:
        if any(p.match(path) for p in ADMIN_READS):
            return Role.ADMIN
        return Role.VIEWER
    if any(p.match(path) for p in ADMIN_WRITES):
        return Role.ADMIN
    return Role.OPERATOR


def _problem(status: int, message: str) -> bytes:
    return json.dumps({"detail": message}).encode()


def _cookies(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                name, _, rest = part.strip().partition("=")
                if name:
                    found.setdefault(name, rest)
    return found


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class AuthMiddleware:
    """Enforce `required_role` on every HTTP request and audit state changes."""

    def __init__(self, app: Asgi, operators: OperatorStore) -> None:
        self.app = app
        self.operators = operators

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        needed = required_role(method, path)
        if path in NO_SESSION:
            await self.app(scope, receive, send)
            return
        session, via_cookie = await self._session(scope)
        scope.setdefault("state", {})["operator"] = session
        if needed is None:
            await self.app(scope, receive, send)
            return
        if session is None:
            await self._deny(send, 401, "log in first (session cookie or bearer token)")
            return
        if session.role < needed:
            await self._deny(send, 403, f"needs role {needed.label}, you are {session.role.label}")
            return
        if method in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        if via_cookie:
            sent = _header(scope, CSRF_HEADER.encode()) or ""
            if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
                await self._deny(send, 403, "missing or wrong X-CSRF-Token header")
                return
        code = 500
        audited = False

        async def audit() -> None:
            nonlocal audited
            audited = True
            # A route may add what the path does not say (an alert note) as the detail.
            detail = str(scope["state"].get("audit_detail", ""))[:600]
            await run_in_threadpool(self.operators.audit, session.name, method, path, code, detail)

        async def capture(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Written before the answer's last byte leaves: a client that has its
                # answer finds the action in the audit log.
                await audit()
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            if not audited:
                await audit()

    async def _session(self, scope: Scope) -> tuple[Session | None, bool]:
        bearer = _header(scope, b"authorization")
        if bearer and bearer.lower().startswith("bearer "):
            token = bearer[7:].strip()
            return await run_in_threadpool(self.operators.session, token), False
        cookie = _cookies(scope).get(SESSION_COOKIE)
        if cookie:
            return await run_in_threadpool(self.operators.session, cookie), True
        return None, False

    @staticmethod
    async def _deny(send: Send, status: int, message: str) -> None:
        body = _problem(status, message)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class Login(BaseModel):
    """A name and password."""

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class Me(BaseModel):
    """The logged-in operator."""

    name: str
    role: str
    csrf: str


class BearerToken(BaseModel):
    """A session token for machines, sent as `Authorization: Bearer <token>`."""

    token: str
    name: str
    role: str


class NewOperator(BaseModel):
    """An operator to create."""

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=200)
    role: str = Field(pattern="^(viewer|operator|admin)$")


class OperatorChange(BaseModel):
    """What to change about an operator."""

    role: str | None = Field(default=None, pattern="^(viewer|operator|admin)$")
    password: str | None = Field(default=None, min_length=8, max_length=200)
    disabled: bool | None = None


def current(request: Request) -> Session:
    """The session of a request that the middleware let through (never public ones)."""
    session: Session | None = getattr(request.state, "operator", None)
    if session is None:
        raise ApiError(401, "log in first")
    return session


def auth_router(operators: OperatorStore, secure_cookies: bool = False) -> APIRouter:
    """Login, logout, who am I, operators (admin) and the audit log (admin)."""
    router = APIRouter(tags=["operators"])

    def login(data: Login) -> tuple[str, Session]:
        found = operators.login(data.name, data.password)
        if found is None:
            raise ApiError(401, "wrong name or password")
        return found

    @router.post("/api/session")
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
        return Me(name=session.name, role=session.role.label, csrf=session.csrf)

    @router.post("/api/session/token")
    def create_token(data: Login) -> BearerToken:
        """Log in as a machine: a bearer token, no cookies."""
        token, session = login(data)
        operators.audit(session.name, "POST", "/api/session/token", 200, "token")
        return BearerToken(token=token, name=session.name, role=session.role.label)

    @router.get("/api/session")
    def me(request: Request) -> Me:
        """Who is logged in, their role and the session's CSRF token."""
        session = current(request)
        return Me(name=session.name, role=session.role.label, csrf=session.csrf)

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

    @router.get("/api/operators")
    def list_operators() -> list[dict[str, Any]]:
        """Every operator (admin)."""
        return [asdict(o) for o in operators.all()]

    @router.post("/api/operators", status_code=201)
    def add_operator(data: NewOperator) -> dict[str, Any]:
        """Create an operator (admin)."""
        try:
            return asdict(operators.add(data.name, data.password, Role.parse(data.role)))
        except ValueError as exc:
            raise ApiError(409, str(exc)) from None

    @router.patch("/api/operators/{name}")
    def change_operator(name: str, data: OperatorChange) -> dict[str, Any]:
        """Change an operator's role, password or disabled flag (admin)."""
        try:
            return asdict(
                operators.update(
                    name,
                    role=None if data.role is None else Role.parse(data.role),
                    password=data.password,
                    disabled=data.disabled,
                )
            )
        except LookupError:
            raise ApiError(404, f"no operator {name!r}") from None

    @router.delete("/api/operators/{name}", status_code=204)
    def remove_operator(name: str, request: Request) -> Response:
        """Delete an operator (admin); not oneself, so that an admin always remains."""
        if name == current(request).name:
            raise ApiError(409, "you cannot delete yourself")
        try:
            operators.remove(name)
        except LookupError:
            raise ApiError(404, f"no operator {name!r}") from None
        return Response(status_code=204)

    @router.get("/api/audit")
    def audit(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> JSONResponse:
        """State-changing actions, newest first (admin)."""
        return JSONResponse([asdict(row) for row in operators.audit_log(limit)])

    return router
