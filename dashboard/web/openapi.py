"""The OpenAPI document, made to say what the application really does.

FastAPI's generated document is corrected from the code that decides each behaviour:

- every operation behind a login gets the bearer and session-cookie security schemes and
  its 401 (and 403 when a role or a CSRF token can refuse it), from the same
  `required_role` the auth middleware enforces;
- every 422 is the project's `ErrorBody` rather than FastAPI's `HTTPValidationError`
  shape it never sends, and every operation has one, since `NulGuard` refuses text with
  a NUL character anywhere (free input text says so with the `NO_NUL` pattern); a JSON
  body that is not even text is FastAPI's 400;
- routes that read their own body (for their own error messages, or a file) show it;
- every operation with a body can answer 413: `BodyLimit` refuses a body over its limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Body, FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from dashboard.storage.operators import Role
from dashboard.web.auth import CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE, required_role
from dashboard.web.errors import ERROR_MEANINGS, ErrorBody

COMPONENTS = "#/components/schemas/"
BODY_KEY = "x-body-read-by-route"
"""Where `json_body` and `raw_body` leave a route's own body (and the schemas it refers
to) until `truthful` puts it in the operation, in place of what FastAPI made of it."""

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from `POST /api/session/token`.",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "The cookie `POST /api/session` sets.",
    },
    "csrf": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
        "description": "With the session cookie, every state change echoes the `yz_csrf` "
        "cookie (also `csrf` in `GET /api/session`) in this header.",
    },
}
assert SECURITY_SCHEMES["csrf"]["name"].lower() == CSRF_HEADER


SelfParsedBody = Annotated[Any, Body(include_in_schema=False)]
"""A JSON body a route validates itself (`validate_body`); `json_body(model)` shows the
document its model."""

Model = TypeVar("Model", bound=BaseModel)


def validate_body(model: type[Model], data: object, context: dict[str, Any] | None = None) -> Model:
    """`data` (decoded JSON) as `model`, read as strictly as JSON is typed: `0` is not
    `false` and `"12"` is not `12`. `ValidationError` names each problem."""
    return model.model_validate_json(json.dumps(data), strict=True, context=context)


def json_body(
    model: type[BaseModel], *, optional: tuple[str, ...] = (), name: str | None = None
) -> dict[str, Any]:
    """`openapi_extra` of a route that parses its JSON body itself: the body is `model`,
    except that the route fills in the fields named `optional` when they are left out
    (shown as the component `name`)."""
    schema = model.model_json_schema(ref_template=COMPONENTS + "{model}")
    defs = schema.pop("$defs", {})
    schema["required"] = [field for field in schema.get("required", []) if field not in optional]
    name = name or model.__name__
    body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": COMPONENTS + name}}},
    }
    # FastAPI still reads the JSON (its 400 stands): only the schema is the route's.
    return {BODY_KEY: {"body": body, "schemas": {**defs, name: schema}, "fastapi_reads": True}}


def raw_body(description: str, content: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` of a route that reads the request's bytes itself (a file upload):
    its body as `content` (media type → schema) says."""
    body = {"required": True, "description": description, "content": content}
    return {BODY_KEY: {"body": body, "schemas": {}, "fastapi_reads": False}}


NO_NUL = "^[^\\u0000]*$"
"""The pattern of input text with no rule of its own: anything but NUL (`NulGuard`)."""


def _refuse_nul(schema: object, schemas: dict[str, Any], seen: set[str]) -> None:
    """Give every free text of an input schema (and of the components it refers to) the
    `NO_NUL` pattern."""
    if isinstance(schema, list):
        for item in schema:
            _refuse_nul(item, schemas, seen)
        return
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(COMPONENTS):
        name = ref.removeprefix(COMPONENTS)
        if name not in seen:
            seen.add(name)
            _refuse_nul(schemas.get(name), schemas, seen)
    if schema.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(schema):
        schema["pattern"] = NO_NUL
    for value in schema.values():
        _refuse_nul(value, schemas, seen)


def _error(status: int) -> dict[str, Any]:
    return {
        "description": ERROR_MEANINGS[status],
        "content": {"application/json": {"schema": {"$ref": COMPONENTS + "ErrorBody"}}},
    }


def _secure(method: str, path: str, operation: dict[str, Any]) -> None:
    needed = required_role(method, path)
    if needed is None:
        return
    cookie: dict[str, list[str]] = {"session": []}
    if method not in SAFE_METHODS:
        cookie["csrf"] = []
    operation["security"] = [{"bearer": []}, cookie]
    responses = operation.setdefault("responses", {})
    responses.setdefault("401", _error(401))
    if needed > Role.VIEWER or method not in SAFE_METHODS:
        responses.setdefault("403", _error(403))


def truthful(document: dict[str, Any]) -> dict[str, Any]:
    """The document with security, error bodies and self-parsed bodies corrected."""
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorBody.model_json_schema(ref_template=COMPONENTS + "{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorBody"] = error_schema
    seen: set[str] = set()
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            own = operation.pop(BODY_KEY, None)
            if own is not None:
                operation["requestBody"] = own["body"]
                for name, schema in own["schemas"].items():
                    # Models a route shares with another are the same: the first is kept.
                    schemas.setdefault(name, schema)
            _secure(method.upper(), path, operation)
            responses = operation.setdefault("responses", {})
            # Every operation can refuse its input: `NulGuard` stands before them all.
            responses["422"] = _error(422)
            inputs = [p.get("schema") for p in operation.get("parameters", [])]
            inputs += [
                c.get("schema")
                for c in operation.get("requestBody", {}).get("content", {}).values()
            ]
            _refuse_nul(inputs, schemas, seen)
            if "requestBody" in operation:
                # `BodyLimit` stands before every route that reads a body.
                responses.setdefault("413", _error(413))
            reads_json = "application/json" in operation.get("requestBody", {}).get("content", {})
            if reads_json and (own is None or own["fastapi_reads"]):
                # FastAPI reads the JSON body before the route does.
                responses.setdefault("400", _error(400))
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    document["components"]["securitySchemes"] = SECURITY_SCHEMES
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve the truthful document at `/openapi.json` (built once, on first request)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = truthful(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    replace: Callable[[], dict[str, Any]] = build
    app.openapi = replace  # type: ignore[method-assign]
