"""The workers' public map, `/map`: no login, no worker data, for any phone browser.

The page is a static file; its script reads the public feed (`/feed/nearest` around the
reader's position rounded to about a kilometre, `/feed/stations.geojson` without one) and
the UI's catalogues (`/ui/i18n/...`), and orders the stations on the phone.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse


def public_map_router() -> APIRouter:
    """`/map`, the list of stations nearest the reader with links to their map apps."""
    router = APIRouter(include_in_schema=False)
    page = resources.files("dashboard").joinpath("static/map.html").read_text("utf-8")

    @router.get("/map", response_class=HTMLResponse)
    def public_map() -> HTMLResponse:
        # The same for everyone: a shared cache may keep it a few minutes.
        return HTMLResponse(page, headers={"Cache-Control": "public, max-age=300"})

    return router
