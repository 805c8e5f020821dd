"""Refuse a request body larger than its route accepts, before anything reads it.

Every other part of the application reads a body whole (`NulGuard`, the routes), so a
client could otherwise make the central hold any amount of memory, even on routes that
need no login. This middleware stands outside all of them, authentication included:

- a `Content-Length` over the limit is answered 413 at once, without reading a byte;
- a body without one (`Transfer-Encoding: chunked`) is counted as it arrives and answered
  413 as soon as the count passes the limit; what is left of it is never read, and the
  server closes the connection after the answer.

The limit is the route's own where it has one (the login, the imports) and the general
JSON limit everywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard.web.errors import ApiError

LOGIN_BODY_BYTES = 64 * 1024
"""A name and a password: far more than either may be, far less than would cost anything."""

LOGIN_PATHS = ("/api/session", "/api/session/token")


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """The most bytes of body each path accepts: `by_path` for routes with a limit of
    their own, `default` for every other."""

    default: int
    by_path: Mapping[str, int] = field(default_factory=dict)

    def of(self, path: str) -> int:
        """The limit of a request to `path`."""
        return self.by_path.get(path, self.default)


class BodyTooLargeError(Exception):
    """The body being received has passed its limit: raised out of `receive` to the
    parts reading it, and answered 413 here."""


def _declared_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            # The server has checked it is a number already (h11 refuses anything else).
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


class BodyLimit:
    """ASGI middleware: 413 for a body over its path's limit, read no further than that."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.of(scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLargeError:
            if started:
                # The route answered before reading all of its body and then read on:
                # the answer is out, and the connection ends with the exception.
                raise
            await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        error = ApiError(413, f"request body larger than {limit} bytes, this route's limit")
        response = error.response()
        # The rest of the body stays unread: the connection cannot carry another request.
        response.headers["Connection"] = "close"
        await response(scope, receive, send)
