"""The operator UI: its page, script, translations and the map library, all served locally.

Leaflet and its marker-cluster plugin come from the `xstatic-leaflet` packages, so the
map works on a closed network; nothing is loaded from a CDN. The page itself is public
(it only shows a login form until the API accepts a session); the data it shows comes
from the API, which enforces the roles.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import xstatic.pkg.leaflet  # type: ignore[import-untyped]
import xstatic.pkg.leaflet_markercluster  # type: ignore[import-untyped]
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from dashboard.web.errors import ApiError

LANGUAGES = ("en", "zh-CN")


def _catalogue(language: str) -> dict[str, str]:
    text = resources.files("dashboard").joinpath(f"i18n/{language}.json").read_text("utf-8")
    catalogue: dict[str, str] = json.loads(text)
    return catalogue


def install_ui(app: FastAPI, tile_url: str = "", tile_attribution: str = "") -> None:
    """Serve `/ui/` (the single-page UI), its static files, translations and config."""
    static = Path(str(resources.files("dashboard").joinpath("static/app")))
    app.mount("/static/app", StaticFiles(directory=static), name="app")
    app.mount(
        "/static/leaflet",
        StaticFiles(directory=xstatic.pkg.leaflet.BASE_DIR),
        name="leaflet",
    )
    app.mount(
        "/static/markercluster",
        StaticFiles(directory=xstatic.pkg.leaflet_markercluster.BASE_DIR),
        name="markercluster",
    )
    page = (static / "index.html").read_text("utf-8")
    catalogues = {language: _catalogue(language) for language in LANGUAGES}
    config = {"tile_url": tile_url, "tile_attribution": tile_attribution}

    @app.get("/ui", include_in_schema=False)
    def ui_root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @app.get("/ui/", response_class=HTMLResponse, include_in_schema=False)
    def ui_page() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    @app.get("/ui/config.json", include_in_schema=False)
    def ui_config() -> JSONResponse:
        return JSONResponse(config)

    @app.get("/ui/i18n/{language}.json", include_in_schema=False)
    def ui_catalogue(language: str) -> JSONResponse:
        if language not in catalogues:
            raise ApiError(404, f"no language {language!r}; one of {', '.join(LANGUAGES)}")
        return JSONResponse(catalogues[language])
