"""The operator UI: its page, script, translations and the map library, all served locally.

Leaflet and its marker-cluster plugin come from the `xstatic-leaflet` packages, so the
map works on a closed network; nothing is loaded from a CDN. The pages themselves are
public (the UI shows only a login form until the API accepts a session); the data they
show comes from the API, which enforces the roles.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import xstatic.pkg.leaflet  # type: ignore[import-untyped]
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.routing import Mount

from dashboard.core.tile_presets import BaseMap
from dashboard.web.errors import ApiError

LANGUAGES = ("en", "zh-CN")
STATIC = Path(str(resources.files("dashboard").joinpath("static")))


def catalogue(language: str) -> dict[str, str]:
    """The UI's words in `language` (one of `LANGUAGES`), key → text."""
    text = resources.files("dashboard").joinpath(f"i18n/{language}.json").read_text("utf-8")
    words: dict[str, str] = json.loads(text)
    return words


def ui_mounts() -> list[Mount]:
    """The UI's script and styles, the other pages' (`/`, the pass page, `/docs`), and
    the map library's files."""
    return [
        Mount("/static/app", StaticFiles(directory=STATIC / "app"), name="app"),
        Mount("/static/pages", StaticFiles(directory=STATIC / "pages"), name="pages"),
        Mount(
            "/static/leaflet", StaticFiles(directory=xstatic.pkg.leaflet.BASE_DIR), name="leaflet"
        ),
    ]


def ui_router(base: BaseMap | None = None) -> APIRouter:
    """`/` (a plain station list), `/ui/` (the single-page UI), its translations and config
    (the base map's layers and datum), and the favicon (an SVG; browsers ask for
    `/favicon.ico` whatever the type)."""
    router = APIRouter(include_in_schema=False)
    index = (STATIC / "index.html").read_text("utf-8")
    page = (STATIC / "app" / "index.html").read_text("utf-8")
    icon = (STATIC / "favicon.svg").read_bytes()
    catalogues = {language: catalogue(language) for language in LANGUAGES}
    base = base or BaseMap("none")
    layers = base.layers
    config = {
        "tile_url": base.tile_url,
        "tile_attribution": layers[0].attribution if layers else "",
        "tiles": base.browser_config(),
    }

    @router.get("/", response_class=HTMLResponse)
    def root() -> str:
        return index

    @router.get("/favicon.ico")
    def favicon() -> Response:
        return Response(
            icon,
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @router.get("/ui")
    def ui_root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @router.get("/ui/", response_class=HTMLResponse)
    def ui_page() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    @router.get("/ui/config.json")
    def ui_config() -> JSONResponse:
        return JSONResponse(config)

    @router.get("/ui/i18n/{language}.json")
    def ui_catalogue(language: str) -> JSONResponse:
        if language not in catalogues:
            raise ApiError(404, f"no language {language!r}; one of {', '.join(LANGUAGES)}")
        return JSONResponse(catalogues[language])

    return router
