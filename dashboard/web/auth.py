"""Who may call what: the role each route needs, session cookies, CSRF, bearer tokens, audit.

One ASGI middleware guards the whole app, so a route added later cannot forget its
check: public paths (the worker pass page and its API, the door sticker page, the
public feed, health, metrics, the UI's static files, the favicon, the workers' public
map and the login itself) pass; every other read needs at least `viewer` (a browser
asking for a page without a session is sent to the login, `/ui/`; API calls get 401
JSON); every state-changing method needs `operator`, and the management of stations,
keys and operators needs `admin`.

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
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from dashboard.storage.operators import OperatorStore, Role, Session
from dashboard.web.body_limit import BodyTooLargeError
from dashboard.web.errors import ApiError

LOGIN_PAGE = "/ui/"
"""Where a browser without a session is sent: the UI shows its login form there."""
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
    # Workers' reports from the public map and the pass page, and what stations changed.
    "/api/public/",
    # A door sticker's page and its tap: the worker's pass session is the credential.
    "/door/",
    "/static/",
    "/ui/",
    # The base map's tiles: imagery, nothing about stations or people.
    "/tiles/",
)
PUBLIC_EXACT = frozenset(
    {
        "/",
        "/favicon.ico",
        # The workers' public map: stations only, like the feed it reads.
        "/map",
        # The UI's address: it sends a browser on to the page, which shows the login.
        "/ui",
        "/healthz",
        "/metrics",
        "/docs",
        "/openapi.json",
        "/api/session",
        "/api/session/token",
        # A gateway enrolling: its one-time code is the credential.
        "/api/enroll",
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
    re.compile(r"^/api/stations/[^/]+/gateways(/[^/]+)?$"),
    re.compile(r"^/api/stations/[^/]+/policy$"),
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


def _browser_page(method: str, path: str, scope: Scope) -> bool:
    """A browser asking for a page (not a script asking the API): it accepts HTML."""
    if method not in ("GET", "HEAD") or path.startswith("/api/"):
        return False
    return "text/html" in (_header(scope, b"accept") or "")


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
            if _browser_page(method, path, scope):
                # Someone typed an address: show them the login, not a JSON error.
                await RedirectResponse(LOGIN_PAGE, status_code=303)(scope, receive, send)
                return
            await self._deny(
                scope, receive, send, 401, "log in first (session cookie or bearer token)"
            )
            return
        if session.role < needed:
            await self._deny(
                scope,
                receive,
                send,
                403,
                f"needs role {needed.label}, you are {session.role.label}",
            )
            return
        if method in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        if via_cookie:
            sent = _header(scope, CSRF_HEADER.encode()) or ""
            if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
                await self._deny(scope, receive, send, 403, "missing or wrong X-CSRF-Token header")
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
        except BodyTooLargeError:
            code = 413  # answered by `BodyLimit`, outside this middleware
            raise
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
    async def _deny(scope: Scope, receive: Receive, send: Send, status: int, text: str) -> None:
        await ApiError(status, text).response()(scope, receive, send)


def current(request: Request) -> Session:
    """The session of a request that the middleware let through (never public ones)."""
    session: Session | None = getattr(request.state, "operator", None)
    if session is None:
        raise ApiError(401, "log in first")
    return session
