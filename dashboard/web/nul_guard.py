"""Refuse text with a NUL character anywhere in a request, before any route reads it.

No real input holds one, and PostgreSQL cannot store one (it would answer every such
request with a server error, and SQLite would keep what PostgreSQL refuses). So the
path, the query and the body (raw, or as the JSON escape `\\u0000`) are checked once,
here, and the request is answered 422 with the project's error body.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard.web.errors import ApiError

_QUERY_NUL = re.compile(rb"%00|\x00")
_BODY_NUL = re.compile(rb"\x00|(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
"""A raw NUL, or a JSON `\\u0000` whose backslash is not itself escaped."""


def _where(scope: Scope, body: bytes) -> str | None:
    if "\x00" in scope["path"]:
        return "path"
    if _QUERY_NUL.search(scope.get("query_string", b"")):
        return "query"
    if _BODY_NUL.search(body):
        return "body"
    return None


class NulGuard:
    """ASGI middleware: 422 for a request whose path, query or body holds a NUL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The whole body is read first (routes read it whole anyway) and handed on as it came.
        received: list[Message] = []
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        where = _where(scope, b"".join(m.get("body", b"") for m in received))

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        if where is None:
            await self.app(scope, replay, send)
            return
        problem = "text may not contain NUL characters"
        refusal = ApiError(422, problem, [{"where": where, "problem": problem}]).response()
        await refusal(scope, replay, send)
