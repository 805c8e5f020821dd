"""Errors as JSON: `{"detail": "...", "errors": [...]}` with the status code that fits.

`ApiError` is raised by routes; the handlers installed here also turn FastAPI's request
validation failures, unknown routes and anything unexpected into the same shape, so a
client never has to parse HTML or a bare stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered as JSON."""

    def __init__(self, status: int, detail: str, errors: Sequence[dict[str, Any]] = ()) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors)

    def response(self) -> JSONResponse:
        """The JSON answer."""
        body: dict[str, Any] = {"detail": self.detail}
        if self.errors:
            body["errors"] = self.errors
        return JSONResponse(body, status_code=self.status)


def validation_problems(exc: ValidationError | RequestValidationError) -> list[dict[str, Any]]:
    """Each problem of a failed validation as `{"where": ..., "problem": ...}`."""
    return [
        {
            "where": ".".join(str(part) for part in error.get("loc", ())) or None,
            "problem": str(error.get("msg", "invalid")).removeprefix("Value error, "),
        }
        for error in exc.errors()
    ]


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
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error answering %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
