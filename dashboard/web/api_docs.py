"""`/docs`: Swagger UI over `/openapi.json`, every file served by the central itself.

FastAPI's own page loads Swagger UI from a CDN and starts it with an inline script, which
neither a closed network nor the pages' Content Security Policy allows. The
`fastapi-offline` package ships Swagger UI's files (a 5.x release, which reads OpenAPI
3.1 documents); they are served under `/static/swagger-ui/`, and the page starts it from
`/static/pages/api-docs.js`. `/redoc` is not served: ReDoc writes its styles inline,
which the policy refuses.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.routing import Mount

SWAGGER_UI = Path(fastapi_offline.__file__).parent / "static"
"""`swagger-ui-bundle.js` and `swagger-ui.css` as the package ships them."""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>yizhan central · API</title>
<link rel="stylesheet" href="/static/swagger-ui/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/static/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/pages/api-docs.js"></script>
</body>
</html>
"""


def api_docs_mount() -> Mount:
    """Swagger UI's files, from the `fastapi-offline` package."""
    return Mount(
        "/static/swagger-ui",
        StaticFiles(directory=SWAGGER_UI),
        name="swagger-ui",
    )


def api_docs_router() -> APIRouter:
    """The `/docs` page."""
    router = APIRouter(include_in_schema=False)

    @router.get("/docs", response_class=HTMLResponse)
    def docs() -> HTMLResponse:
        return HTMLResponse(PAGE)

    return router
