"""Errors as JSON: `{"detail": "...", "errors": [...]}` with the status code that fits.

`ApiError` is raised by routes; the handlers installed here also turn FastAPI's request
validation failures, unknown routes, wrong methods and anything unexpected into the same
shape, so a client never has to parse HTML or a bare stack trace. `ErrorBody` is that
shape as the OpenAPI document shows it, and `error_responses` declares a route's errors.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

log = logging.getLogger(__name__)


class Problem(BaseModel):
    """One thing wrong with a request: `problem` says what, and `where` (a JSON body or
    a parameter) or `row` and `field`/`column` (an imported file) say where."""

    model_config = ConfigDict(extra="allow")

    problem: str


class ErrorBody(BaseModel):
    """Every error answer: what went wrong and, for invalid input, each problem."""

    detail: str
    errors: list[Problem] = []


ERROR_MEANINGS = {
    400: "The body could not be read as JSON text (it is not UTF-8).",
    401: "Not logged in: no session cookie or bearer token, or it has ended.",
    403: "Logged in without the role this needs, or a cookie session without X-CSRF-Token.",
    404: "Nothing with that id.",
    409: "Conflicts with what is stored.",
    410: "It was valid once and has expired.",
    413: "The body is larger than this route accepts.",
    415: "The body's Content-Type is not one this route reads.",
    422: "Invalid input, every problem listed (text with a NUL character is refused anywhere).",
    429: "Too many failed logins for this account or from this address: locked for the "
    "seconds `Retry-After` says; the password is not checked meanwhile.",
    503: "A part this needs (the broker, or the feature's configuration) is not available.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a route that answers these error statuses, with their meaning."""
    return {
        status: {"model": ErrorBody, "description": ERROR_MEANINGS[status]} for status in statuses
    }


class ApiError(Exception):
    """An error answered as JSON."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: Sequence[dict[str, Any]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        """The JSON answer."""
        body: dict[str, Any] = {"detail": self.detail}
        if self.errors:
            body["errors"] = self.errors
        return JSONResponse(body, status_code=self.status, headers=self.headers or None)


def validation_problems(exc: ValidationError | RequestValidationError) -> list[dict[str, Any]]:
    """Each problem of a failed validation as `{"where": ..., "problem": ...}`."""
    return [
        {
            "where": ".".join(str(part) for part in error.get("loc", ())) or None,
            "problem": str(error.get("msg", "invalid")).removeprefix("Value error, "),
        }
        for error in exc.errors()
    ]


def allowed_methods(app: FastAPI, path: str) -> set[str]:
    """Every method the document lists for the resource at `path`: the route template
    that matches it with the fewest parameters (`/api/stations/compact` is not
    `/api/stations/{station_id}`)."""
    matching = [
        (template.count("{"), operations)
        for template, operations in app.openapi().get("paths", {}).items()
        if compile_path(template)[0].match(path)
    ]
    fewest = min((params for params, _ in matching), default=0)
    found = {
        method.upper()
        for params, operations in matching
        if params == fewest
        for method in operations
    }
    if "GET" in found:
        found.add("HEAD")
    return found


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error as JSON (call once on the application)."""

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return exc.response()

    async def invalid_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return ApiError(422, "invalid request", validation_problems(exc)).response()

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names the methods of the first route that matched the path only,
            # though the path may have a route for each method; the pages that are not in
            # the document have one route each.
            documented = allowed_methods(app, request.url.path)
            if documented:
                headers["Allow"] = ", ".join(sorted(documented))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error answering %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
